"""The pages every digest has, whatever plugins are enabled: home (paginated), one page per
paper, date archives, about, search and 404."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator

from digest.model import Paper
from digest.pages import Page, paginate
from digest.site import Site


def core_pages(site: Site) -> Iterator[Page]:
    """Every core page of the site, in no particular order."""
    yield from home_pages(site)
    yield from paper_pages(site)
    yield from archive_pages(site)
    yield from about_page(site)
    yield Page("search/", "search.html", "Search", nav="Search", nav_weight=90, in_sitemap=False)
    yield Page("404.html", "404.html", "Page not found", in_sitemap=False)


def home_pages(site: Site) -> Iterator[Page]:
    """The digest itself: every paper in the site's order (plugins may rank it), paginated."""
    intro = site.config.intro.read_text(encoding="utf-8") if site.config.intro else ""
    for url, papers, number, total in paginate(site.papers, "", site.config.page_size):
        yield Page(
            url,
            "home.html",
            site.config.title if number == 1 else f"{site.config.title} (page {number})",
            {"papers": papers, "pagination": _pagination(url, number, total), "intro": intro},
            nav="Home" if number == 1 else None,
            nav_weight=0,
            description=site.config.description,
        )


def paper_pages(site: Site) -> Iterator[Page]:
    """One page per paper."""
    for paper in site.papers:
        yield Page(
            site.paper_url(paper),
            "paper.html",
            paper.title,
            {"paper": paper},
            description=paper.abstract[:300],
        )


def archive_pages(site: Site) -> Iterator[Page]:
    """Per-day and per-month archives of dated papers, with previous/next links, and an index."""
    by_day: dict[dt.date, list[Paper]] = defaultdict(list)
    for paper in site.papers:
        if paper.date:
            by_day[paper.date].append(paper)
    days = sorted(by_day)
    months = sorted({(d.year, d.month) for d in days})
    for i, day in enumerate(days):
        yield Page(
            f"archive/{day:%Y/%m/%d}/",
            "archive.html",
            f"Papers of {day.day} {day:%B %Y}",
            {
                "papers": by_day[day],
                "period": day.isoformat(),
                "previous": _day_link(days, i - 1),
                "next": _day_link(days, i + 1),
            },
        )
    for i, (year, month) in enumerate(months):
        papers = [p for d in days if (d.year, d.month) == (year, month) for p in by_day[d]]
        yield Page(
            f"archive/{year:04d}/{month:02d}/",
            "archive.html",
            f"Papers of {dt.date(year, month, 1):%B %Y}",
            {
                "papers": papers,
                "period": f"{year:04d}-{month:02d}",
                "previous": _month_link(months, i - 1),
                "next": _month_link(months, i + 1),
            },
        )
    counts = [(y, m, sum(len(by_day[d]) for d in days if (d.year, d.month) == (y, m)))
              for y, m in reversed(months)]
    yield Page("archive/", "archives.html", "Archive", {"months": counts, "undated":
               sum(1 for p in site.papers if not p.date)}, nav="Archive", nav_weight=70)


def _day_link(days: list[dt.date], i: int) -> dict[str, str] | None:
    if 0 <= i < len(days):
        return {"url": f"archive/{days[i]:%Y/%m/%d}/", "label": days[i].isoformat()}
    return None


def _month_link(months: list[tuple[int, int]], i: int) -> dict[str, str] | None:
    if 0 <= i < len(months):
        year, month = months[i]
        return {"url": f"archive/{year:04d}/{month:02d}/", "label": f"{year:04d}-{month:02d}"}
    return None


def about_page(site: Site) -> Iterator[Page]:
    """The about page, from the Markdown file site.toml names (if any)."""
    if site.config.about:
        text = site.config.about.read_text(encoding="utf-8")
        yield Page("about/", "about.html", "About", {"markdown": text}, nav="About", nav_weight=95)


def _pagination(url: str, number: int, total: int) -> dict[str, object]:
    def page_url(n: int) -> str:
        return url if n == 1 else f"{url.split('page/')[0]}page/{n}/"

    base = url.split("page/")[0]
    return {
        "number": number,
        "total": total,
        "previous": (base if number == 2 else f"{base}page/{number - 1}/") if number > 1 else None,
        "next": f"{base}page/{number + 1}/" if number < total else None,
        "pages": [(n, page_url(n)) for n in range(1, total + 1)],
    }
