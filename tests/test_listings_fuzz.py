"""Property tests: random text and mutated, truncated seed listings never make a listing
reader raise, and what they yield stays well formed."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.model import Paper, Problem
from digest.sources.base import Source
from digest.sources.listings import READERS
from digest.sources.merge import merge_papers

DATA = Path(__file__).resolve().parent.parent / "data"
SEEDS = {
    "mila": "mila-publications.txt",
    "hf-search": "hf-papers-search-a.txt",
    "hf-daily": "hf-daily-papers.txt",
}
SEED_LINES = {
    fmt: (DATA / name).read_text(encoding="utf-8").split("\n") for fmt, name in SEEDS.items()
}
READER = {reader.name: reader for reader in READERS}
SOURCE = Source(name="fuzz", path=Path("fuzz.txt"))
FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text close to the formats' own lines makes the mutations reach the interesting paths.
FORMAT_BITS = st.sampled_from(
    [
        "·",
        "  • 3 authors",
        "• 0 author",
        "Sep 9",
        "Dec 9, 2024 3",
        "Feb 30, 2023",
        "Oct 30",
        "apple Apple",
        "Subscribe",
        "SubscribeX",
        "Daily Papers",
        "new",
        "… (voir plus)",
        "Cas Wognum … (voir 15 de plus)",
        "… (voir 99999999 de plus)",
        "Kim A. Tran",
        "Title: A Study",
        "",
        "   ",
        "\t",
        "Jan 1, 0000",
        "May 99 999999999999",
    ]
)
LINE = st.one_of(FORMAT_BITS, st.text(max_size=120))


def check(fmt: str, lines: list[str]) -> list[Paper | Problem]:
    """Read `lines`; assert every item is well formed; return the items."""
    items = list(READER[fmt].read(iter(lines), SOURCE))
    positions = []
    for item in items:
        assert isinstance(item, Paper | Problem)
        if isinstance(item, Problem):
            assert item.file == SOURCE.label and item.kind
            assert 0 <= item.line <= len(lines)
            continue
        assert item.title and item.title == item.title.strip()
        (sighting,) = item.sightings
        assert sighting.source == SOURCE.name
        assert sighting.line is not None and 1 <= sighting.line <= len(lines)
        assert item.hidden_authors >= 0
        positions.append(sighting.position)
    if fmt != "mila":
        assert positions == list(range(1, len(positions) + 1))
    return items


@st.composite
def mutated(draw: st.DrawFn, fmt: str) -> list[str]:
    """The start of a seed listing (up to 300 lines, header included) with a few lines
    deleted, repeated, swapped, cut or replaced, and possibly cut short mid-line."""
    lines = SEED_LINES[fmt][: draw(st.integers(1, 300))]
    for _ in range(draw(st.integers(0, 6))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "repeat", "swap", "cut", "replace", "insert"]))
        if action == "delete" and len(lines) > 1:
            del lines[i]
        elif action == "repeat":
            lines.insert(i, lines[i])
        elif action == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif action == "cut":
            lines[i] = lines[i][: draw(st.integers(0, max(len(lines[i]), 1)))]
        elif action == "replace":
            lines[i] = draw(LINE)
        else:
            lines.insert(i, draw(LINE))
    if draw(st.booleans()):
        end = draw(st.integers(1, len(lines)))
        lines = lines[:end]
        lines[-1] = lines[-1][: draw(st.integers(0, len(lines[-1])))]
    return lines


@FAST
@given(fmt=st.sampled_from(sorted(READER)), lines=st.lists(LINE, max_size=60))
def test_random_lines_never_raise(fmt: str, lines: list[str]) -> None:
    check(fmt, lines)
    head = "\n".join(lines)
    for reader in READERS:
        assert 0 <= reader.sniff(head, SOURCE.path) <= 100


@FAST
@given(data=st.data(), fmt=st.sampled_from(sorted(READER)))
def test_mutated_seeds_never_raise(data: st.DataObject, fmt: str) -> None:
    lines = data.draw(mutated(fmt))
    items = check(fmt, lines)
    papers = [item for item in items if isinstance(item, Paper)]
    merged = merge_papers(papers)
    assert sum(len(p.sightings) for p in merged) == len(papers)
    # Another format's reader must cope with this file just as well.
    for other in READER:
        if other != fmt:
            check(other, lines)


@cache
def whole_titles(fmt: str) -> list[str]:
    return [p.title for p in check(fmt, SEED_LINES[fmt]) if isinstance(p, Paper)]


@FAST
@given(fmt=st.sampled_from(sorted(READER)), data=st.data())
def test_a_cut_short_seed_reads_like_the_start_of_the_whole_one(
    fmt: str, data: st.DataObject
) -> None:
    whole = whole_titles(fmt)
    end = data.draw(st.integers(1, len(SEED_LINES[fmt])))
    prefix = SEED_LINES[fmt][:end]
    prefix[-1] = prefix[-1][: data.draw(st.integers(0, len(prefix[-1])))]
    items = check(fmt, prefix)
    titles = [p.title for p in items if isinstance(p, Paper)]
    # Everything before the cut reads the same; only the last entry may differ.
    assert titles[:-1] == whole[: max(len(titles) - 1, 0)]
