"""The trending plugin: an explainable score per paper, a rank, a badge and a Trending page.

Formula
-------
Every paper gets *points* from the signals its sources carry, then a *time decay*::

    points = base
           + w_upvotes  · ln(1 + upvotes)                    (highest upvote count seen)
           + w_listings · (listings − 1)                     (distinct sources listing it)
           + w_position · Σ over ranked listings 1/√position (its best rank in each)
           + w_velocity · ln(1 + max(0, upvotes − previous)) / days since the previous build

    decay  = (1 + age_days / half_life_days) ^ (−gravity)
    score  = points · decay

``age_days`` is the build date (``site.date``) minus the paper's date, never negative; an
undated paper counts as ``undated_age_days`` old, by default as old as the median dated
paper of the site, so it neither dominates nor vanishes.
A signal a paper does not have contributes nothing: a paper with no upvotes and no date
still ranks from its listings and positions. With ``gravity = 1`` the score halves after
``half_life_days``; a larger gravity makes age cost more, favouring newer papers (as
Hacker News's ``(P − 1) / (T + 2)^G`` does). Ties are broken by `Paper.key`, so the same
inputs and build date always give the same order.

The velocity term needs the history of earlier builds. When ``site.data["history"]`` holds
an object with ``previous_upvotes(key: str) -> int | None`` (the upvotes the paper had at
the previous build, None when it was not seen), it is used; if that object also has a
``previous_date`` attribute (a `datetime.date`), the gain is divided by the days since then
(at least 1). See `UpvoteHistory`.

Results
-------
``digest_papers`` (``tryfirst``, so later plugins see the order) reorders ``papers`` in
place, highest score first, and scores every paper::

    site.data["trending"][paper.key] = {
        "score": float, "rank": int (1 = hottest), "badge": rank <= badge_top,
        "why": "18 upvotes · 3 days old · in 3 listings",
        "parts": {"base", "upvotes", "listings", "position", "velocity": points each,
                  "points": their sum, "decay": factor, "age_days": int | None},
    }

The papers ranked within ``top`` (or ``badge_top``, if larger) also carry that dict as
``paper.data["trending"]``, which the theme shows (the badge on cards, the why on a paper's
page). The others do not: a score and rank move every night for every paper, so shown on
every paper's page they would make each page a new file each night, while a reader learns
nothing from "#9,058". The site's order is the rank of every paper.

The plugin adds the page ``trending/`` (nav "Trending"): the top papers with their score and
why.

Settings (``[plugins.trending]``, defaults shown)::

    gravity = 1.5             # how fast age costs points (>= 0; 0 = no decay)
    half_life_days = 7.0      # the age scale of the decay (> 0)
    undated_age_days = …      # the age assumed for undated papers (default: the median age)
    top = 50                  # papers on the Trending page
    badge_top = 10            # papers ranked this high get the "Trending #n" badge
    page = true               # false: rank and badge papers but add no Trending page

    [plugins.trending.weights]
    base = 1.0                # points every paper starts with
    upvotes = 1.0             # per ln(1 + upvotes)
    listings = 1.5            # per listing beyond the first
    position = 1.0            # per 1/√position in a ranked listing
    velocity = 1.5            # per ln(1 + upvotes gained) per day since the last build
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from digest import hookimpl
from digest.config import Config, Options
from digest.model import Paper
from digest.pages import Page
from digest.rebuilds import rebuilds_expected
from digest.site import Site
from plugins.digest_highlight import Memo

NAME = "trending"
WEIGHT_NAMES = ("base", "upvotes", "listings", "position", "velocity")
DEFAULT_WEIGHTS = {"base": 1.0, "upvotes": 1.0, "listings": 1.5, "position": 1.0, "velocity": 1.5}


@runtime_checkable
class UpvoteHistory(Protocol):
    """What the trending plugin reads from ``site.data["history"]`` (when present).

    ``previous_upvotes(key)`` returns the upvotes the paper with identity `key` had at the
    previous build, or None when that build did not see it. An optional ``previous_date``
    attribute (a `datetime.date`) turns the gain into a per-day velocity.
    """

    def previous_upvotes(self, key: str) -> int | None:
        """Upvotes of the paper `key` at the previous build, or None."""


@dataclass(frozen=True, slots=True)
class TrendingSettings:
    """The parsed ``[plugins.trending]`` table."""

    gravity: float = 1.5
    half_life_days: float = 7.0
    undated_age_days: float | None = None
    top: int = 50
    badge_top: int = 10
    page: bool = True
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))


def read_settings(opts: Options) -> TrendingSettings:
    """Validate a ``[plugins.trending]`` table (errors go to the config's issue list)."""
    defaults = TrendingSettings()
    half_life = opts.number("half_life_days", defaults.half_life_days, minimum=0)
    if half_life == 0:
        opts.error("half_life_days", "expected a number > 0, got 0")
        half_life = defaults.half_life_days
    table = opts.table_("weights")
    weights = {name: table.number(name, DEFAULT_WEIGHTS[name], minimum=0) for name in WEIGHT_NAMES}
    table.done()
    settings = TrendingSettings(
        gravity=opts.number("gravity", defaults.gravity, minimum=0),
        half_life_days=half_life,
        undated_age_days=opts.number("undated_age_days", None, minimum=0),
        top=opts.integer("top", defaults.top, minimum=1),
        badge_top=opts.integer("badge_top", defaults.badge_top, minimum=0),
        page=opts.boolean("page", defaults.page),
        weights=weights,
    )
    opts.done()
    return settings


def settings_of(site: Site) -> TrendingSettings:
    """This plugin's settings for `site` (the defaults when configure did not run)."""
    settings = site.config.settings_for(NAME)
    return settings if isinstance(settings, TrendingSettings) else TrendingSettings()


@hookimpl
def digest_configure(config: Config) -> None:
    """Read and validate ``[plugins.trending]``."""
    config.set_plugin_settings(NAME, read_settings(config.plugin_options(NAME)))


def age_in_days(paper: Paper, today: dt.date) -> int | None:
    """Whole days between the paper's date and `today` (0 for future dates), None if undated."""
    if paper.date is None:
        return None
    return max(0, (today - paper.date).days)


def time_decay(age_days: float, settings: TrendingSettings) -> float:
    """The factor age multiplies a paper's points by: 1 when new, falling with `gravity`."""
    return (1.0 + age_days / settings.half_life_days) ** -settings.gravity


def _velocity(
    paper: Paper, history: UpvoteHistory | None, today: dt.date
) -> tuple[float, int | None]:
    """Upvotes gained per day since the previous build (and the raw gain, for the why)."""
    # `history` is an `UpvoteHistory` or None (`score_paper` checks it once: an isinstance
    # check against a runtime-checkable Protocol is slow).
    if history is None or paper.upvotes is None:
        return 0.0, None
    previous = history.previous_upvotes(paper.key)
    if previous is None:
        return 0.0, None
    gain = max(0, paper.upvotes - previous)
    since = getattr(history, "previous_date", None)
    days = max(1, (today - since).days) if isinstance(since, dt.date) else 1
    return math.log1p(gain) / days, gain


def median_age(papers: list[Paper], today: dt.date) -> float:
    """The median age in days of the dated papers (0 when none is dated)."""
    ages = [a for a in (age_in_days(p, today) for p in papers) if a is not None]
    return float(statistics.median(ages)) if ages else 0.0


def score_paper(
    paper: Paper,
    today: dt.date,
    settings: TrendingSettings,
    history: Any = None,
    undated_age: float | None = None,
) -> dict[str, Any]:
    """The score of one paper, with its parts and a one-line explanation (no rank yet).

    An undated paper counts as `undated_age` days old (default: the setting, else 0)."""
    history = history if isinstance(history, UpvoteHistory) else None
    return _score_paper(paper, today, settings, history, undated_age)


def _score_paper(
    paper: Paper,
    today: dt.date,
    settings: TrendingSettings,
    history: UpvoteHistory | None,
    undated_age: float | None,
) -> dict[str, Any]:
    w = settings.weights
    sightings = paper.sightings
    # What `Paper.upvotes` and `Paper.source_names` give, in one pass over the sightings.
    votes = [s.upvotes for s in sightings if s.upvotes is not None]
    upvotes = max(votes) if votes else None
    listings = len({s.source for s in sightings})
    best: dict[str, int] = {}
    for s in sightings:
        if s.position is not None and s.position > 0:
            best[s.source] = min(s.position, best.get(s.source, s.position))
    positions = sorted((pos, source) for source, pos in best.items())
    velocity, gain = _velocity(paper, history, today) if history is not None else (0.0, None)
    age = None if paper.date is None else max(0, (today - paper.date).days)
    parts: dict[str, Any] = {
        "base": w["base"],
        "upvotes": w["upvotes"] * math.log1p(upvotes) if upvotes else 0.0,
        "listings": w["listings"] * max(0, listings - 1),
        "position": w["position"] * sum(1 / math.sqrt(pos) for pos, _ in positions),
        "velocity": w["velocity"] * velocity,
    }
    points = sum(parts.values())
    if undated_age is None:
        undated_age = settings.undated_age_days or 0.0
    decay = time_decay(undated_age if age is None else age, settings)
    parts.update(points=round(points, 6), decay=round(decay, 6), age_days=age)
    return {
        "score": round(points * decay, 6),
        "why": explain(upvotes, age, listings, positions[:1], gain),
        "parts": parts,
    }


def explain(
    upvotes: int | None,
    age: int | None,
    listings: int,
    best_positions: list[tuple[int, str]],
    gain: int | None,
) -> str:
    """``18 upvotes · 3 days old · in 3 listings · #2 in Search: scaling``."""
    bits = []
    if upvotes is not None:
        bits.append(f"{upvotes} upvote{'s' if upvotes != 1 else ''}")
    if gain:
        bits.append(f"+{gain} since the last build")
    if age is None:
        bits.append("undated")
    elif age == 0:
        bits.append("new today")
    else:
        bits.append(f"{age} day{'s' if age != 1 else ''} old")
    if listings > 1:
        bits.append(f"in {listings} listings")
    bits.extend(f"#{pos} in {source}" for pos, source in best_positions)
    return " · ".join(bits)


def rank_papers(papers: list[Paper], site: Site, settings: TrendingSettings) -> None:
    """Score every paper, sort `papers` in place (best first, ties by key) and rank them."""
    history = site.data.get("history")
    if not isinstance(history, UpvoteHistory):
        history = None
    undated = settings.undated_age_days
    if undated is None:
        undated = median_age(papers, site.date)
    keys = [p.key for p in papers]  # a property that formats a string: read it once
    memo = _score_memo(site.date, settings, history, undated)
    scored = {}
    for paper, key in zip(papers, keys, strict=True):
        if memo is None:
            scored[key] = _score_paper(paper, site.date, settings, history, undated)
            continue
        sightings = tuple((s.source, s.position, s.upvotes) for s in paper.sightings)
        previous = None
        if history is not None and any(upvotes is not None for _, _, upvotes in sightings):
            previous = history.previous_upvotes(key)
        inputs = (sightings, paper.date, previous)
        remembered = memo.get(inputs)
        if remembered is None:
            info = _score_paper(paper, site.date, settings, history, undated)
            memo.put(inputs, (info["score"], info["why"], tuple(info["parts"].values())))
        else:  # a new dict each time: the rank and badge are added to it
            score, why, parts = remembered
            info = {"score": score, "why": why, "parts": dict(zip(PARTS, parts, strict=True))}
        scored[key] = info
    order = sorted(range(len(papers)), key=lambda i: (-scored[keys[i]]["score"], keys[i]))
    papers[:] = [papers[i] for i in order]
    ranking: dict[str, dict[str, Any]] = {}
    shown = max(settings.top, settings.badge_top)
    for rank, i in enumerate(order, start=1):
        paper, info = papers[rank - 1], scored[keys[i]]
        info["rank"] = rank
        info["badge"] = rank <= settings.badge_top
        ranking[keys[i]] = info
        # Only where the theme shows it: a rank on every paper's page would change the
        # page of nearly every paper every night, as a few new papers move all ranks.
        if rank <= shown:
            paper.data[NAME] = info
        else:
            paper.data.pop(NAME, None)  # (the preview builds again with the same papers)
    site.data[NAME] = ranking


# Scores by what they depend on, kept between builds: the preview server rebuilds in one
# process, and most papers' sightings and dates do not change between two rebuilds.
# A score is kept as (score, why, the values of its parts, in the order of `PARTS`).
_SCORE_MEMOS: dict[tuple[Any, ...], Memo[tuple[Any, ...], tuple[Any, ...]]] = {}
PARTS = ("base", "upvotes", "listings", "position", "velocity", "points", "decay", "age_days")


def _score_memo(
    today: dt.date, settings: TrendingSettings, history: UpvoteHistory | None, undated: float
) -> Memo[tuple[Any, ...], tuple[Any, ...]] | None:
    """The memo of scores for a build date, settings, history date and undated age (a
    paper's own inputs are the memo's keys); None when they cannot be a key, or when no
    later build will ask (see `digest.rebuilds`)."""
    if not rebuilds_expected():
        return None
    since = getattr(history, "previous_date", None) if history is not None else None
    group = (
        today,
        settings.gravity,
        settings.half_life_days,
        settings.undated_age_days,
        tuple(sorted(settings.weights.items())),
        undated,
        history is not None,
        since,
    )
    try:
        memo = _SCORE_MEMOS.get(group)
    except TypeError:  # an unhashable previous_date
        return None
    if memo is None:
        if len(_SCORE_MEMOS) >= 4:
            _SCORE_MEMOS.clear()
        memo = _SCORE_MEMOS[group] = Memo()
    return memo


@hookimpl(tryfirst=True)
def digest_papers(papers: list[Paper], site: Site) -> None:
    """Score, rank and reorder the papers (hottest first) before other plugins run."""
    rank_papers(papers, site, settings_of(site))


@hookimpl
def digest_pages(site: Site) -> list[Page]:
    """The Trending page: the top papers, each with its score and why."""
    settings = settings_of(site)
    if not settings.page:
        return []
    ranked = sorted((p for p in site.papers if NAME in p.data), key=lambda p: p.data[NAME]["rank"])
    return [
        Page(
            "trending/",
            "trending.html",
            "Trending",
            {"papers": ranked[: settings.top], "settings": settings},
            nav="Trending",
            nav_weight=10,
            description="The papers with the most momentum: upvotes, recency and listings.",
        )
    ]
