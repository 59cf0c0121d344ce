"""The scraped-listing readers (mila, hf-search, hf-daily) on the real seed listings and on
small inline listings, one per quirk of the formats."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.model import Paper, Problem
from digest.sources.base import Reader, Source
from digest.sources.listings import (
    READERS,
    infer_page_year,
    looks_cut,
    organization_name,
    parse_date_line,
)
from digest.sources.loader import load_source

DATA = Path(__file__).resolve().parent.parent / "data"
SEEDS = {
    "mila-publications.txt": "mila",
    "hf-papers-search-a.txt": "hf-search",
    "hf-papers-search-b.txt": "hf-search",
    "hf-daily-papers.txt": "hf-daily",
}
READER = {reader.name: reader for reader in READERS}


def read(fmt: str, text: str, **source: object) -> tuple[list[Paper], list[Problem]]:
    """Read an inline listing (dedented) with the named reader."""
    lines = textwrap.dedent(text).strip("\n").split("\n")
    src = Source(name="inline", path=Path("inline.txt"), **source)  # type: ignore[arg-type]
    return split(READER[fmt].read(lines, src))


def read_seed(name: str, **source: object) -> tuple[list[Paper], list[Problem]]:
    """Read a seed listing the way the loader does: line by line from the file."""
    path = DATA / name
    src = Source(name=path.stem, path=path, **source)  # type: ignore[arg-type]
    with path.open(encoding="utf-8") as f:
        lines = (line.rstrip("\n") for line in f)
        return split(READER[SEEDS[name]].read(lines, src))


def split(items: Iterator[Paper | Problem]) -> tuple[list[Paper], list[Problem]]:
    papers: list[Paper] = []
    problems: list[Problem] = []
    for item in items:
        assert isinstance(item, Paper | Problem)
        (papers if isinstance(item, Paper) else problems).append(item)  # type: ignore[arg-type]
    return papers, problems


def by_title(papers: list[Paper], start: str) -> Paper:
    (paper,) = [p for p in papers if p.title.startswith(start)]
    return paper


# --------------------------------------------------------------------------------------
# Sniffing


def test_readers_are_readers() -> None:
    assert [r.name for r in READERS] == ["mila", "hf-search", "hf-daily"]
    for reader in READERS:
        assert isinstance(reader, Reader)
        assert reader.description


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_each_reader_recognises_only_its_own_seed(name: str) -> None:
    head = (DATA / name).read_text(encoding="utf-8")[: 64 * 1024]
    scores = {r.name: r.sniff(head, DATA / name) for r in READERS}
    own = SEEDS[name]
    assert scores[own] >= 80
    assert all(score == 0 for fmt, score in scores.items() if fmt != own), scores


@pytest.mark.parametrize(
    "head",
    [
        json.dumps([{"title": "Tree Cross Attention", "authors": ["Leo Feng"]}]),
        '{"papers": []}',
        '<?xml version="1.0"?><feed><entry><title>Daily Papers</title></entry></feed>',
        "@article{feng2023,\n  title = {Tree Cross Attention},\n  author = {Leo Feng}\n}",
        "  \n\n[1, 2]",
        "",
        "just one line",
    ],
)
def test_structured_and_empty_heads_are_nobodys(head: str) -> None:
    assert [r.sniff(head, Path("x.txt")) for r in READERS] == [0, 0, 0]


def test_sniff_without_the_page_header() -> None:
    search = "\n".join(
        f"Title number {i}: a study\n" + "We show that this works. " * 20 for i in range(5)
    )
    daily = "A title\n\nAn abstract.\n\n  • 3 authors\n·\nSep 9 2\n"
    assert READER["hf-search"].sniff(search, Path("x")) > 0
    assert READER["hf-daily"].sniff(search, Path("x")) == 0
    assert READER["hf-daily"].sniff(daily, Path("x")) > 0
    assert READER["hf-search"].sniff(daily, Path("x")) == 0


def test_sniff_a_page_cut_off_after_its_header() -> None:
    search = "Get trending papers in your email inbox!\nSubscribeA Title Only"
    daily = "new\nSubscribe\nDaily Papers\nbyAK and the research community\nOct 30\nA Title"
    assert [r.sniff(search, Path("x")) for r in READERS] == [0, 55, 0]
    assert [r.sniff(daily, Path("x")) for r in READERS] == [0, 0, 60]


def test_loader_picks_each_seed_by_sniffing() -> None:
    for name, fmt in SEEDS.items():
        result = load_source(READER, Source(name=name, path=DATA / name))
        assert result.format == fmt
        assert result.papers


# --------------------------------------------------------------------------------------
# mila on the seed

MOLECULAR = "Towards Foundational Models for Molecular Learning on Large-Scale Multi-Task Datasets"
BCG = (
    "BCG immunization induces CX3CR1hi effector memory T cells to provide cross-protection "
    "via IFN-γ-mediated trained immunity."
)


def test_mila_seed_entries_and_titles() -> None:
    papers, _ = read_seed("mila-publications.txt")
    assert len(papers) == 12
    assert len({p.key for p in papers}) == 9
    assert [p.sightings[0].line for p in papers] == [1, 9, 14, 19, 25, 56, 62, 67, 77, 87, 97, 107]
    assert [p.title for p in papers][:7] == [
        "The Cost of Scaling Down Large Language Models: Reducing Model Size Affects Memory "
        "before In-context Learning",
        "The Curse of Diversity in Ensemble-Based Exploration",
        "On the Stability of Iterative Retraining of Generative Models on their own Data",
        "Towards Foundation Models for Knowledge Graph Reasoning",
        MOLECULAR,
        "Tree Cross Attention",
        "Würstchen: An Efficient Architecture for Large-Scale Text-to-Image Diffusion Models",
    ]
    assert [p.title for p in papers][7:11] == [BCG] * 4
    assert papers[11].title == "Computational pathology: A survey review and the way forward"
    assert all(
        s.source == "mila-publications" and s.position is None for p in papers for s in p.sightings
    )


def test_mila_seed_authors() -> None:
    papers, _ = read_seed("mila-publications.txt")
    assert [len(p.authors) for p in papers] == [6, 3, 3, 4, 29, 4, 4, 9, 9, 9, 9, 22]
    assert [p.hidden_authors for p in papers] == [0, 0, 0, 0, 15, 0, 0, 0, 0, 0, 0, 2]
    assert papers[1].authors == ("Zhixuan Lin", "Pierluca D'Oro", "Evgenii Nikishin")
    assert papers[5].authors == (
        "Leo Feng",
        "Frederick Tung",
        "Hossein Hajimirsadeghi",
        "Mohamed Osama Ahmed",
    )
    assert papers[6].authors == (
        "Pablo Pernias",
        "Dominic Rampas",
        "Mats Leon Richter",
        "Marc Aubreville",
    )
    assert papers[7].authors[0] == "Kim A. Tran"
    molecular = papers[4].authors
    # The marker sits after the 19th name; the 10 names after it are authors too.
    assert molecular[18:20] == ("Cas Wognum", "Maciej Sypetkowski")
    assert molecular[-1] == "Dominic Masters"
    pathology = papers[11].authors
    assert pathology[-3:] == ("Bich Ngoc Nguyen", "Dimitris Samaras", "Konstantinos N. Plataniotis")


def test_mila_seed_abstracts_are_stitched() -> None:
    papers, _ = read_seed("mila-publications.txt")
    assert all("voir plus" not in p.abstract and "…" not in p.abstract for p in papers)
    cost, curse, stability, kg, molecular, tree = papers[:6]
    assert "effects of weight pruning – a popular technique for reducing model size – on" in (
        cost.abstract
    )
    assert cost.abstract.startswith("We study how down-scaling large language model (LLM)")
    assert cost.abstract.endswith("underpins the said disparity.")
    assert "a well-established exploration strategy -- can" in curse.abstract
    assert "*the curse of diversity*" in curse.abstract
    assert "surpasses a typical human's ability" in stability.abstract
    assert "transferable representations such as a vocabulary" in kg.abstract
    assert "In molecular machine learning, however, where datasets are often" in (
        molecular.abstract
    )
    assert molecular.abstract.endswith("available in Part 1 and Part 2.")
    assert tree.abstract == (
        "Cross Attention is a popular method for retrieving information from a set of context "
        "tokens for making predictions. At inference time, for each prediction, Cross "
        "Attention scans the full set of"
    )
    assert [p.abstract_truncated for p in papers] == [False] * 5 + [True] + [False] * 6
    assert [bool(p.abstract) for p in papers] == [True] * 6 + [False] * 6


def test_mila_seed_cut_off_last_entry() -> None:
    papers, problems = read_seed("mila-publications.txt")
    assert [(p.kind, p.line, p.file) for p in problems] == [
        ("truncated-entry", 107, str(DATA / "mila-publications.txt"))
    ]
    assert papers[-1].title.startswith("Computational pathology")


# --------------------------------------------------------------------------------------
# hf-search on the seeds


def test_search_seed_a() -> None:
    papers, problems = read_seed("hf-papers-search-a.txt")
    assert problems == []
    assert len(papers) == 239
    assert len({p.key for p in papers}) == 239
    first, last = papers[0], papers[-1]
    assert first.title == (
        "A Bayesian Approach To Analysing Training Data Attribution In Deep Learning"
    )
    assert first.abstract.startswith("Training data attribution (TDA) techniques find")
    assert first.abstract.endswith("https://github.com/ElisaNguyen/bayesian-tda.")
    assert papers[1].title == "Unit Scaling: Out-of-the-Box Low-Precision Training"
    assert by_title(papers, "A Large-Scale Exploration of").title == (
        "A Large-Scale Exploration of $μ$-Transfer"
    )
    assert last.abstract.endswith("resistance of LLMs to alignment finetuning.")
    assert [p.sightings[0].position for p in papers] == list(range(1, 240))
    assert [p.sightings[0].line for p in papers] == list(range(3, 480, 2))
    assert all(p.authors == () and p.hidden_authors == 0 and p.date is None for p in papers)


def test_search_seed_a_only_the_ellipsis_abstract_is_truncated() -> None:
    papers, _ = read_seed("hf-papers-search-a.txt")
    (cut,) = [p for p in papers if p.abstract_truncated]
    assert cut.title == "Compressing Pre-trained Models of Code into 3 MB"
    assert cut.abstract.endswith("More importantly, ...")
    assert cut.sightings[0].position == 61


def test_search_seed_b() -> None:
    papers, problems = read_seed("hf-papers-search-b.txt")
    assert problems == []
    assert len(papers) == 223
    assert len({p.key for p in papers}) == 223
    assert papers[0].title == "Variational Lossy Autoencoder"
    assert papers[2].abstract.startswith("Known for their impressive performance in generative")
    deft = by_title(papers, "From PEFT to DEFT")
    # The page prints whole abstracts; a missing full stop is the authors' own.
    assert deft.abstract.endswith("works complementary with quantized and pruned models")
    assert not deft.abstract_truncated
    assert not any(p.abstract_truncated for p in papers)
    assert papers[-1].sightings[0].position == 223
    assert papers[-1].sightings[0].line == 447


# --------------------------------------------------------------------------------------
# hf-daily on the seed


def test_daily_seed_entries() -> None:
    papers, _ = read_seed("hf-daily-papers.txt")
    assert len(papers) == 99
    assert len({p.key for p in papers}) == 99
    assert [p.sightings[0].position for p in papers] == list(range(1, 100))
    assert [p.sightings[0].line for p in papers][:3] == [13, 21, 29]
    first = papers[0]
    assert first.title == (
        "SkeletonX: Data-Efficient Skeleton-based Action Recognition via Cross-sample "
        "Feature Aggregation"
    )
    assert first.abstract.startswith("While current skeleton action recognition models")
    assert first.abstract.endswith("https://github.com/zzysteve/SkeletonX")
    assert first.hidden_authors == 4 and first.authors == ()
    assert by_title(papers, "PaLM:").hidden_authors == 67
    assert by_title(papers, "LeC$^2$O-NeRF").title.startswith("LeC$^2$O-NeRF: Learning")


def test_daily_seed_dates_and_upvotes() -> None:
    papers, _ = read_seed("hf-daily-papers.txt")
    got = [(p.date, p.sightings[0].upvotes) for p in papers[:7]]
    assert got == [
        (dt.date(2025, 4, 16), None),  # "Apr 16": the page's year
        (dt.date(2025, 9, 9), None),
        (dt.date(2024, 12, 9), 3),  # "Dec 9, 2024 3"
        (dt.date(2021, 4, 15), None),
        (dt.date(2022, 7, 19), None),
        (dt.date(2025, 9, 28), None),
        (dt.date(2025, 3, 25), 2),  # "Mar 25 2"
    ]
    orca = by_title(papers, "Orca:")
    assert (orca.date, orca.upvotes) == (dt.date(2023, 6, 5), 18)
    assert all(p.sightings[0].date == p.date for p in papers)
    assert sum(p.upvotes is not None for p in papers) == 19
    assert sum(p.date is not None and p.date.year == 2025 for p in papers) == 24
    assert min(p.date for p in papers if p.date) == dt.date(2017, 4, 1)


def test_daily_seed_page_year_is_inferred_and_can_be_configured() -> None:
    inferred, problems = read_seed("hf-daily-papers.txt")
    assert all(p.kind != "unknown-year" for p in problems)
    assert inferred[0].date == dt.date(2025, 4, 16)
    by_year, _ = read_seed("hf-daily-papers.txt", year=2026)
    by_date, _ = read_seed("hf-daily-papers.txt", date=dt.date(2024, 10, 30))
    assert by_year[0].date == dt.date(2026, 4, 16)
    assert by_date[0].date == dt.date(2024, 4, 16)
    # A printed year is never touched by the page year.
    assert by_date[2].date == dt.date(2024, 12, 9)
    assert by_year[3].date == dt.date(2021, 4, 15)


def test_daily_seed_organisation_entry() -> None:
    papers, _ = read_seed("hf-daily-papers.txt")
    (org,) = [p for p in papers if p.organization]
    assert org.title == (
        "Pretraining with hierarchical memories: separating long-tail and common knowledge"
    )
    assert org.organization == "Apple"
    assert (org.hidden_authors, org.authors) == (0, ())
    assert org.abstract.startswith("The impressive performance gains of modern language")
    assert (org.date, org.upvotes, org.sightings[0].position) == (dt.date(2025, 9, 29), 2, 84)


def test_daily_seed_truncation() -> None:
    papers, problems = read_seed("hf-daily-papers.txt")
    assert [(p.kind, p.line) for p in problems] == [("truncated-entry", 797)]
    last = papers[-1]
    assert last.title == "RandLoRA: Full-rank parameter-efficient fine-tuning of large models"
    assert last.abstract.endswith("demonstrating its efficacy.")
    assert (last.date, last.hidden_authors, last.sightings[0].position) == (None, 0, 99)
    (cut,) = [p for p in papers if p.abstract_truncated]
    assert cut.abstract.endswith("by 15.4\\% and 23.9\\%. Our code will be released")


def test_reading_every_seed_is_fast() -> None:
    start = time.perf_counter()
    for name in SEEDS:
        read_seed(name)
    assert time.perf_counter() - start < 1.0


# --------------------------------------------------------------------------------------
# mila quirks, inline


# Abstracts long enough to read as prose (see `is_prose`), each on one line.
PROSE = (
    "We study graphs at length. They are great. We show it in many settings, and it works "
    "well in all of them, which we did not expect when we started this study."
)
PROSE_2 = (
    "Cross Attention is a popular method for retrieving information from a set of context "
    "tokens for making predictions, and we study it here."
)


def test_mila_voir_plus_joins_the_two_halves() -> None:
    papers, problems = read(
        "mila",
        """
        Neural Things: A Study
        Ada Lovelace
        In molecular learning, however, wh… (voir plus)ere data are small, we $x^2$ *win*.
        """,
    )
    assert problems == []
    assert (
        papers[0].abstract
        == "In molecular learning, however, where data are small, we $x^2$ *win*."
    )
    assert not papers[0].abstract_truncated


def test_mila_hidden_authors_and_names_after_the_marker() -> None:
    (paper,), _ = read(
        "mila",
        f"""
        Graph Things: A Study
        Ada Lovelace
        Alan Turing … (voir 15 de plus)
        Grace Hopper
        Kim A. Tran
        {PROSE}
        """,
    )
    assert paper.authors == ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Kim A. Tran")
    assert paper.hidden_authors == 15


def test_mila_english_markers() -> None:
    (paper,), _ = read(
        "mila",
        """
        Graph Things: A Study
        Ada Lovelace … (see 3 more)
        Grace Hopper
        We st… (see more)udy graphs and they are great, as everyone knows.
        """,
    )
    assert paper.hidden_authors == 3
    assert paper.authors == ("Ada Lovelace", "Grace Hopper")
    assert paper.abstract == "We study graphs and they are great, as everyone knows."


def test_mila_titles_and_names_told_apart() -> None:
    papers, problems = read(
        "mila",
        f"""
        Tree Cross Attention
        Leo Feng
        Mohamed Osama Ahmed
        Neural Implicit Surface Evolution
        Vincent Quoc-Huy Trinh
        Pierluca D'Oro
        Marc van der Berg
        BCG immunization induces CX3CR1hi effector memory T cells.
        Kim A. Tran
        Computational pathology: A survey review and the way forward
        Alejandra Zambrano Luna
        {PROSE}
        Mats Leon Richter
        Luis Müller
        """,
    )
    assert [p.title for p in papers] == [
        "Tree Cross Attention",
        "Neural Implicit Surface Evolution",
        "BCG immunization induces CX3CR1hi effector memory T cells.",
        "Computational pathology: A survey review and the way forward",
        # After an abstract comes a title, even one shaped like a name.
        "Mats Leon Richter",
    ]
    assert papers[1].authors == ("Vincent Quoc-Huy Trinh", "Pierluca D'Oro", "Marc van der Berg")
    assert papers[4].authors == ("Luis Müller",)
    assert [p.kind for p in problems] == ["truncated-entry"]


def test_mila_short_abstract_is_told_from_the_next_title_by_what_follows() -> None:
    papers, problems = read(
        "mila",
        """
        Graph Things: A Study
        Ada Lovelace
        A short abstract.
        BCG immunization induces memory T cells.
        Grace Hopper
        Withdrawn by the authors
        Last Title: Done
        Alan Turing
        """,
    )
    assert [(p.title, p.abstract) for p in papers] == [
        ("Graph Things: A Study", "A short abstract."),
        ("BCG immunization induces memory T cells.", "Withdrawn by the authors"),
        ("Last Title: Done", ""),
    ]
    assert [p.kind for p in problems] == ["truncated-entry"]


def test_mila_entry_without_abstract_and_repeats() -> None:
    papers, problems = read(
        "mila",
        f"""
        Würstchen: An Efficient Architecture
        Pablo Pernias
        Würstchen: An Efficient Architecture
        Pablo Pernias
        Tree Cross Attention
        Leo Feng
        {PROSE_2}
        """,
    )
    assert [p.title for p in papers] == ["Würstchen: An Efficient Architecture"] * 2 + [
        "Tree Cross Attention"
    ]
    assert [p.sightings[0].line for p in papers] == [1, 3, 5]
    assert [p.abstract for p in papers][:2] == ["", ""]
    assert problems == []


def test_mila_abstract_cut_without_continuation() -> None:
    papers, problems = read(
        "mila",
        """
        Tree Cross Attention
        Leo Feng
        At inference time, for e… (voir plus)ach prediction, Cross Attention scans the full set of
        Another Title: With a Colon
        Ada Lovelace
        This abstract stops right at the marker. Nothing follows it here at all… (voir plus)
        Last Title: Complete
        Ada Lovelace
        A complete abstract that ends properly with a full stop, as abstracts usually do here.
        """,
    )
    assert [p.abstract_truncated for p in papers] == [True, True, False]
    assert (
        papers[1].abstract
        == "This abstract stops right at the marker. Nothing follows it here at all"
    )
    assert problems == []


def test_mila_file_ending_inside_an_abstract_or_after_a_title() -> None:
    papers, problems = read(
        "mila",
        """
        Tree Cross Attention
        Leo Feng
        At inference time, for each prediction, Cross Attention scans the full set of tokens and
        """,
    )
    assert papers[0].abstract_truncated
    assert [(p.kind, p.line) for p in problems] == [("truncated-entry", 1)]
    papers, problems = read("mila", "Only A Title: Nothing Else")
    assert [p.title for p in papers] == ["Only A Title: Nothing Else"]
    assert [(p.kind, p.line) for p in problems] == [("truncated-entry", 1)]


def test_mila_abstract_before_any_title_is_a_problem() -> None:
    papers, problems = read(
        "mila",
        f"""
        {PROSE}
        Real Title: Here
        Ada Lovelace
        """,
    )
    assert [p.title for p in papers] == ["Real Title: Here"]
    assert [(p.kind, p.line) for p in problems] == [("missing-title", 1), ("truncated-entry", 2)]


# --------------------------------------------------------------------------------------
# hf-search quirks, inline

LONG = "We study a thing in depth. " * 12


def test_search_header_glued_subscribe_and_ranks() -> None:
    papers, problems = read(
        "hf-search",
        f"""
        Get trending papers in your email inbox once a day!
        Get trending papers in your email inbox!
        SubscribeiTransformer: Inverted Transformers
        {LONG}
        Subscriber Churn Prediction
        {LONG}
        """,
    )
    assert problems == []
    assert [p.title for p in papers] == [
        "iTransformer: Inverted Transformers",
        "Subscriber Churn Prediction",
    ]
    assert [(s.position, s.line) for p in papers for s in p.sightings] == [(1, 3), (2, 5)]
    assert papers[0].abstract == LONG.strip()


def test_search_entry_without_abstract_and_short_abstract() -> None:
    papers, problems = read(
        "hf-search",
        f"""
        First Title Without Abstract
        Second Title
        {LONG}
        Third Title
        Withdrawn.
        Fourth Title
        {LONG}
        """,
    )
    assert [(p.title, p.abstract[:10]) for p in papers] == [
        ("First Title Without Abstract", ""),
        ("Second Title", "We study a"),
        ("Third Title", "Withdrawn."),
        ("Fourth Title", "We study a"),
    ]
    assert [p.sightings[0].position for p in papers] == [1, 2, 3, 4]
    assert problems == []


def test_search_truncation_rules() -> None:
    papers, problems = read(
        "hf-search",
        f"""
        Ellipsis
        {LONG}and then, ...
        No Full Stop Mid-File
        {LONG}and code at github
        Cut At The End
        {LONG}and then the file sto
        """,
    )
    assert [p.abstract_truncated for p in papers] == [True, False, True]
    assert [(p.kind, p.line) for p in problems] == [("truncated-entry", 5)]
    papers, problems = read("hf-search", f"Title\n{LONG}\nLast Title Alone")
    assert papers[-1].abstract == ""
    assert [(p.kind, p.line) for p in problems] == [("truncated-entry", 3)]


def test_search_abstract_without_title() -> None:
    papers, problems = read("hf-search", f"{LONG}\nTitle\n{LONG}")
    assert [p.title for p in papers] == ["Title"]
    assert papers[0].sightings[0].position == 1
    assert [(p.kind, p.line) for p in problems] == [("missing-title", 1)]


# --------------------------------------------------------------------------------------
# hf-daily quirks, inline

HEADER = """
new

