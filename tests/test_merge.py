"""Merging sightings: the four seed listings together, and each conflict rule on its own."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter
from pathlib import Path

from digest.model import Paper, Sighting
from digest.sources.base import Source
from digest.sources.listings import READERS
from digest.sources.loader import load_source
from digest.sources.merge import merge_papers

DATA = Path(__file__).resolve().parent.parent / "data"
SEEDS = (
    "hf-daily-papers.txt",
    "hf-papers-search-a.txt",
    "hf-papers-search-b.txt",
    "mila-publications.txt",
)
DAILY, SEARCH_A, SEARCH_B, MILA = (name.removesuffix(".txt") for name in SEEDS)


def seed_papers() -> list[Paper]:
    readers = {reader.name: reader for reader in READERS}
    papers: list[Paper] = []
    for name in SEEDS:
        result = load_source(readers, Source(name=name.removesuffix(".txt"), path=DATA / name))
        papers.extend(result.papers)
    return papers


def paper(title: str = "A Paper", source: str = "s", line: int = 1, **fields: object) -> Paper:
    return Paper(title=title, sightings=(Sighting(source, line=line),), **fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# The seeds


def test_seed_sightings_fold_into_distinct_papers() -> None:
    loaded = seed_papers()
    merged = merge_papers(loaded)
    assert len(loaded) == 12 + 239 + 223 + 99 == 573
    assert len(merged) == 553
    assert sum(len(p.sightings) for p in merged) == 573
    # 16 papers are listed by more than one page; with the mila repeat, 17 have several
    # sightings, and 20 sightings were folded into another.
    spread = Counter(p.source_names for p in merged if len(p.source_names) > 1)
    assert spread == {
        (SEARCH_A, SEARCH_B): 10,
        (DAILY, SEARCH_A): 3,
        (DAILY, SEARCH_B): 2,
        (DAILY, SEARCH_A, SEARCH_B): 1,
    }
    assert sum(len(p.sightings) > 1 for p in merged) == 17


def test_seed_paper_in_three_listings() -> None:
    merged = {p.title: p for p in merge_papers(seed_papers())}
    codegen = merged["CodeGen2: Lessons for Training LLMs on Programming and Natural Languages"]
    assert [(s.source, s.position, s.line) for s in codegen.sightings] == [
        (DAILY, 53, 429),
        (SEARCH_A, 105, 211),
        (SEARCH_B, 26, 53),
    ]
    assert codegen.date == dt.date(2023, 5, 3)
    assert codegen.hidden_authors == 5
    assert codegen.abstract.endswith("https://github.com/salesforce/CodeGen2.")


def test_seed_daily_and_search_sighting_keep_date_and_upvotes() -> None:
    merged = {p.title: p for p in merge_papers(seed_papers())}
    retrieval = merged["Scaling Retrieval-Based Language Models with a Trillion-Token Datastore"]
    assert retrieval.source_names == (DAILY, SEARCH_B)
    assert [s.upvotes for s in retrieval.sightings] == [3, None]
    assert retrieval.upvotes == 3
    assert retrieval.date == dt.date(2024, 7, 9)


def test_seed_repeated_mila_entry() -> None:
    merged = merge_papers(seed_papers())
    (bcg,) = [p for p in merged if p.title.startswith("BCG immunization")]
    assert [(s.source, s.line) for s in bcg.sightings] == [
        (MILA, 67),
        (MILA, 77),
        (MILA, 87),
        (MILA, 97),
    ]
    assert len(bcg.authors) == 9


def test_seed_merge_is_order_independent_and_idempotent() -> None:
    loaded = seed_papers()
    merged = merge_papers(loaded)
    shuffled = loaded[:]
    random.Random(7).shuffle(shuffled)
    assert merge_papers(shuffled) == merged
    assert merge_papers(reversed(loaded)) == merged
    assert merge_papers(merged) == merged
    assert [p.key for p in merged] == sorted(p.key for p in merged)


# --------------------------------------------------------------------------------------
# Conflict rules


def test_identity_folds_case_punctuation_and_width() -> None:
    merged = merge_papers(
        [
            paper("Tree Cross-Attention!", "a"),
            paper("tree  cross attention", "b"),
            paper("Ｔｒｅｅ Cross Attention", "c"),
        ]
    )
    assert len(merged) == 1
    assert merged[0].source_names == ("a", "b", "c")
    assert merged[0].title == "Tree Cross-Attention!"  # the earliest sighting's spelling


def test_arxiv_id_is_identity_even_when_titles_differ() -> None:
    merged = merge_papers(
        [
            paper("Old Title", "a", arxiv_id="2401.00001", arxiv_version=1),
            paper("New Title", "b", arxiv_id="2401.00001", arxiv_version=3),
            paper("New Title", "c", arxiv_id="2401.00002"),
        ]
    )
    assert [p.key for p in merged] == ["arxiv:2401.00001", "arxiv:2401.00002"]
    assert merged[0].arxiv_version == 3
    assert len(merged[0].sightings) == 2


def test_title_only_record_joins_the_unique_arxiv_record_with_its_title() -> None:
    merged = merge_papers(
        [
            paper("Tree Cross Attention", "listing"),
            paper("Tree cross attention.", "feed", arxiv_id="2309.17388"),
        ]
    )
    assert [p.key for p in merged] == ["arxiv:2309.17388"]
    assert merged[0].source_names == ("feed", "listing")
    ambiguous = merge_papers(
        [
            paper("Same Title", "listing"),
            paper("Same Title", "x", arxiv_id="2401.00001"),
            paper("Same Title", "y", arxiv_id="2401.00002"),
        ]
    )
    assert len(ambiguous) == 3


def test_longest_complete_abstract_wins() -> None:
    merged = merge_papers(
        [
            paper(
                source="a",
                abstract="A much longer abstract that was cut off in the mi",
                abstract_truncated=True,
            ),
            paper(source="b", abstract="Short but whole."),
            paper(source="c", abstract="Longer and also whole."),
            paper(source="d"),
        ]
    )
    assert (merged[0].abstract, merged[0].abstract_truncated) == ("Longer and also whole.", False)


def test_truncated_abstract_only_when_nothing_better() -> None:
    merged = merge_papers(
        [
            paper(source="a"),
            paper(source="b", abstract="Cut sho", abstract_truncated=True),
            paper(source="c", abstract="Cut", abstract_truncated=True),
        ]
    )
    assert (merged[0].abstract, merged[0].abstract_truncated) == ("Cut sho", True)


def test_author_list_with_most_names_wins_with_its_hidden_count() -> None:
    merged = merge_papers(
        [
            paper(source="daily", hidden_authors=39),
            paper(source="mila", authors=("Ada Lovelace", "Alan Turing"), hidden_authors=15),
            paper(source="other", authors=("Ada Lovelace",), hidden_authors=1),
        ]
    )
    assert merged[0].authors == ("Ada Lovelace", "Alan Turing")
    assert merged[0].hidden_authors == 15
    only_counts = merge_papers([paper(source="a"), paper(source="b", hidden_authors=4)])
    assert (only_counts[0].authors, only_counts[0].hidden_authors) == ((), 4)


def test_dates_links_categories_organisation_and_data() -> None:
    merged = merge_papers(
        [
            paper(
                source="b",
                date=dt.date(2024, 3, 1),
                organization="Apple",
                links={"abs": "https://b/abs", "code": "https://b/code"},
                categories=("cs.LG", "cs.CL"),
            ),
            paper(
                source="a",
                date=dt.date(2024, 5, 1),
                links={"abs": "https://a/abs", "pdf": "https://a/pdf"},
                categories=("stat.ML", "cs.LG"),
            ),
            paper(source="c", organization="Google"),
        ]
    )
    (one,) = merged
    assert one.date == dt.date(2024, 3, 1)
    assert one.links == {"abs": "https://a/abs", "pdf": "https://a/pdf", "code": "https://b/code"}
    assert one.categories == ("stat.ML", "cs.LG", "cs.CL")
    assert one.organization == "Apple"


def test_sightings_sorted_by_source_then_line() -> None:
    merged = merge_papers(
        [paper(source="b", line=9), paper(source="a", line=30), paper(source="a", line=4)]
    )
    assert [(s.source, s.line) for s in merged[0].sightings] == [("a", 4), ("a", 30), ("b", 9)]


def test_every_sighting_is_kept_even_identical_ones() -> None:
    same = Paper(title="X", sightings=(Sighting("s"),))
    assert len(merge_papers([same, same])[0].sightings) == 2


def test_output_sorted_by_key_and_empty_input() -> None:
    merged = merge_papers([paper("Zeta"), paper("alpha"), paper("Mu", arxiv_id="2401.00001")])
    assert [p.key for p in merged] == ["arxiv:2401.00001", "title:alpha", "title:zeta"]
    assert merge_papers([]) == []


def test_merge_is_linear_enough() -> None:
    many = [paper(f"Paper {i % 5000}", f"s{i % 7}", i) for i in range(60_000)]
    start = time.perf_counter()
    merged = merge_papers(many)
    assert len(merged) == 5000
    assert time.perf_counter() - start < 3.0
