"""The structured-format readers on real sample files (tests/fixtures/formats) and on
small broken inputs written inline."""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path

import pytest

from digest.model import Paper, Problem, Sighting
from digest.rebuilds import expect_rebuilds
from digest.sources import (
    arxiv_atom,
    arxiv_rss,
    bibtex,
    csl_json,
    hf_api,
    jsonl,
    oai_pmh,
    structured,
    zotero_bbt,
)
from digest.sources.base import Reader, Source
from digest.sources.loader import LoadResult, choose_reader, head_text, load_source

FORMATS = Path(__file__).parent / "fixtures" / "formats"
SEEDS = Path(__file__).parent.parent / "data"
READERS = {reader.name: reader for reader in structured.READERS}

FIXTURES = {
    "arxiv_api_legacy_2016_del_maestro.xml": ("arxiv-atom", 10),
    "arxiv_api_2026_q_testing_body.xml": ("arxiv-atom", 10),
    "arxiv_api_2026_cs_lg_ai_brevio.xml": ("arxiv-atom", 20),
    "arxiv_api_2026_id_0000.0000_body.xml": ("arxiv-atom", 0),
    "arxiv_rss_2026_cs_lg_trimmed_distill.xml": ("arxiv-rss", 3),
    "hf_daily_papers_2024-05-27.json": ("hf-api", 13),
    "hf_daily_papers_2025-06-12.json": ("hf-api", 10),
    "hf_daily_papers_2026-08-13.json": ("hf-api", 20),
    "d2l_references.bib": ("bibtex", 488),
    "zotero_bbt_ml_preprints_2163.biblatex.bib": ("bibtex", 12),
    "zotero_bbt_ml_preprints_2163.json": ("bbt-json", 12),
    "csl_json_bbt_pandoc_export.csl.json": ("csl-json", 4),
    "oai_pmh_arxiv_listrecords_hep-th_hepcrawl.xml": ("oai-pmh", 3),
}


@functools.cache
def load(name: str) -> LoadResult:
    """Load a fixture the way a build does: format sniffed, bytes decoded by the loader."""
    return load_source(READERS, Source(name="src", path=FORMATS / name))


def read_text(reader: Reader, text: str) -> list[Paper | Problem]:
    """Everything `reader` makes of `text`."""
    return list(reader.read(text.split("\n"), Source(name="inline", path=Path("inline"))))


def papers_of(items: list[Paper | Problem]) -> list[Paper]:
    """The papers among a reader's output."""
    return [item for item in items if isinstance(item, Paper)]


def problems_of(items: list[Paper | Problem]) -> list[Problem]:
    """The problems among a reader's output."""
    return [item for item in items if isinstance(item, Problem)]


def where(items: list[Paper | Problem]) -> list[tuple[int, str, str | None]]:
    """(line, kind, field) of each problem."""
    return [(p.line, p.kind, p.field) for p in problems_of(items)]


# --- every fixture: recognised, counted, clean ------------------------------------------


def test_structured_exports_one_reader_per_format() -> None:
    names = [reader.name for reader in structured.READERS]
    assert sorted(names) == sorted(
        ["jsonl", "arxiv-atom", "arxiv-rss", "hf-api", "bibtex", "csl-json", "bbt-json", "oai-pmh"]
    )
    for reader in structured.READERS:
        assert isinstance(reader, Reader)
        assert reader.description


@pytest.mark.parametrize(("name", "expected"), sorted(FIXTURES.items()))
def test_fixture_is_sniffed_as_its_format(name: str, expected: tuple[str, int]) -> None:
    head = head_text(FORMATS / name)[0]
    reader, problem = choose_reader(READERS, Source("src", FORMATS / name), head)
    assert problem is None
    assert reader is not None and reader.name == expected[0]


@pytest.mark.parametrize(("name", "expected"), sorted(FIXTURES.items()))
def test_fixture_loads_every_entry_without_problems(name: str, expected: tuple[str, int]) -> None:
    result = load(name)
    assert result.format == expected[0]
    assert len(result.papers) == expected[1]
    assert result.problems == []


@pytest.mark.parametrize("seed", sorted(p.name for p in SEEDS.glob("*.txt")))
def test_scraped_listings_are_left_to_the_listing_readers(seed: str) -> None:
    head = head_text(SEEDS / seed)[0]
    assert {reader.name: reader.sniff(head, SEEDS / seed) for reader in structured.READERS} == {
        reader.name: 0 for reader in structured.READERS
    }


def test_seed_listings_exist() -> None:
    assert len(list(SEEDS.glob("*.txt"))) >= 4


def test_recorder_wrapper_is_not_claimed() -> None:
    head = head_text(FORMATS / "arxiv_api_2026_q_testing_golden.json")[0]
    assert all(r.sniff(head, Path("golden.json")) == 0 for r in structured.READERS)


# --- arXiv API Atom ---------------------------------------------------------------------


def test_arxiv_atom_legacy_first_entry_every_field() -> None:
    paper = load("arxiv_api_legacy_2016_del_maestro.xml").papers[0]
    assert paper.title == "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores"
    assert paper.authors == ("Adrian Del Maestro",)
    assert paper.hidden_authors == 0
    assert paper.abstract.startswith("As helium-4 is cooled below 2.17 K it undergoes")
    assert paper.abstract.endswith("intriguing low dimensional state of matter.")
    assert "\n" not in paper.abstract and "  " not in paper.abstract
    assert paper.date == dt.date(2012, 1, 23)
    assert (paper.arxiv_id, paper.arxiv_version) == ("1201.4869", 1)
    assert paper.categories == ("cond-mat.mes-hall", "cond-mat.other")
    assert paper.links == {
        "abs": "http://arxiv.org/abs/1201.4869v1",
        "pdf": "http://arxiv.org/pdf/1201.4869v1",
        "doi": "https://doi.org/10.1142/S021797921244002X",
    }
    assert paper.sightings == (
        Sighting("src", position=1, line=10, url="http://arxiv.org/abs/1201.4869v1"),
    )


