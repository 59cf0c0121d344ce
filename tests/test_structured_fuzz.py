"""Random, mutated and truncated versions of each sample file, fed to its reader: nothing
escapes `read` or `sniff`, and everything read is a well-formed Paper or Problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.model import Paper, Problem, split_arxiv_id
from digest.sources import structured
from digest.sources.base import Reader, Source
from digest.sources.fields import is_http_url

FORMATS = Path(__file__).parent / "fixtures" / "formats"
READERS = {reader.name: reader for reader in structured.READERS}
SOURCE = Source(name="fuzz", path=Path("fuzz"))
# Characters that matter to the formats' syntax, so mutations hit the parsers' edges.
SYNTAX = "<>/&;=\"'{}[]:,@%\\$#\n\t ?!-x1\u00e9\ufffd\x00"

SAMPLES = {
    "arxiv_api_legacy_2016_del_maestro.xml": "arxiv-atom",
    "arxiv_api_2026_q_testing_body.xml": "arxiv-atom",
    "arxiv_rss_2026_cs_lg_trimmed_distill.xml": "arxiv-rss",
    "oai_pmh_arxiv_listrecords_hep-th_hepcrawl.xml": "oai-pmh",
    "hf_daily_papers_2024-05-27.json": "hf-api",
    "hf_daily_papers_2026-08-13.json": "hf-api",
    "csl_json_bbt_pandoc_export.csl.json": "csl-json",
    "zotero_bbt_ml_preprints_2163.json": "bbt-json",
    "zotero_bbt_ml_preprints_2163.biblatex.bib": "bibtex",
    "d2l_references.bib": "bibtex",
}
FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def sample(name: str) -> str:
    """The fixture's text; the big BibTeX file cut to its first entries to keep it quick."""
    text = (FORMATS / name).read_text(encoding="utf-8")
    if name == "d2l_references.bib":
        text = text[: text.index("\n\n@", 8000)]
    return text


def jsonl_sample() -> str:
    """Canonical JSON Lines, as `digest papers --json` writes them."""
    import json

    reader = READERS["hf-api"]
    text = sample("hf_daily_papers_2024-05-27.json")
    papers = [p for p in reader.read(text.split("\n"), SOURCE) if isinstance(p, Paper)]
    return "\n".join(json.dumps(p.to_json()) for p in papers)


TEXTS = {name: sample(name) for name in SAMPLES}
TEXTS["papers.jsonl"] = jsonl_sample()
FORMAT_OF = {**SAMPLES, "papers.jsonl": "jsonl"}


@st.composite
def truncated(draw: st.DrawFn, text: str) -> str:
    """`text` cut at any point."""
    return text[: draw(st.integers(0, len(text)))]


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """`text` with a few spans replaced by syntax characters or arbitrary text."""
    for _ in range(draw(st.integers(1, 8))):
        start = draw(st.integers(0, len(text)))
        end = min(len(text), start + draw(st.integers(0, 40)))
        patch = draw(st.text(alphabet=SYNTAX, max_size=6) | st.text(max_size=6))
        text = text[:start] + patch + text[end:]
    return text


@st.composite
def reshuffled(draw: st.DrawFn, text: str) -> str:
    """`text` with lines dropped, repeated or moved."""
    lines = text.split("\n")
    picks = draw(st.lists(st.integers(0, max(0, len(lines) - 1)), max_size=len(lines) + 5))
    return "\n".join(lines[i] for i in sorted(picks)) if picks else ""


def variants(text: str) -> st.SearchStrategy[str]:
    """Every kind of damage, plus text that has nothing to do with the sample."""
    return st.one_of(truncated(text), mutated(text), reshuffled(text), st.text(max_size=300))


def check(reader: Reader, text: str) -> None:
    """`reader` reads `text` without raising and yields only well-formed items."""
    items = list(reader.read(text.split("\n"), SOURCE))
    for item in items:
        assert isinstance(item, Paper | Problem)
        if isinstance(item, Problem):
            assert item.file == "fuzz"
            assert item.line >= 0
            assert item.message
            continue
        assert item.title.strip() == item.title and item.title
        assert all(is_http_url(url) for url in item.links.values())
        if item.arxiv_id is not None:
            assert split_arxiv_id(item.arxiv_id) == (item.arxiv_id, None)
        assert Paper.from_json(item.to_json()) == item
    for other in structured.READERS:
        assert 0 <= int(other.sniff(text[:65536], Path("fuzz"))) <= 100


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_reader_survives_damaged_sample(name: str) -> None:
    reader = READERS[FORMAT_OF[name]]

    @FUZZ
    @given(variants(TEXTS[name]))
    def run(text: str) -> None:
        check(reader, text)

    run()


@pytest.mark.parametrize("name", sorted(READERS))
@FUZZ
@given(text=st.text(alphabet=SYNTAX, max_size=400))
def test_reader_survives_syntax_soup(name: str, text: str) -> None:
    check(READERS[name], text)


def test_undamaged_samples_read_cleanly() -> None:
    for name, text in TEXTS.items():
        items = list(READERS[FORMAT_OF[name]].read(text.split("\n"), SOURCE))
        assert items and all(isinstance(item, Paper) for item in items), name
