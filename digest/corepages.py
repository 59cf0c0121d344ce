"""The pages every digest has, whatever plugins are enabled: home (paginated), one page per
paper, date archives, about, search, the reading list and 404."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from digest.bibtex_export import citation_keys, paper_bibtex
from digest.model import Paper
from digest.pages import Page, paginate, pagination
from digest.related import RelatedIndex, related_index
from digest.render import marks_for
from digest.richtext import find_urls, plain_text, render_rich_text
from digest.site import Site

READING_LIST_DATA = "reading-list/papers.json"
# Authors named in machine-readable metadata; a consortium paper lists thousands.
MAX_AUTHORS = 100
RELATED_COUNT = 5
# Hosts whose URLs in an abstract point at code (a repository, a model or a demo).
CODE_HOSTS = (
    "github.com",
    "gitlab.com",
    "huggingface.co",
    "bitbucket.org",
    "codeberg.org",
    "gitee.com",
    "sr.ht",
)
LINK_LABELS = {
    "abs": "arXiv",
    "pdf": "PDF",
    "doi": "DOI",
    "code": "Code",
    "project": "Project page",
    "source": "Source page",
}
_LINK_ORDER = {kind: i for i, kind in enumerate(LINK_LABELS)}


def core_pages(site: Site) -> Iterator[Page]:
    """Every core page of the site, in no particular order."""
    yield from home_pages(site)
    yield from paper_pages(site)
    yield from archive_pages(site)
    yield from about_page(site)
    yield Page("search/", "search.html", "Search", nav="Search", nav_weight=90, in_sitemap=False)
    yield reading_list_page()
    yield Page("404.html", "404.html", "Page not found", in_sitemap=False)


def home_pages(site: Site) -> Iterator[Page]:
    """The digest itself: every paper in the site's order (plugins may rank it), paginated;
    papers a plugin hid (``paper.data["hidden"]``) keep their own page but are not listed."""
    intro = site.config.intro.read_text(encoding="utf-8") if site.config.intro else ""
    listed = [p for p in site.papers if not p.data.get("hidden")]
    for url, papers, number, total in paginate(listed, "", site.config.page_size):
        yield Page(
            url,
            "home.html",
            site.config.title if number == 1 else f"{site.config.title} (page {number})",
            {"papers": papers, "pagination": pagination(url, number, total), "intro": intro},
            nav="Home" if number == 1 else None,
            nav_weight=0,
            description=site.config.description,
        )


def paper_pages(site: Site) -> list[Page]:
    """One page per paper, with its links, related papers and citation (see
    `PaperContext`)."""
    # Each paper's related papers are found when its page is rendered (by then on every
    # core); the index they are found in, and the citation keys, are made here, once.
    related = related_index(site.papers)
    citation_keys(site)
    # The site holds its pages: pages holding the site back would make each site a
    # reference cycle, which only a full garbage collection frees (the preview server
    # makes a site per edit, 45 MB of them at 10,000 papers).
    site_ref = weakref.proxy(site)
    pages = []
    for paper in [*site.papers, *site.archived]:
        context = PaperContext(site_ref, paper, related)
        pages.append(
            Page(
                site.paper_url(paper),
                "paper.html",
                plain_text(paper.title),
                context,
                description=context.description,
                inputs=paper_page_inputs,
            )
        )
    return pages


def paper_page_inputs(values: Mapping[str, Any], digest: Callable[[Any], bytes]) -> bytes:
    """What a paper's page is made from (see `Page.inputs`): the paper, with everything
    plugins added to it, its related papers and its citation key, which other papers'
    keys can change. Links, sightings, BibTeX and JSON-LD are made from these."""
    parts = [digest(values["paper"]), values["citation_key"].encode()]
    parts.extend(map(digest, values["related"]))
    return b"\0".join(parts)


class PaperContext(Mapping[str, Any]):
    """What a paper page's template is given (`PAPER_CONTEXT`), made each time it is read.

    Only the paper and what its values are made from are kept: made in advance, every
    paper's links, sightings and description took 120 MB at 50,000 papers, held from
    collecting the pages to the end of the build (and in every forked render worker);
    made when the page is rendered, each lives as long as its page takes.
    """

    __slots__ = ("_related", "_site", "paper")

    def __init__(self, site: Site, paper: Paper, related: RelatedIndex) -> None:
        self._site = site
        self.paper = paper
        self._related = related

    def __getitem__(self, name: str) -> Any:
        return PAPER_CONTEXT[name](self._site, self.paper, self._related)

    def __iter__(self) -> Iterator[str]:
        return iter(PAPER_CONTEXT)

    def __len__(self) -> int:
        return len(PAPER_CONTEXT)

    def __contains__(self, name: object) -> bool:
        return name in PAPER_CONTEXT

    def __repr__(self) -> str:
        return f"PaperContext({self.paper.key!r})"

    def description(self) -> str:
        """The page's description: the start of the abstract, as plain text."""
        return plain_text(self.paper.abstract[:400])