def test_arxiv_atom_legacy_old_style_id_and_entities() -> None:
    paper = load("arxiv_api_legacy_2016_del_maestro.xml").papers[1]
    assert (paper.arxiv_id, paper.arxiv_version) == ("cond-mat/0412498", 1)
    assert paper.key == "arxiv:cond-mat/0412498"
    assert paper.authors == ("Adrian Del Maestro", "Subir Sachdev")
    assert "density wave ordering on the square lattice (p >= 3, integer)." in paper.abstract
    assert paper.categories == ("cond-mat.str-el", "cond-mat.stat-mech")
    assert paper.sightings[0].position == 2
    assert paper.sightings[0].line == 49


def test_arxiv_atom_hard_wrapped_title_is_one_line() -> None:
    paper = load("arxiv_api_legacy_2016_del_maestro.xml").papers[2]
    assert paper.title == (
        "From stripe to checkerboard order on the square lattice in the presence of "
        "quenched disorder"
    )
    assert paper.sightings[0].line == 81


def test_arxiv_atom_versions_and_order() -> None:
    papers = load("arxiv_api_legacy_2016_del_maestro.xml").papers
    assert [(p.arxiv_id, p.arxiv_version) for p in papers][4:9] == [
        ("1303.6954", 2),
        ("1312.6177", 1),
        ("1412.6529", 2),
        ("cond-mat/0607501", 2),
        ("cond-mat/0702661", 2),
    ]
    assert [p.sightings[0].position for p in papers] == list(range(1, 11))


def test_arxiv_atom_current_entry_every_field() -> None:
    paper = load("arxiv_api_2026_q_testing_body.xml").papers[2]
    assert paper.title == "Active Fuzzing for Testing and Securing Cyber-Physical Systems"
    assert paper.authors == (
        "Yuqi Chen",
        "Bohan Xuan",
        "Christopher M. Poskitt",
        "Jun Sun",
        "Fan Zhang",
    )
    assert paper.abstract.startswith("Cyber-physical systems (CPSs) in critical infrastructure")
    assert paper.abstract.endswith(
        "implementing them as anomaly detectors and early warning systems."
    )
    assert paper.date == dt.date(2020, 5, 28)
    assert (paper.arxiv_id, paper.arxiv_version) == ("2005.14124", 2)
    assert paper.categories == ("cs.SE", "cs.CR", "cs.LG")
    assert paper.links == {
        "abs": "https://arxiv.org/abs/2005.14124v2",
        "pdf": "https://arxiv.org/pdf/2005.14124v2",
        "doi": "https://doi.org/10.1145/3395363.3397376",
    }
    assert paper.sightings == (
        Sighting("src", position=3, line=63, url="https://arxiv.org/abs/2005.14124v2"),
    )


def test_arxiv_atom_ampersand_entity_in_title() -> None:
    paper = load("arxiv_api_2026_q_testing_body.xml").papers[4]
    assert paper.title == "ChatGPT and Software Testing Education: Promises & Perils"
    assert (paper.arxiv_id, paper.arxiv_version) == ("2302.03287", 3)


def test_arxiv_atom_utf8_names_decode_right() -> None:
    paper = load("arxiv_api_2026_q_testing_body.xml").papers[1]
    assert paper.authors == ("Aurora Ramírez", "Mario Berrios", "José Raúl Romero", "Robert Feldt")


def test_arxiv_atom_repairs_the_recorders_latin1_decoding() -> None:
    # The recorder stored the body as content.decode('latin-1'): "Ramírez" became "RamÃ­rez".
    recorded = json.loads((FORMATS / "arxiv_api_2026_q_testing_golden.json").read_text())
    assert "RamÃ\xadrez" in recorded["body"]
    items = read_text(arxiv_atom.READER, recorded["body"])
    assert len(papers_of(items)) == 10
    assert papers_of(items)[1].authors[0] == "Aurora Ramírez"
    assert papers_of(items)[1].authors[2] == "José Raúl Romero"


def test_arxiv_atom_2026_first_entry() -> None:
    paper = load("arxiv_api_2026_cs_lg_ai_brevio.xml").papers[0]
    assert paper.title == (
        "Turning the TIDE: Cross-Architecture Distillation for Diffusion Large Language Models"
    )
    assert paper.authors == ("Gongbo Zhang", "Wen Wang", "Ye Tian", "Li Yuan")
    assert paper.abstract.startswith("Diffusion large language models (dLLMs) offer parallel")
    assert paper.abstract.endswith(
        "HumanEval scores reach 48.78 compared to 32.3 for the AR baseline."
    )
    assert paper.date == dt.date(2026, 4, 29)
    assert (paper.arxiv_id, paper.arxiv_version) == ("2604.26951", 1)
    assert paper.categories == ("cs.CL", "cs.AI", "cs.LG")
    assert paper.links == {
        "abs": "https://arxiv.org/abs/2604.26951v1",
        "pdf": "https://arxiv.org/pdf/2604.26951v1",
    }
    assert paper.sightings[0] == Sighting(
        "src", position=1, line=10, url="https://arxiv.org/abs/2604.26951v1"
    )


def test_arxiv_atom_empty_result_is_no_papers_and_no_error() -> None:
    result = load("arxiv_api_2026_id_0000.0000_body.xml")
    assert (result.format, result.papers, result.problems) == ("arxiv-atom", [], [])


LEGACY_LINES = (FORMATS / "arxiv_api_legacy_2016_del_maestro.xml").read_text().split("\n")


