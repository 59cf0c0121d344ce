"""The trending plugin: its score on papers built by hand, its ranking of the real daily
papers listing at the page's date, its page, and a build without it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import DEMO_DATE

from digest.build import BuildResult, load_papers, prepare_config
from digest.config import Config
from digest.model import Paper, Sighting, newest_first
from digest.site import Site
from plugins import digest_trending as trending
from plugins.digest_trending import TrendingSettings, rank_papers, score_paper

TODAY = dt.date(2025, 10, 30)
DAILY = """
[[sources]]
name = "Daily papers"
path = "data/hf-daily-papers.txt"
"""


def paper(
    title: str,
    days_old: int | None = None,
    upvotes: int | None = None,
    sources: tuple[str, ...] = ("daily",),
    position: int | None = None,
) -> Paper:
    """A paper seen once in each of `sources`, `days_old` days before TODAY."""
    date = TODAY - dt.timedelta(days=days_old) if days_old is not None else None
    sightings = tuple(
        Sighting(source=s, upvotes=upvotes, date=date, position=position if i == 0 else None)
        for i, s in enumerate(sources)
    )
    return Paper(title=title, date=date, sightings=sightings)


def site_with(
    papers: list[Paper], settings: TrendingSettings | None = None, history: object = None
) -> Site:
    config = Config(path=Path("site.toml"), root=Path("."))
    config.set_plugin_settings("trending", settings or TrendingSettings())
    site = Site(config=config, date=TODAY, papers=papers)
    if history is not None:
        site.data["history"] = history
    return site


def ranked(papers: list[Paper], **settings: object) -> list[str]:
    """Titles in trending order."""
    chosen = TrendingSettings(**settings)  # type: ignore[arg-type]
    rank_papers(papers, site_with(papers, chosen), chosen)
    return [p.title for p in papers]


def load_daily(site_factory: Callable[..., Path]) -> tuple[list[Paper], Site]:
    """The daily papers seed, loaded and merged as a build would, as of its page date."""
    root = site_factory(config=DAILY, seeds=["hf-daily-papers.txt"])
    config, pm = prepare_config(root / "site.toml")
    papers, site = load_papers(config, pm)
    site.date = DEMO_DATE
    site.papers = newest_first(papers)
    return site.papers, site


# --- the score ------------------------------------------------------------------------


def test_score_parts_add_up_and_explain_themselves() -> None:
    p = paper("A", days_old=3, upvotes=18, sources=("a", "b", "c"), position=4)
    info = score_paper(p, TODAY, TrendingSettings())
    parts = info["parts"]
    signals = ("base", "upvotes", "listings", "position", "velocity")
    assert parts["points"] == pytest.approx(sum(parts[k] for k in signals))
    assert info["score"] == pytest.approx(parts["points"] * parts["decay"])
    assert parts["upvotes"] == pytest.approx(1.0 * 2.944438979)  # ln(19)
    assert parts["listings"] == pytest.approx(1.5 * 2)
    assert parts["position"] == pytest.approx(0.5)  # 1/sqrt(4)
    assert parts["decay"] == pytest.approx((1 + 3 / 7) ** -1.5)
    assert parts["age_days"] == 3
    assert info["why"] == "18 upvotes · 3 days old · in 3 listings · #4 in a"


def test_papers_without_upvotes_or_dates_still_rank_by_what_they_have() -> None:
    bare = paper("bare", sources=("a",))
    listed = paper("listed", sources=("a", "b"))
    ranked_first = paper("ranked", sources=("a",), position=1)
    order = ranked([bare, listed, ranked_first], undated_age_days=10.0)
    assert order == ["listed", "ranked", "bare"]
    info = score_paper(bare, TODAY, TrendingSettings(undated_age_days=10.0))
    assert info["why"] == "undated"
    assert info["score"] > 0


def test_undated_papers_default_to_the_median_age() -> None:
    papers = [
        paper("old", days_old=100),
        paper("mid", days_old=10),
        paper("new", days_old=2),
        paper("undated"),
    ]
    rank_papers(papers, site_with(papers), TrendingSettings())
    undated = next(p for p in papers if p.title == "undated")
    assert undated.data["trending"]["parts"]["decay"] == pytest.approx((1 + 10 / 7) ** -1.5)
    assert [p.title for p in papers] == ["new", "mid", "undated", "old"]


def test_order_is_deterministic_and_ties_go_by_key() -> None:
    papers = [paper(f"twin {i}", days_old=5, upvotes=3) for i in range(6)]
    papers += [paper(f"other {i}", days_old=i, upvotes=i) for i in range(6)]
    expected = ranked(list(papers))
    for seed in range(5):
        shuffled = list(papers)
        random.Random(seed).shuffle(shuffled)
        assert ranked(shuffled) == expected
    twins = [t for t in expected if t.startswith("twin")]
    assert twins == sorted(twins)  # equal scores: key order (title keys here)


def test_ranks_and_badges() -> None:
    papers = [paper(f"p{i}", days_old=i, upvotes=10) for i in range(5)]
    rank_papers(papers, site_with(papers), TrendingSettings(badge_top=2))
    assert [p.data["trending"]["rank"] for p in papers] == [1, 2, 3, 4, 5]
    assert [p.data["trending"]["badge"] for p in papers] == [True, True, False, False, False]


def test_gravity_zero_means_no_decay() -> None:
    old = paper("old", days_old=900, upvotes=50)
    new = paper("new", days_old=0, upvotes=5)
    assert ranked([new, old], gravity=0.0) == ["old", "new"]
    assert ranked([new, old], gravity=1.5) == ["new", "old"]


class FakeHistory:
    """What `site.data["history"]` offers: previous upvotes by key and the previous date."""

    def __init__(self, previous: dict[str, int], date: dt.date | None = None):
        self.previous = previous
        self.previous_date = date

    def previous_upvotes(self, key: str) -> int | None:
        return self.previous.get(key)


def test_upvote_velocity_from_history() -> None:
    rising = paper("rising", days_old=4, upvotes=30)
    steady = paper("steady", days_old=4, upvotes=30)
    history = FakeHistory({rising.key: 5, steady.key: 30}, TODAY - dt.timedelta(days=2))
    papers = [steady, rising]
    rank_papers(papers, site_with(papers, history=history), TrendingSettings())
    assert [p.title for p in papers] == ["rising", "steady"]
    info = rising.data["trending"]
    assert info["parts"]["velocity"] == pytest.approx(1.5 * 3.258096538 / 2)  # ln(26) / 2 days
    assert "+25 since the last build" in info["why"]
    assert steady.data["trending"]["parts"]["velocity"] == 0


def test_history_without_the_method_is_ignored() -> None:
    p = paper("p", days_old=1, upvotes=3)
    rank_papers([p], site_with([p], history=object()), TrendingSettings())
    assert p.data["trending"]["parts"]["velocity"] == 0


def test_settings_are_validated(site_factory: Callable[..., Path]) -> None:
    root = site_factory(
        config="""
        [plugins.trending]
        gravity = -1
        half_life_days = 0
        top = "ten"
        gravty = 2

        [plugins.trending.weights]
        upvotes = 2
        likes = 1
    """
    )
    from digest.config import load_config

    config = load_config(root / "site.toml")
    trending.digest_configure(config)
    messages = [str(i) for i in config.errors]
    assert any("gravity: expected a number >= 0" in m for m in messages)
    assert any("half_life_days: expected a number > 0" in m for m in messages)
    assert any("top: expected an integer" in m for m in messages)
    assert any("gravty: unknown key (did you mean 'gravity'?)" in m for m in messages)
    assert any("[plugins.trending.weights] likes: unknown key" in m for m in messages)
    settings = config.settings_for("trending")
    assert settings.weights["upvotes"] == 2.0
    assert settings.gravity == 1.5


# --- the real daily papers listing ----------------------------------------------------


def test_recent_well_upvoted_papers_outrank_old_ones(site_factory) -> None:
    papers, site = load_daily(site_factory)
    rank_papers(papers, site, TrendingSettings())
    assert len(papers) > 90
    by_title = {p.title: p for p in papers}
    # 18 upvotes but from 2023, against 2 upvotes a month before the page date.
    old = next(p for p in papers if p.upvotes == 18)
    recent = next(p for p in papers if p.upvotes and p.date and (DEMO_DATE - p.date).days < 40)
    assert old.date is not None and old.date.year == 2023
    assert recent.data["trending"]["rank"] < old.data["trending"]["rank"]
    top = papers[:10]
    assert all(p.date and (DEMO_DATE - p.date).days < 200 for p in top)
    # Among papers of the same age, upvotes decide.
    assert by_title[top[0].title].data["trending"]["rank"] == 1


def test_raising_gravity_favours_newer_papers(site_factory) -> None:
    papers, site = load_daily(site_factory)

    def mean_age_of_top(gravity: float) -> float:
        chosen = TrendingSettings(gravity=gravity)
        ordered = list(papers)
        rank_papers(ordered, site, chosen)
        dated = [p for p in ordered if p.date][:20]
        return sum((DEMO_DATE - p.date).days for p in dated) / len(dated)  # type: ignore[operator]

    ages = [mean_age_of_top(g) for g in (0.0, 0.5, 1.5, 3.0)]
    assert ages == sorted(ages, reverse=True)
    assert ages[0] > ages[-1]


def test_a_paper_in_three_listings_outranks_its_twin_seen_once(site_factory) -> None:
    papers, site = load_daily(site_factory)
    model = next(p for p in papers if p.upvotes and len(p.sightings) == 1)
    once = dataclasses.replace(model, title=model.title + " (seen once)", arxiv_id=None, data={})
    thrice = dataclasses.replace(
        model,
        title=model.title + " (seen thrice)",
        arxiv_id=None,
        sightings=(*model.sightings, Sighting(source="Search: a"), Sighting(source="Search: b")),
        data={},
    )
    everything = [*papers, once, thrice]
    rank_papers(everything, site, TrendingSettings())
    assert thrice.data["trending"]["rank"] < once.data["trending"]["rank"]
    assert "in 3 listings" in thrice.data["trending"]["why"]


def test_same_inputs_and_date_give_the_same_order(site_factory) -> None:
    papers, site = load_daily(site_factory)
    first = list(papers)
    rank_papers(first, site, TrendingSettings())
    second = list(reversed(papers))
    rank_papers(second, site, TrendingSettings())
    assert [p.key for p in first] == [p.key for p in second]


# --- pages and builds -----------------------------------------------------------------


class TrendingPage(HTMLParser):
    """Collects the card titles, badges and "why" lines of the Trending page."""

    def __init__(self) -> None:
        super().__init__()
        self.titles: list[str] = []
        self.whys: list[str] = []
        self.badges: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        cls = dict(attrs).get("class") or ""
        if tag == "h2" and "card-title" in cls:
            self._in = "title"
            self.titles.append("")
        elif tag == "p" and cls == "why":
            self._in = "why"
            self.whys.append("")
        elif tag == "span" and "trending" in cls:
            self._in = "badge"
            self.badges.append("")

    def handle_endtag(self, tag: str) -> None:
        if (self._in, tag) in {("title", "h2"), ("why", "p"), ("badge", "span")}:
            self._in = None

    def handle_data(self, data: str) -> None:
        target = {"title": self.titles, "why": self.whys, "badge": self.badges}.get(self._in or "")
        if target:
            target[-1] += data


def test_trending_page_shows_score_and_why(site_factory, build_site) -> None:
    root = site_factory(
        config=DAILY + "\n[plugins.trending]\ntop = 15\n", seeds=["hf-daily-papers.txt"]
    )
    result: BuildResult = build_site(root)
    html = (result.outdir / "trending" / "index.html").read_text(encoding="utf-8")
    page = TrendingPage()
    page.feed(html)
    ordered = [p for p in result.site.papers if "trending" in p.data]
    ordered.sort(key=lambda p: p.data["trending"]["rank"])
    assert len(page.titles) == 15
    assert [t.strip() for t in page.titles] == [p.title for p in ordered[:15]]
    assert page.whys[0].startswith(f"Score {ordered[0].data['trending']['score']:.3f}: ")
    assert ordered[0].data["trending"]["why"] in page.whys[0]
    assert page.badges[:2] == ["Trending #1", "Trending #2"]
    assert '<a href="trending/"' in (result.outdir / "index.html").read_text(encoding="utf-8")


def test_the_home_page_follows_the_trending_order(site_factory, build_site) -> None:
    root = site_factory(
        config=DAILY + '\n[plugins]\ndisabled = ["topics"]\n', seeds=["hf-daily-papers.txt"]
    )
    result = build_site(root)
    ranking = result.site.data["trending"]
    assert len(ranking) == len(result.site.papers) > 50
    assert [ranking[p.key]["rank"] for p in result.site.papers] == list(
        range(1, len(result.site.papers) + 1)
    )
    # Only the papers the theme shows as trending (the top 50) carry their rank, so the
    # page of any other paper does not change when new papers move every rank.
    assert [p.key for p in result.site.papers if "trending" in p.data] == [
        p.key for p in result.site.papers[:50]
    ]
    assert all(p.data["trending"] is ranking[p.key] for p in result.site.papers[:50])
    below = result.site.papers[50]
    page = (result.outdir / result.site.paper_url(below) / "index.html").read_text("utf-8")
    top = result.site.papers[0]
    top_page = (result.outdir / result.site.paper_url(top) / "index.html").read_text("utf-8")
    assert "Why it is trending (#1)" in top_page
    assert "Why it is trending" not in page


def test_build_without_trending(site_factory, build_site) -> None:
    root = site_factory(
        config=DAILY + '\n[plugins]\ndisabled = ["trending"]\n', seeds=["hf-daily-papers.txt"]
    )
    result = build_site(root)
    assert not (result.outdir / "trending").exists()
    assert all("trending" not in p.data for p in result.site.papers)
    home = (result.outdir / "index.html").read_text(encoding="utf-8")
    assert "Trending #" not in home
    assert 'href="trending/"' not in home