def paper_sightings(paper: Paper) -> list[dict[str, Any]]:
    """Where the paper was seen, for its page: source, position, date, upvotes and the
    listing's URL (None unless it is http(s))."""
    return [
        {
            "source": s.source,
            "position": s.position,
            "date": s.date,
            "upvotes": s.upvotes,
            "url": s.url if is_http_url(s.url) else None,
        }
        for s in paper.sightings
    ]


def _bibtex_html(site: Site, paper: Paper) -> Markup:
    return escape(paper_bibtex(site, paper))


def _abstract_html(paper: Paper) -> Markup:
    return render_rich_text(paper.abstract, marks_for(paper, "abstract"), links=True)


def _jsonld(site: Site, paper: Paper) -> Markup:
    return script_json(scholarly_article(site, paper))


# A paper page's context: each name's value, from the site, the paper and the index of
# related papers. The HTML ones are made only if the template outputs them.
PAPER_CONTEXT: dict[str, Callable[[Site, Paper, RelatedIndex], Any]] = {
    "paper": lambda site, paper, related: paper,
    "links": lambda site, paper, related: paper_links(paper),
    "sightings": lambda site, paper, related: paper_sightings(paper),
    "related": lambda site, paper, related: related.lazy(paper.key, RELATED_COUNT),
    "citation_key": lambda site, paper, related: citation_keys(site)[paper.key],
    "bibtex": lambda site, paper, related: LazyHTML(_bibtex_html, site, paper),
    "abstract_html": lambda site, paper, related: LazyHTML(_abstract_html, paper),
    "jsonld": lambda site, paper, related: LazyHTML(_jsonld, site, paper),
}


class LazyHTML:
    """HTML made only when a template outputs it (Jinja calls ``__html__``): what
    ``make(*args)`` returns."""

    __slots__ = ("_args", "_make")

    def __init__(self, make: Callable[..., str], *args: Any):
        self._make = make
        self._args = args

    def __html__(self) -> str:
        return str(self._make(*self._args))

    def __str__(self) -> str:
        return self.__html__()


# An http(s) URL that urlsplit would take apart as written: the host is non-empty and
# plain ASCII, with no brackets, whitespace or control characters anywhere.
_PLAIN_HTTP_URL = re.compile(
    r"https?://[^/?#\[\]\s\x00-\x1f\x7f-\U0010ffff][^\[\]\s\x00-\x1f\x7f-\U0010ffff]*"
)


def is_http_url(url: str | None) -> bool:
    """True for an absolute http(s) URL with a host (never javascript:, data: …)."""
    if not url:
        return False
    if _PLAIN_HTTP_URL.fullmatch(url):
        return True
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def code_url(text: str) -> str | None:
    """The first URL in `text` on a code host (github.com, gitlab.com, huggingface.co …)."""
    if "://" not in text:  # (most abstracts)
        return None
    for _, _, url in find_urls(text):
        host = (urlsplit(url).hostname or "").lower()
        if any(host == h or host.endswith("." + h) for h in CODE_HOSTS) and urlsplit(
            url
        ).path.strip("/"):
            return url
    return None