def test_arxiv_atom_truncated_feed_keeps_the_entries_before_the_cut() -> None:
    items = read_text(arxiv_atom.READER, "\n".join(LEGACY_LINES[:100]))
    assert [p.arxiv_id for p in papers_of(items)] == ["1201.4869", "cond-mat/0412498"]
    assert where(items) == [(100, "bad-xml", None)]
    assert problems_of(items)[0].severity == "error"


def test_arxiv_atom_blank_lines_before_the_declaration_keep_line_numbers() -> None:
    items = read_text(arxiv_atom.READER, "\n\n" + "\n".join(LEGACY_LINES))
    assert [p.sightings[0].line for p in papers_of(items)][:3] == [12, 51, 83]
    assert problems_of(items) == []


def test_arxiv_atom_malformed_xml_names_the_line() -> None:
    broken = LEGACY_LINES[:]
    broken[52] = broken[52].replace("</title>", "</titel>")
    items = read_text(arxiv_atom.READER, "\n".join(broken))
    assert [p.arxiv_id for p in papers_of(items)] == ["1201.4869"]
    assert where(items) == [(53, "bad-xml", None)]
    assert "mismatched tag" in problems_of(items)[0].message


def test_arxiv_atom_refuses_entity_expansion() -> None:
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE feed [\n <!ENTITY a "aaaaaaaaaa">\n'
        ' <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n]>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&b;</title></entry></feed>'
    )
    items = read_text(arxiv_atom.READER, bomb)
    assert papers_of(items) == []
    assert [(p.kind, p.severity) for p in problems_of(items)] == [("unsafe-xml", "error")]


def test_arxiv_atom_refuses_external_entities() -> None:
    xxe = (
        '<?xml version="1.0"?>\n<!DOCTYPE feed [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&x;</title></entry></feed>'
    )
    assert [p.kind for p in problems_of(read_text(arxiv_atom.READER, xxe))] == ["unsafe-xml"]


ATOM_ENTRY = """<feed xmlns="http://www.w3.org/2005/Atom">
  <entry>
    <id>{id}</id>
    <title>{title}</title>
    <summary>{summary}</summary>
    <link href="{href}" rel="alternate" type="text/html"/>
  </entry>
</feed>"""


def test_arxiv_atom_api_error_entry_is_a_problem() -> None:
    text = ATOM_ENTRY.format(
        id="http://arxiv.org/api/errors#incorrect_id_format_for_1234.1234v",
        title="Error",
        summary="incorrect id format for 1234.1234v",
        href="http://arxiv.org/api/errors",
    )
    items = read_text(arxiv_atom.READER, text)
    assert papers_of(items) == []
    assert where(items) == [(2, "feed-error", None)]
    assert "incorrect id format for 1234.1234v" in problems_of(items)[0].message


def test_arxiv_atom_entry_without_title_and_unsafe_link() -> None:
    text = ATOM_ENTRY.format(
        id="http://arxiv.org/abs/2401.00001v1", title=" ", summary="x", href="javascript:alert(1)"
    )
    assert where(read_text(arxiv_atom.READER, text)) == [
        (2, "unsafe-link", "links"),
        (2, "missing-field", "title"),
    ]
    text = ATOM_ENTRY.format(
        id="http://arxiv.org/abs/2401.00001v1", title="T", summary="x", href="javascript:alert(1)"
    )
    items = read_text(arxiv_atom.READER, text)
    assert where(items) == [(2, "unsafe-link", "links")]
    assert papers_of(items)[0].links == {
        "abs": "https://arxiv.org/abs/2401.00001",
        "pdf": "https://arxiv.org/pdf/2401.00001",
    }


# --- arXiv listing RSS ------------------------------------------------------------------


def test_arxiv_rss_first_item_every_field() -> None:
    paper = load("arxiv_rss_2026_cs_lg_trimmed_distill.xml").papers[0]
    assert paper.title == (
        "Focus Session: Hardware and Software Techniques for Accelerating Multimodal "
        "Foundation Models"
    )
    assert paper.authors == (
        "Muhammad Shafique",
        "Abdul Basit",
        "Muhammad Abdullah Hanif",
        "Alberto Marchisio",
        "Rachmad Vidya Wicaksana Putra",
        "Minghao Shao",
    )
    assert paper.abstract.startswith("This work presents a multi-layered methodology")
    assert paper.abstract.endswith("extensions toward energy-efficient spiking-MFMs.")
    assert "visual resolution & stride" in paper.abstract
    assert "Announce Type" not in paper.abstract
    assert paper.date == dt.date(2026, 4, 27)
    assert (paper.arxiv_id, paper.arxiv_version) == ("2604.21952", 1)
    assert paper.categories == ("cs.LG", "cs.AI", "cs.AR", "cs.NE", "cs.RO")
    assert paper.links == {
        "abs": "https://arxiv.org/abs/2604.21952",
        "pdf": "https://arxiv.org/pdf/2604.21952",
    }
    assert paper.sightings == (
        Sighting(
            "src",
            position=1,
            date=dt.date(2026, 4, 27),
            line=16,
            url="https://arxiv.org/abs/2604.21952",
        ),
    )


def test_arxiv_rss_order_and_money_in_abstract() -> None:
    papers = load("arxiv_rss_2026_cs_lg_trimmed_distill.xml").papers
    assert [(p.arxiv_id, p.sightings[0].position, p.sightings[0].line) for p in papers] == [
        ("2604.21952", 1, 16),
        ("2604.21953", 2, 32),
        ("2604.21956", 3, 45),
    ]
    assert "costs over $800 per sample" in papers[1].abstract
    assert papers[1].authors == ("Blessed Madukoma", "Prasenjit Mitra")