Get trending papers in your email inbox!

Subscribe

Daily Papers

byAK and the research community

Oct 30
"""


def daily(entries: str, header: str = HEADER) -> str:
    return textwrap.dedent(header) + "\n" + textwrap.dedent(entries)


def test_daily_entry_fields() -> None:
    papers, problems = read(
        "hf-daily",
        daily(
            """
            First: A Paper
            An abstract with $\\alpha$ and *emphasis* & more.
              • 1 author
            ·
            Sep 9
            Second: Another
            Its abstract.
              • 12 authors
            ·
            Dec 9, 2024 3
            """
        ),
    )
    assert problems == []
    first, second = papers
    assert first.abstract == "An abstract with $\\alpha$ and *emphasis* & more."
    assert (first.hidden_authors, first.date, first.upvotes) == (1, dt.date(2025, 9, 9), None)
    assert (second.hidden_authors, second.date, second.upvotes) == (12, dt.date(2024, 12, 9), 3)
    assert [(s.position, s.line) for p in papers for s in p.sightings] == [(1, 14), (2, 19)]


def test_daily_organisation_lines() -> None:
    papers, _ = read(
        "hf-daily",
        daily(
            """
            One
            Abstract one.
            apple Apple
            ·
            Sep 29 2
            Two
            Abstract two.
            Google DeepMind
            ·
            Sep 29, 2024 2
            """
        ),
        year=2025,
    )
    assert papers[0].organization == "Apple"
    assert papers[1].organization == "Google DeepMind"
    assert papers[1].date == dt.date(2024, 9, 29)


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("apple Apple", "Apple"),
        ("facebook AI at Meta", "AI at Meta"),
        ("Qwen Qwen", "Qwen"),
        ("deepseek-ai DeepSeek", "DeepSeek"),
        ("ByteDance-Seed ByteDance Seed", "ByteDance Seed"),
        ("Google DeepMind", "Google DeepMind"),
        ("Stanford University", "Stanford University"),
        ("nvidia", "nvidia"),
    ],
)
def test_organization_name(line: str, name: str) -> None:
    assert organization_name(line) == name


def test_daily_year_from_header_or_unknown() -> None:
    entry = "Title\nAbstract.\n  • 2 authors\n·\nMar 3\n"
    papers, problems = read("hf-daily", daily(entry, "Daily Papers\nOct 30, 2023\n"))
    assert papers[0].date == dt.date(2023, 3, 3)
    assert problems == []
    papers, problems = read("hf-daily", daily(entry))
    assert papers[0].date is None and papers[0].sightings[0].date is None
    assert [(p.kind, p.severity, p.line) for p in problems] == [("unknown-year", "warning", 11)]


def test_infer_page_year_is_latest_printed_year_plus_one() -> None:
    entries = "".join(
        f"T{i}\nAbstract.\n  • 2 authors\n·\n{date}\n"
        for i, date in enumerate(["Mar 3", "Jan 2, 2019", "Feb 5, 2021 4", "Apr 1"])
    )
    papers, problems = read("hf-daily", daily(entries))
    assert problems == []
    assert [p.date for p in papers] == [
        dt.date(2022, 3, 3),
        dt.date(2019, 1, 2),
        dt.date(2021, 2, 5),
        dt.date(2022, 4, 1),
    ]
    assert infer_page_year([]) is None


def test_daily_bad_date_missing_date_and_stray_lines() -> None:
    papers, problems = read(
        "hf-daily",
        daily(
            """
            Bad Date
            Abstract.
              • 2 authors
            ·
            Feb 30, 2023
            No Date
            Abstract.
              • 2 authors
            ·
            After It
            Abstract.
              • 3 authors
            ·
            Jun 5, 2023 18
              • 4 authors
            """
        ),
    )
    assert [p.title for p in papers] == ["Bad Date", "No Date", "After It"]
    assert [p.date for p in papers] == [None, None, dt.date(2023, 6, 5)]
    assert [p.sightings[0].position for p in papers] == [1, 2, 3]
    assert [(p.kind, p.line) for p in problems] == [
        ("bad-date", 18),
        ("missing-date", 19),
        ("stray-line", 28),
    ]


def test_daily_cut_off_entry() -> None:
    papers, problems = read("hf-daily", daily("Cut: Entry\nIts abstract was still loading"))
    assert papers[0].title == "Cut: Entry"
    assert papers[0].abstract_truncated
    assert [(p.kind, p.line) for p in problems] == [("truncated-entry", 13)]


def test_daily_streams_when_the_year_is_known() -> None:
    pulled: list[int] = []

    def lines() -> Iterator[str]:
        for number, line in enumerate(daily("T\nA.\n  • 2 authors\n·\nMar 3\n" * 1000).split("\n")):
            pulled.append(number)
            yield line

    source = Source(name="s", path=Path("s.txt"), year=2025)
    first = next(iter(READER["hf-daily"].read(lines(), source)))
    assert isinstance(first, Paper) and first.date == dt.date(2025, 3, 3)
    assert len(pulled) < 30


# --------------------------------------------------------------------------------------
# Shared rules


@pytest.mark.parametrize(
    ("text", "cut"),
    [
        ("A sentence.", False),
        ("Ends with a question?", False),
        ("Code at https://github.com/x/y", False),
        ("Code: www.example.org/a", False),
        ("(see the appendix)", False),
        ("we call it *the curse*", False),
        ("in time $O(n)$", False),
        ("Trailing ellipsis…", True),
        ("Three dots...", True),
        ("no final punctuation", True),
        ("ends with a colon:", True),
        ("", False),
    ],
)
def test_looks_cut(text: str, cut: bool) -> None:
    assert looks_cut(text) is cut


def test_parse_date_line() -> None:
    assert parse_date_line("Sep 9") == parse_date_line("September 9")
    line = parse_date_line("Dec 9, 2024 3")
    assert line is not None and (line.month, line.day, line.year, line.upvotes) == (12, 9, 2024, 3)
    line = parse_date_line("Mar 25 2")
    assert line is not None and (line.year, line.upvotes) == (None, 2)
    assert parse_date_line("Foo 9") is None
    assert parse_date_line("Sep 9, 24") is None