def paper_links(paper: Paper) -> list[dict[str, str]]:
    """The paper's outside links in reading order: arXiv, PDF, DOI, Code, Project page,
    Source page, then any other kind; arXiv links are made from the id when missing, and a
    code host URL found in the abstract becomes the Code link."""
    found = _links(
        tuple(paper.links.items()),
        paper.arxiv_id,
        paper.abstract,
        tuple(s.url for s in paper.sightings),
    )
    return [{"kind": kind, "label": label, "href": href} for kind, label, href in found]


@functools.lru_cache(maxsize=1 << 16)
def _links(
    given: tuple[tuple[str, str], ...],
    arxiv_id: str | None,
    abstract: str,
    sighting_urls: tuple[str | None, ...],
) -> tuple[tuple[str, str, str], ...]:
    # Kept for papers whose links, id, abstract and sightings are unchanged (a preview
    # server builds again after each edit).
    links = {kind: href for kind, href in given if is_http_url(href)}
    if arxiv_id:
        links.setdefault("abs", f"https://arxiv.org/abs/{arxiv_id}")
        links.setdefault("pdf", f"https://arxiv.org/pdf/{arxiv_id}")
    if "code" not in links:
        code = code_url(abstract)
        if code:
            links["code"] = code
    if "source" not in links:
        source = next((url for url in sighting_urls if is_http_url(url)), None)
        if source:
            links["source"] = source
    kinds = sorted(links, key=lambda k: (_LINK_ORDER.get(k, len(_LINK_ORDER)), k))
    return tuple((kind, LINK_LABELS.get(kind, kind.capitalize()), links[kind]) for kind in kinds)


def scholarly_article(site: Site, paper: Paper) -> dict[str, Any]:
    """schema.org ScholarlyArticle data for a paper page's JSON-LD."""
    url = site.config.base_url + site.paper_url(paper)
    title = plain_text(paper.title)
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ScholarlyArticle",
        "name": title,
        "headline": title if len(title) <= 110 else title[:109] + "…",
        "url": url,
        "mainEntityOfPage": url,
    }
    if paper.authors:
        data["author"] = [{"@type": "Person", "name": name} for name in paper.authors[:MAX_AUTHORS]]
    elif paper.organization:
        data["author"] = [{"@type": "Organization", "name": paper.organization}]
    if paper.date:
        data["datePublished"] = paper.date.isoformat()
    if paper.abstract:
        data["abstract"] = plain_text(paper.abstract)
    same_as = [link["href"] for link in paper_links(paper) if link["kind"] in ("abs", "doi")]
    if same_as:
        data["sameAs"] = same_as
    if paper.arxiv_id:
        data["identifier"] = {
            "@type": "PropertyValue",
            "propertyID": "arXiv",
            "value": paper.arxiv_id,
        }
    names = [str(n) for n in paper.data.get("search", {}).get("topics", ())]
    if names:
        data["keywords"] = names
    return data


_SCRIPT_UNSAFE = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_SCRIPT_UNSAFE_RE = re.compile("[<>&\u2028\u2029]")