RSS_ITEM = """<rss xmlns:arxiv="http://arxiv.org/schemas/atom" version="2.0"><channel>
<title>cs.LG updates on arXiv.org</title>
<pubDate>Mon, 27 Apr 2026 00:00:00 -0400</pubDate>
<item>
<title>An old paper, replaced</title>
<link>https://arxiv.org/abs/2301.00001</link>
<description>arXiv:2301.00001v3 Announce Type: replace
Abstract: Text.</description>
<guid isPermaLink="false">oai:arXiv.org:2301.00001v3</guid>
<arxiv:announce_type>replace</arxiv:announce_type>
<arxiv:DOI>10.1000/xyz123</arxiv:DOI>
</item>
</channel></rss>"""


def test_arxiv_rss_replacement_is_not_dated_by_the_listing() -> None:
    items = read_text(arxiv_rss.READER, RSS_ITEM)
    (paper,) = papers_of(items)
    assert (paper.arxiv_id, paper.arxiv_version, paper.date) == ("2301.00001", 3, None)
    assert paper.abstract == "Text."
    assert paper.sightings[0].date == dt.date(2026, 4, 27)
    assert paper.links["doi"] == "https://doi.org/10.1000/xyz123"


def test_arxiv_rss_truncated_feed() -> None:
    lines = (FORMATS / "arxiv_rss_2026_cs_lg_trimmed_distill.xml").read_text().split("\n")
    items = read_text(arxiv_rss.READER, "\n".join(lines[:40]))
    assert [p.arxiv_id for p in papers_of(items)] == ["2604.21952"]
    assert where(items) == [(40, "bad-xml", None)]


RSS1 = """<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="http://arxiv.org/">
<title>hep-ex updates on arXiv.org</title>
<dc:date>2021-07-08T20:30:00-05:00</dc:date>
</channel>
<item rdf:about="http://arxiv.org/abs/2107.03419">
<title>Search for new physics. (arXiv:2107.03419v1 [hep-ex])</title>
<link>http://arxiv.org/abs/2107.03419</link>
<description rdf:parseType="Literal">&lt;p&gt;We search &amp;amp; find.&lt;/p&gt;</description>
<dc:creator>&lt;a href="http://arxiv.org/a/x"&gt;CMS Collaboration&lt;/a&gt;, Jane Doe</dc:creator>
</item>
</rdf:RDF>"""


def test_arxiv_rss_old_rdf_feed() -> None:
    assert arxiv_rss.READER.sniff(RSS1, Path("x")) == 90
    (paper,) = papers_of(read_text(arxiv_rss.READER, RSS1))
    assert (paper.title, paper.arxiv_id, paper.arxiv_version) == (
        "Search for new physics",
        "2107.03419",
        1,
    )
    assert (paper.categories, paper.authors) == (("hep-ex",), ("CMS Collaboration", "Jane Doe"))
    assert paper.abstract == "We search & find."
    assert paper.sightings[0].date == paper.date == dt.date(2021, 7, 8)
    assert paper.sightings[0].line == 8


# --- OAI-PMH ----------------------------------------------------------------------------


def test_oai_pmh_first_record_every_field() -> None:
    paper = load("oai_pmh_arxiv_listrecords_hep-th_hepcrawl.xml").papers[0]
    assert paper.title == (
        "Toolbox for reconstructing quantum theory from rules on information acquisition"
    )
    assert paper.authors == ("Philipp A Hoehn",)
    assert paper.abstract.startswith("We develop an operational approach for reconstructing")
    assert paper.abstract.endswith("a novel formulation of quantum theory in terms of questions.")
    assert paper.date == dt.date(2014, 12, 29)
    assert (paper.arxiv_id, paper.arxiv_version) == ("1412.8323", None)
    assert paper.categories == (
        "quant-ph",
        "gr-qc",
        "hep-th",
        "math-ph",
        "math.MP",
        "physics.hist-ph",
    )
    assert paper.links == {
        "abs": "https://arxiv.org/abs/1412.8323",
        "pdf": "https://arxiv.org/pdf/1412.8323",
    }
    assert paper.sightings == (Sighting("src", date=dt.date(2017, 12, 14), line=6),)


def test_oai_pmh_doi_and_many_authors() -> None:
    papers = load("oai_pmh_arxiv_listrecords_hep-th_hepcrawl.xml").papers
    assert papers[1].links["doi"] == "https://doi.org/10.1088/1751-8121/aa9c53"
    assert papers[1].title == (
        "Relativistic quantum dynamics of vector bosons in an Aharonov-Bohm potential"
    )
    assert papers[2].authors == (
        "R. A. C. Correa",
        "D. M. Dantas",
        "P. H. R. S. Moraes",
        "A. de Souza Dutra",
        "C. A. S. Almeida",
    )
    assert [p.sightings[0].line for p in papers] == [6, 46, 65]


OAI = """<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">
<responseDate>2017-12-14T12:56:31Z</responseDate>
{body}
</OAI-PMH>"""


def test_oai_pmh_no_records_match_is_not_a_problem() -> None:
    text = OAI.format(body='<error code="noRecordsMatch">nothing</error>')
    assert read_text(oai_pmh.READER, text) == []


def test_oai_pmh_deleted_record_and_other_errors_are_problems() -> None:
    body = """<ListRecords>
<record><header status="deleted"><identifier>oai:arXiv.org:1412.0001</identifier></header>
</record>
</ListRecords>
<error code="badResumptionToken">expired</error>"""
    items = read_text(oai_pmh.READER, OAI.format(body=body))
    assert where(items) == [(5, "deleted-record", None), (8, "feed-error", None)]


def test_oai_pmh_arxiv_raw_record() -> None:
    body = """<ListRecords><record>
<header><identifier>oai:arXiv.org:0704.0001</identifier><datestamp>2008-11-13</datestamp>
</header>
<metadata><arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/">
<id>0704.0001</id><submitter>Pavel Nadolsky</submitter>
<version version="v1"><date>Mon, 2 Apr 2007 19:18:42 GMT</date></version>
<version version="v2"><date>Tue, 24 Jul 2007 20:10:27 GMT</date></version>
<title>Calculation of prompt diphoton production cross sections at Tevatron and
  LHC energies</title>
<authors>C. Bal\\'azs, E. L. Berger, P. M. Nadolsky and C.-P. Yuan</authors>
<categories>hep-ph</categories><abstract>  A fully differential calculation.
</abstract></arXivRaw></metadata></record></ListRecords>"""
    (paper,) = papers_of(read_text(oai_pmh.READER, OAI.format(body=body)))
    assert (paper.arxiv_id, paper.arxiv_version, paper.date) == (
        "0704.0001",
        2,
        dt.date(2007, 4, 2),
    )
    assert paper.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert paper.authors == ("C. Bal\\'azs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan")
    assert paper.sightings[0].date == dt.date(2008, 11, 13)


# --- Hugging Face daily papers ----------------------------------------------------------


def test_hf_2024_first_item_every_field() -> None:
    paper = load("hf_daily_papers_2024-05-27.json").papers[0]
    # paper.title is hard-wrapped ("...Multimodal\n  Models"); the top-level title is not.
    assert paper.title == (
        "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal Models"
    )
    assert paper.authors == (
        "Chunjiang Ge",
        "Sijie Cheng",
        "Ziming Wang",
        "Jiale Yuan",
        "Yuan Gao",
        "Jun Song",
        "Shiji Song",
        "Gao Huang",
        "Bo Zheng",
    )
    assert paper.abstract.startswith(
        "High-resolution Large Multimodal Models (LMMs) "
        "encounter the challenges of excessive visual tokens"
    )
    assert paper.abstract.endswith("publicly available at https://github.com/alibaba/conv-llava.")
    assert "\n" not in paper.abstract
    assert paper.date == dt.date(2024, 5, 24)
    assert (paper.arxiv_id, paper.arxiv_version) == ("2405.15738", None)
    assert paper.categories == ()
    assert paper.organization is None
    assert paper.links == {
        "abs": "https://arxiv.org/abs/2405.15738",
        "pdf": "https://arxiv.org/pdf/2405.15738",
    }
    assert paper.sightings == (
        Sighting(
            "src",
            position=1,
            upvotes=32,
            date=dt.date(2024, 5, 27),
            line=2,
            url="https://huggingface.co/papers/2405.15738",
        ),
    )


def test_hf_2024_top_level_title_keeps_latex() -> None:
    papers = load("hf_daily_papers_2024-05-27.json").papers
    assert papers[9].title == (
        "AutoCoder: Enhancing Code Large Language Model with \\textsc{AIEV-Instruct}"
    )
    assert [p.sightings[0].upvotes for p in papers] == [32, 28, 19, 11, 10, 9, 9, 7, 7, 7, 5, 4, 3]


def test_hf_2025_links_and_listing_date() -> None:
    paper = load("hf_daily_papers_2025-06-12.json").papers[3]
    assert paper.title == "ComfyUI-R1: Exploring Reasoning Models for Workflow Generation"
    assert paper.authors[:2] == ("Zhenran Xu", "Yiyu Wang")
    assert len(paper.authors) == 8
    assert paper.date == dt.date(2025, 6, 11)
    assert paper.links == {
        "abs": "https://arxiv.org/abs/2506.09790",
        "pdf": "https://arxiv.org/pdf/2506.09790",
        "code": "https://github.com/AIDC-AI/ComfyUI-Copilot",
        "project": "https://github.com/AIDC-AI/ComfyUI-Copilot",
    }
    # The listing day is submittedOnDailyAt; the top-level publishedAt (2025-06-11T10:35Z)
    # is the arXiv time shifted to US-Eastern in this shape.
    assert paper.sightings == (
        Sighting(
            "src",
            position=4,
            upvotes=12,
            date=dt.date(2025, 6, 12),
            line=468,
            url="https://huggingface.co/papers/2506.09790",
        ),
    )


def test_hf_2026_organization_money_and_ranking() -> None:
    papers = load("hf_daily_papers_2026-08-13.json").papers
    assert papers[1].organization == "University of Illinois at Urbana-Champaign"
    assert papers[1].title == "AI4AI at Test-Time: Strong-to-Weak Capability Transfer via Harnesses"
    spark = papers[2]
    assert spark.title == (
        "Spark-to-Paper: End-to-End Research Paper Generation as a Composable Skill"
    )
    assert "uses 11.9M tokens, costs $8.1 per manuscript, and" in spark.abstract
    assert spark.links["code"] == "https://github.com/Spark-To-Paper-Skills/spark-to-paper-skills"
    assert spark.date == dt.date(2026, 8, 12)
    assert spark.sightings[0] == Sighting(
        "src",
        position=3,
        upvotes=64,
        date=dt.date(2026, 8, 13),
        line=216,
        url="https://huggingface.co/papers/2608.11924",
    )
    assert [p.sightings[0].upvotes for p in papers] == [
        98,
        71,
        64,
        24,
        21,
        10,
        5,
        5,
        3,
        3,
        2,
        2,
        2,
        2,
        2,
        2,
        1,
        1,
        1,
        1,
    ]
    assert {p.sightings[0].date for p in papers} == {dt.date(2026, 8, 13)}