def script_json(data: Any) -> Markup:
    """`data` as JSON that is safe inside a <script> element: no ``<``, ``>`` or ``&`` (so
    nothing can close the element or open a comment), nor line separators."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return Markup(_SCRIPT_UNSAFE_RE.sub(lambda m: _SCRIPT_UNSAFE[m.group(0)], text))


def archive_pages(site: Site) -> Iterator[Page]:
    """Per-day and per-month archives of dated papers, with previous/next links and
    pagination, and an index of years and months."""
    by_day: dict[dt.date, list[Paper]] = defaultdict(list)
    if site.archive_days is not None:
        by_day.update(site.archive_days)
    else:
        for paper in site.papers:
            if paper.date:
                by_day[paper.date].append(paper)
    days = sorted(by_day)
    by_month: dict[tuple[int, int], list[dt.date]] = defaultdict(list)
    for day in days:
        by_month[(day.year, day.month)].append(day)
    months = sorted(by_month)
    size = site.config.page_size
    for i, day in enumerate(days):
        yield from _period_pages(
            f"archive/{day:%Y/%m/%d}/",
            f"Papers of {day.day} {day:%B %Y}",
            by_day[day],
            size,
            {
                "kind": "day",
                "period": day.isoformat(),
                "previous": _day_link(days, i - 1),
                "next": _day_link(days, i + 1),
                "month": {"url": f"archive/{day:%Y/%m}/", "label": f"All of {day:%B %Y}"},
                "days": [],
            },
        )
    for i, (year, month) in enumerate(months):
        papers = [p for d in by_month[(year, month)] for p in by_day[d]]
        yield from _period_pages(
            f"archive/{year:04d}/{month:02d}/",
            f"Papers of {dt.date(year, month, 1):%B %Y}",
            papers,
            size,
            {
                "kind": "month",
                "period": f"{year:04d}-{month:02d}",
                "previous": _month_link(months, i - 1),
                "next": _month_link(months, i + 1),
                "month": None,
                "days": [
                    {
                        "url": f"archive/{d:%Y/%m/%d}/",
                        "label": f"{d.day} {d:%b}",
                        "count": len(by_day[d]),
                    }
                    for d in by_month[(year, month)]
                ],
            },
        )
    years: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for year, month in reversed(months):
        count = sum(len(by_day[d]) for d in by_month[(year, month)])
        years[year].append(
            {
                "url": f"archive/{year:04d}/{month:02d}/",
                "label": f"{dt.date(year, month, 1):%B}",
                "count": count,
            }
        )
    index = [
        {"year": year, "months": entries, "count": sum(m["count"] for m in entries)}
        for year, entries in sorted(years.items(), reverse=True)
    ]
    undated = 0 if site.archive_days is not None else sum(1 for p in site.papers if not p.date)
    yield Page(
        "archive/",
        "archives.html",
        "Archive",
        {"years": index, "undated": undated},
        nav="Archive",
        nav_weight=70,
    )


def _period_pages(
    url: str, title: str, papers: list[Paper], size: int, context: dict[str, Any]
) -> Iterator[Page]:
    for page_url, chunk, number, total in paginate(papers, url, size):
        yield Page(
            page_url,
            "archive.html",
            title if number == 1 else f"{title} (page {number})",
            {
                **context,
                "papers": chunk,
                "total": len(papers),
                "pagination": pagination(page_url, number, total),
            },
        )


def _day_link(days: list[dt.date], i: int) -> dict[str, str] | None:
    if 0 <= i < len(days):
        return {"url": f"archive/{days[i]:%Y/%m/%d}/", "label": f"{days[i].day} {days[i]:%b %Y}"}
    return None


def _month_link(months: list[tuple[int, int]], i: int) -> dict[str, str] | None:
    if 0 <= i < len(months):
        year, month = months[i]
        return {
            "url": f"archive/{year:04d}/{month:02d}/",
            "label": f"{dt.date(year, month, 1):%B %Y}",
        }
    return None


def about_page(site: Site) -> Iterator[Page]:
    """The about page, from the Markdown file site.toml names (if any)."""
    if site.config.about:
        text = site.config.about.read_text(encoding="utf-8")
        yield Page("about/", "about.html", "About", {"markdown": text}, nav="About", nav_weight=95)


def reading_list_page() -> Page:
    """The reading list: saved papers, kept in the reader's browser and rendered there."""
    return Page(
        "reading-list/",
        "reading-list.html",
        "Reading list",
        {"data_url": READING_LIST_DATA, "bib_url": "papers.bib"},
        nav="Reading list",
        nav_weight=80,
        in_sitemap=False,
    )


def reading_list_data(site: Site, papers: Sequence[Paper] | None = None) -> dict[str, Any]:
    """What the reading-list page needs per paper key: plain title, URL (below the site
    root), date, a few authors and the citation key (its entry is in papers.bib)."""
    keys = citation_keys(site)
    return {
        paper.key: {
            "t": plain_text(paper.title),
            "u": site.paper_url(paper),
            "d": paper.date.isoformat() if paper.date else "",
            "a": ", ".join(paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else ""),
            "c": keys[paper.key],
        }
        for paper in (site.papers if papers is None else papers)
    }