def test_hf_optional_fields_missing_and_unsafe_links() -> None:
    text = json.dumps(
        [
            {
                "paper": {
                    "id": "2401.00001",
                    "title": "Only a title",
                    "githubRepo": "javascript:alert(1)",
                    "projectPage": "ftp://x.org/",
                }
            },
            {"paper": {"id": "2401.00002", "upvotes": True}, "title": "Bool votes"},
            {"paper": {"id": "2401.00003", "summary": "no title"}},
            "not an object",
        ],
        indent=1,
    )
    items = read_text(hf_api.READER, text)
    first, second = papers_of(items)
    assert (first.title, first.authors, first.date, first.sightings[0].upvotes) == (
        "Only a title",
        (),
        None,
        None,
    )
    assert set(first.links) == {"abs", "pdf"}
    assert second.sightings[0].upvotes is None
    assert where(items) == [
        (2, "unsafe-link", "links"),
        (2, "unsafe-link", "links"),
        (17, "missing-field", "title"),
        (23, "bad-entry", None),
    ]


def test_hf_broken_json_keeps_items_before_the_break() -> None:
    lines = (FORMATS / "hf_daily_papers_2024-05-27.json").read_text().split("\n")
    items = read_text(hf_api.READER, "\n".join(lines[:300]))
    papers = papers_of(items)
    assert [p.arxiv_id for p in papers] == ["2405.15738", "2405.15574", "2405.15071"]
    assert [(p.line, p.kind) for p in problems_of(items)] == [(300, "bad-json")]


# --- CSL-JSON ---------------------------------------------------------------------------


def test_csl_json_item_every_field() -> None:
    paper = load("csl_json_bbt_pandoc_export.csl.json").papers[1]
    assert paper.title == (
        "Skizze zur Auslegungsgeschichte der Bücher Prouerbia und Ecclesiastes in der "
        "abendländischen Kirche"
    )
    assert paper.authors == ("Rainer Berndt",)
    assert paper.abstract == ""
    assert paper.date == dt.date(1994, 1, 1)
    assert (paper.arxiv_id, paper.arxiv_version) == (None, None)
    assert paper.categories == ()
    # URL is a dx.doi.org address, so the DOI link stands for both.
    assert paper.links == {"doi": "https://doi.org/10.1484/J.SE.2.303788"}
    assert paper.sightings == (Sighting("src", line=55),)


def test_csl_json_markup_and_mixed_date_parts() -> None:
    papers = load("csl_json_bbt_pandoc_export.csl.json").papers
    assert papers[0].title == (
        "The physical volcanology of the 1600 eruption of Huaynaputina, southern Peru"
    )
    assert papers[0].date == dt.date(2014, 12, 31)  # [["2014", 12, 31], ...]: strings and ints
    assert papers[0].authors[:2] == ("Nancy K Adams", "Shanaka L DeSilva")
    assert papers[2].title == (
        "Samuel Presbiter: Notes from the school of William de Montibus. Collecta ex diuersis "
        "auditis in scola magistri Willelmi de Monte"
    )
    assert "(g1)" in papers[3].title
    assert papers[3].links == {"source": "https://archive.org/details/gospelaccording00goog"}


# --- Better BibTeX JSON -----------------------------------------------------------------


def test_bbt_json_first_item_every_field() -> None:
    paper = load("zotero_bbt_ml_preprints_2163.json").papers[0]
    assert paper.title == "On Solving Minimax Optimization Locally: A Follow-the-Ridge Approach"
    assert paper.authors == ("Yuanhao Wang", "Guodong Zhang", "Jimmy Ba")
    assert paper.abstract.startswith(
        "Many tasks in modern machine learning can be formulated "
        "as finding equilibria in \\emph{sequential} games."
    )
    assert paper.abstract.endswith("recent minimax optimization algorithms.")
    assert paper.abstract_truncated is False
    assert paper.date == dt.date(2019, 11, 25)
    assert (paper.arxiv_id, paper.arxiv_version) == ("1910.07512", None)
    assert paper.categories == ("cs", "math", "stat")
    assert paper.links == {
        "abs": "http://arxiv.org/abs/1910.07512",
        "pdf": "https://arxiv.org/pdf/1910.07512",
    }
    assert paper.sightings == (Sighting("src", line=17, url="http://arxiv.org/abs/1910.07512"),)


def test_bbt_json_preprint_and_conference_version_both_load() -> None:
    papers = load("zotero_bbt_ml_preprints_2163.json").papers
    conference = papers[1]
    assert conference.title == papers[0].title
    assert conference.arxiv_id is None
    assert conference.authors == ("Yuanhao Wang*", "Guodong Zhang*", "Jimmy Ba")
    assert conference.date == dt.date(2019, 9, 25)  # written 2019/09/25
    assert conference.abstract_truncated is True  # OpenReview excerpt ends in "..."
    assert conference.links == {"source": "https://openreview.net/forum?id=Hkx7_1rKwS"}
    assert sum(1 for p in papers if p.arxiv_id) == 5


# --- BibTeX -----------------------------------------------------------------------------


def test_biblatex_first_entry_every_field() -> None:
    paper = load("zotero_bbt_ml_preprints_2163.biblatex.bib").papers[0]
    assert paper.title == (
        "Delving Deep into Rectifiers: Surpassing Human-Level Performance on ImageNet "
        "Classification"
    )
    assert paper.authors == ("Kaiming He", "Xiangyu Zhang", "Shaoqing Ren", "Jian Sun")
    assert paper.abstract.startswith("Rectified activation units (rectifiers) are essential")
    assert paper.abstract.endswith(
        "(5.1%, Russakovsky et al.) on this visual recognition challenge."
    )
    assert "4.94% top-5 test error" in paper.abstract
    assert paper.date == dt.date(2015, 2, 6)
    assert (paper.arxiv_id, paper.arxiv_version) == ("1502.01852", None)
    assert paper.categories == ("cs",)
    assert paper.links == {
        "abs": "http://arxiv.org/abs/1502.01852",
        "pdf": "https://arxiv.org/pdf/1502.01852",
    }
    assert paper.sightings == (Sighting("src", line=1, url="http://arxiv.org/abs/1502.01852"),)


def test_biblatex_escapes_and_duplicate_pair() -> None:
    papers = load("zotero_bbt_ml_preprints_2163.biblatex.bib").papers
    assert "finding equilibria in \\emph{sequential} games" in papers[1].abstract
    assert papers[1].categories == ("cs", "math", "stat")
    preprint, conference = papers[7], papers[8]
    assert (preprint.title, conference.title) == ("Hopfield Networks Is All You Need",) * 2
    assert (preprint.arxiv_id, conference.arxiv_id) == (None, "2008.02217")
    assert (preprint.sightings[0].line, conference.sightings[0].line) == (88, 99)
    assert papers[2].title == papers[3].title
    assert [p.sightings[0].line for p in papers[2:4]] == [30, 42]


def test_d2l_bibtex_entry_every_field() -> None:
    paper = load("d2l_references.bib").papers[0]
    assert paper.title == "TensorFlow: A system for large-scale machine learning"
    assert paper.authors == (
        "Martín Abadi",
        "Paul Barham",
        "Jianmin Chen",
        "Zhifeng Chen",
        "Andy Davis",
        "Jeffrey Dean",
        "Matthieu Devin",
        "Sanjay Ghemawat",
        "Geoffrey Irving",
        "Michael Isard",
    )
    assert paper.hidden_authors == 1  # "and et al."
    assert paper.abstract == ""
    assert paper.date == dt.date(2016, 1, 1)  # year only
    assert (paper.arxiv_id, paper.arxiv_version) == (None, None)
    assert paper.categories == ()
    assert paper.links == {}
    assert paper.sightings == (Sighting("src", line=1),)


def test_d2l_bibtex_arxiv_in_journal_and_latex_kept() -> None:
    papers = load("d2l_references.bib").papers
    assert sum(1 for p in papers if p.arxiv_id) == 128
    survey = next(p for p in papers if p.arxiv_id == "1808.05377")
    assert survey.categories == ("stat.ML",)  # journal = {ArXiv:1808.05377 [stat.ML]}
    assert survey.authors == ("T. Elsken", "J. H. Metzen", "F. Hutter")
    assert survey.sightings[0].line == 4205
    vit = next(p for p in papers if p.sightings[0].line == 588)
    assert vit.title.startswith("An image is worth $16\\times 16$ words: Transformers")
    assert sum(p.hidden_authors for p in papers) == 43


BIB = """@article{first,
  title = {First {B}ook},
  author = {Doe, Jane and others},
  year = {2020}
}

@article{broken,
  title = {Unbalanced {brace,
  author = {X, Y}
}

@misc{third,
  title = {Third},
  eprint = {2401.01234v2},
  archiveprefix = {arXiv},
  primaryclass = {cs.LG},
  doi = {10.1000/182},
  url = {javascript:alert(1)}
}
"""


def test_bibtex_unbalanced_braces_skip_one_entry() -> None:
    items = read_text(bibtex.READER, BIB)
    first, third = papers_of(items)
    assert (first.title, first.authors, first.hidden_authors) == ("First Book", ("Jane Doe",), 1)
    assert (third.arxiv_id, third.arxiv_version, third.categories) == ("2401.01234", 2, ("cs.LG",))
    assert third.links == {
        "doi": "https://doi.org/10.1000/182",
        "abs": "https://arxiv.org/abs/2401.01234",
        "pdf": "https://arxiv.org/pdf/2401.01234",
    }
    assert where(items) == [(7, "bad-entry", None), (12, "unsafe-link", "links")]
    assert "Unexpected block start: `@misc`" in problems_of(items)[0].message


def test_bibtex_unclosed_last_entry_and_missing_title() -> None:
    text = "@misc{a,\n  author = {A, B}\n}\n\n@article{b,\n  title = {Never closed\n"
    assert where(read_text(bibtex.READER, text)) == [
        (1, "missing-field", "title"),
        (5, "bad-entry", None),
    ]


def test_bibtex_duplicate_key_is_reported_and_still_loaded() -> None:
    text = "@misc{a, title = {One}}\n@misc{a, title = {Two {X}}}\n"
    items = read_text(bibtex.READER, text)
    assert [p.title for p in papers_of(items)] == ["One", "Two X"]
    assert where(items) == [(2, "duplicate", None)]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Tensor{F}low", "TensorFlow"),
        ("{{Deep}} {{Rectifiers}}", "Deep Rectifiers"),
        ("Promises \\& Perils", "Promises & Perils"),
        ("worth $16\\times {16}$ words", "worth $16\\times {16}$ words"),
        ("R\\'{e}nyi and Mart{\\'\\i}n", "R\\'{e}nyi and Mart{\\'\\i}n"),
        ("\\textbackslash emph\\{x\\} 5\\%", "\\emph{x} 5%"),
        ("costs \\$8", "costs \\$8"),
    ],
)
def test_bibtex_title_text(raw: str, shown: str) -> None:
    assert bibtex.tex_text(raw) == shown


# --- JSON Lines -------------------------------------------------------------------------


def test_jsonl_bad_lines_are_problems_naming_line_and_field() -> None:
    good = {"title": "Good", "authors": ["A B"], "date": "2024-01-02", "arxiv_id": "2401.00001"}
    lines = [
        json.dumps(good),
        '{"title": "broken", ',
        json.dumps({"title": 5}),
        json.dumps({"title": "x", "authors": "A B", "date": "yesterday"}),
        "",
        json.dumps({"authors": []}),
        json.dumps({"title": "v", "arxiv_id": "2401.00001v2"}),
        json.dumps({"title": "s", "sightings": [{"source": "x", "position": "1"}]}),
        "[1]",
        json.dumps({**good, "title": "Links", "links": {"abs": "ftp://x", "pdf": "https://x.org"}}),
    ]
    items = read_text(jsonl.READER, "\n".join(lines))
    assert [p.title for p in papers_of(items)] == ["Good", "Links"]
    assert where(items) == [
        (2, "bad-json", None),
        (3, "bad-field", "title"),
        (4, "bad-field", "authors"),
        (4, "bad-field", "date"),
        (6, "missing-field", "title"),
        (7, "bad-field", "arxiv_id"),
        (8, "bad-field", "sightings[1].position"),
        (9, "bad-json", None),
        (10, "unsafe-link", "links"),
    ]
    messages = {(p.line, p.field): p.message for p in problems_of(items)}
    assert messages[(3, "title")] == "expected a string"
    assert messages[(4, "authors")] == "expected a list of strings"
    assert messages[(8, "sightings[1].position")] == "expected an integer"
    good_paper, linked = papers_of(items)
    assert good_paper.sightings == (Sighting("inline", line=1),)
    assert good_paper.date == dt.date(2024, 1, 2)
    assert linked.links == {"pdf": "https://x.org"}


def test_jsonl_array_form_and_broken_array() -> None:
    text = json.dumps([{"title": "One"}, {"title": "Two"}], indent=2)
    items = read_text(jsonl.READER, "\n" + text)
    assert [(p.title, p.sightings[0].line) for p in papers_of(items)] == [("One", 3), ("Two", 6)]
    items = read_text(jsonl.READER, text[:-12])
    assert [p.title for p in papers_of(items)] == ["One"]
    assert where(items) == [(6, "bad-json", None)]


@pytest.mark.parametrize("name", sorted(n for n, (_, count) in FIXTURES.items() if count))
def test_jsonl_round_trip_is_identity(name: str, tmp_path: Path) -> None:
    papers = load(name).papers
    for paper in papers:
        assert Paper.from_json(paper.to_json()) == paper
    written = "\n".join(json.dumps(p.to_json(), sort_keys=True) for p in papers) + "\n"
    (tmp_path / "papers.jsonl").write_text(written, encoding="utf-8")
    again = load_source(READERS, Source("other", tmp_path / "papers.jsonl"))
    assert again.format == "jsonl"
    assert again.problems == []
    assert again.papers == papers
    rewritten = "\n".join(json.dumps(p.to_json(), sort_keys=True) for p in again.papers) + "\n"
    assert rewritten == written


def test_jsonl_round_trip_of_an_array(tmp_path: Path) -> None:
    papers = load("hf_daily_papers_2026-08-13.json").papers
    path = tmp_path / "papers.json"
    path.write_text(json.dumps([p.to_json() for p in papers], indent=2), encoding="utf-8")
    again = load_source(READERS, Source("other", path))
    assert (again.format, again.problems, again.papers) == ("jsonl", [], papers)


# --- sniffing details -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"title": "T", "key": "arxiv:1", "sightings": []}\n', "jsonl"),
        ('[{"paper": {"id": "2401.00001", "upvotes": 3}}]', "hf-api"),
        ('[{"id": "x", "type": "article", "author": [{"family": "F"}]}]', "csl-json"),
        ('{"config": {"label": "BetterBibTeX JSON"}, "items": []}', "bbt-json"),
        ("% comment\n@Article{\tkey,\n title = {T}}\n", "bibtex"),
        (
            '<?xml version="1.0"?>\n<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
            'version="2.0"><channel/></rss>',
            "arxiv-rss",
        ),
        (
            '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords/></OAI-PMH>',
            "oai-pmh",
        ),
    ],
)
def test_sniff_small_heads(text: str, expected: str) -> None:
    best = max(structured.READERS, key=lambda r: r.sniff(text, Path("x")))
    assert best.name == expected
    assert best.sniff(text, Path("x")) > 0


@pytest.mark.parametrize(
    "text",
    ["", "plain words\n", "<html><body>x</body></html>", "[1, 2, 3]", '{"a": 1}', "@user hi"],
)
def test_sniff_says_no_to_other_text(text: str) -> None:
    assert [r.sniff(text, Path("x")) for r in structured.READERS] == [0] * 8


def test_readers_of_modules_are_the_exported_ones() -> None:
    modules = [jsonl, arxiv_atom, arxiv_rss, hf_api, bibtex, csl_json, zotero_bbt, oai_pmh]
    assert [m.READER for m in modules] == structured.READERS


def test_jsonl_remembered_lines_give_the_same_papers_and_fresh_copies() -> None:
    """With lines remembered (as the preview server has them), reading a file again gives
    what reading it afresh gives, the edited line's paper changed, and papers a caller
    changed in place do not come back changed."""
    demo = load("hf_daily_papers_2026-08-13.json").papers[:3]
    lines = [json.dumps(p.to_json()) for p in demo]
    edited = [lines[0], lines[1].replace(demo[1].title, "An edited title"), lines[2]]
    expect_rebuilds()
    try:
        first = papers_of(read_text(jsonl.READER, "\n".join(lines)))
        assert first == papers_of(read_text(jsonl.READER, "\n".join(lines)))
        first[0].data["changed"] = True
        first[0].links["abs"] = "https://example.org/changed"
        again = papers_of(read_text(jsonl.READER, "\n".join(edited)))
    finally:
        expect_rebuilds(False)
    fresh = papers_of(read_text(jsonl.READER, "\n".join(edited)))
    assert again == fresh
    assert again[1].title == "An edited title" and again[0].title == demo[0].title
    assert "changed" not in again[0].data and again[0].links == demo[0].links
