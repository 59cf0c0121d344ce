"""Citation export: BibTeX entries that parse, escape every special character and keep
their keys stable and unique."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import bibtexparser
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pylatexenc.latex2text import LatexNodes2Text

from digest.bibtex_export import (
    bibtex_entry,
    bibtex_file,
    citation_keys,
    escape_bibtex,
    paper_bibtex,
)
from digest.config import Config
from digest.model import Paper, Sighting
from digest.site import Site


def make_site(papers: list[Paper]) -> Site:
    config = Config(path=Path("/nowhere/site.toml"), root=Path("/nowhere"))
    config.base_url = "https://example.org/digest/"
    return Site(config=config, date=dt.date(2025, 10, 30), papers=papers)


def parse_one(text: str) -> dict[str, str]:
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks, text
    assert len(library.entries) == 1, text
    return {field.key: field.value for field in library.entries[0].fields}


def test_an_arxiv_paper_gives_the_fields_arxiv_gives() -> None:
    paper = Paper(
        title="Scaling Laws for Neural Language Models",
        authors=("Jared Kaplan", "Sam McCandlish"),
        hidden_authors=8,
        date=dt.date(2020, 1, 23),
        arxiv_id="2001.08361",
        categories=("cs.LG",),
    )
    text = bibtex_entry(paper, "kaplan2020scaling")
    assert text.startswith("@misc{kaplan2020scaling,\n")
    fields = parse_one(text)
    assert fields["title"] == "{Scaling Laws for Neural Language Models}"
    assert fields["author"] == "Jared Kaplan and Sam McCandlish and others"
    assert fields["year"] == "2020"
    assert fields["month"] == "jan"
    assert fields["eprint"] == "2001.08361"
    assert fields["archivePrefix"] == "arXiv"
    assert fields["primaryClass"] == "cs.LG"
    assert fields["url"] == "https://arxiv.org/abs/2001.08361"


def test_special_characters_are_escaped_and_decode_back() -> None:
    title = "100% {robust} & fast_net #1 ~ back\\slash"
    paper = Paper(title=title, authors=("José Ñúñez", "R&D Team"), date=dt.date(2024, 5, 1))
    fields = parse_one(bibtex_entry(paper, "k"))
    assert LatexNodes2Text().latex_to_text(fields["title"][1:-1]) == title
    assert "R\\&D Team" in fields["author"]
    assert "José Ñúñez" in fields["author"]


def test_math_in_titles_stays_latex_but_unbalanced_braces_are_escaped() -> None:
    fields = parse_one(bibtex_entry(Paper(title="LeC$^2$O-NeRF"), "k"))
    assert fields["title"] == "{LeC$^2$O-NeRF}"
    fields = parse_one(bibtex_entry(Paper(title="Broken $x}$ and $5"), "k"))
    assert fields["title"] == "{Broken \\$x\\}\\$ and \\$5}"


def test_an_author_named_with_and_stays_one_author() -> None:
    fields = parse_one(bibtex_entry(Paper(title="T", authors=("Sam and Max Lab", "Ann")), "k"))
    assert fields["author"] == "{Sam and Max Lab} and Ann"


def test_organization_when_no_authors_and_page_url_when_no_link() -> None:
    paper = Paper(title="T", organization="Mila")
    fields = parse_one(bibtex_entry(paper, "k", "https://example.org/digest/papers/t/"))
    assert fields["author"] == "{Mila}"
    assert fields["url"] == "https://example.org/digest/papers/t/"


def test_doi_and_url_are_verbatim() -> None:
    paper = Paper(
        title="T", links={"doi": "https://doi.org/10.1000/a%b_c", "abs": "https://x.org/?a=1&b=%20"}
    )
    fields = parse_one(bibtex_entry(paper, "k"))
    assert fields["doi"] == "10.1000/a%b_c"
    assert fields["url"] == "https://x.org/?a=1&b=%20"


def test_an_organization_of_spaces_alone_names_no_one() -> None:
    """A JSON Lines entry may give any string as the organization; spaces alone used to
    crash the key (an IndexError) and so the build."""
    papers = [
        Paper(title="Blank Organisation Study", organization="   ", date=dt.date(2024, 1, 1)),
        Paper(title="Named Lab Study", organization=" Mila Lab ", date=dt.date(2024, 2, 1)),
    ]
    assert sorted(citation_keys(make_site(papers)).values()) == [
        "blank2024organisation",
        "mila2024named",
    ]


def test_keys_are_unique_stable_and_ascii() -> None:
    papers = [
        Paper(title="The Curse of Diversity", authors=("Zhixuan Lin",), date=dt.date(2024, 5, 1)),
        Paper(title="Curse of Depth", authors=("Z. Lin",), date=dt.date(2024, 6, 1)),
        Paper(title="Ünïcode Façade", authors=("Zoë Ångström",), date=dt.date(2023, 1, 1)),
        Paper(title="$x$ of the", authors=()),
        Paper(title="LeC$^2$O-NeRF: Learning Occupancy", date=dt.date(2024, 11, 18)),
    ]
    keys = citation_keys(make_site(papers))
    assert sorted(keys.values()) == [
        "angstrom2023unicode",
        "anonpaper",
        "lec2024nerf",
        "lin2024cursea",
        "lin2024curseb",
    ]
    # The same papers in another order get the same keys.
    assert citation_keys(make_site(list(reversed(papers)))) == keys


def test_a_site_file_has_every_paper_and_a_safe_header() -> None:
    papers = [
        Paper(title=f"Paper {i}", authors=(f"Author {i}",), sightings=(Sighting("s"),))
        for i in range(3)
    ]
    site = make_site(papers)
    site.config.title = "My @digest"
    text = bibtex_file(site, papers, title="Topic @ home")
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks
    assert [e.key for e in library.entries] == [citation_keys(site)[p.key] for p in papers]
    assert text.startswith("% Topic home (https://example.org/digest/)\n")
    assert paper_bibtex(site, papers[0]) in text


@pytest.mark.parametrize(
    ("char", "escaped"),
    [
        ("\\", "\\textbackslash{}"),
        ("{", "\\{"),
        ("}", "\\}"),
        ("&", "\\&"),
        ("%", "\\%"),
        ("$", "\\$"),
        ("#", "\\#"),
        ("_", "\\_"),
        ("~", "\\textasciitilde{}"),
        ("^", "\\textasciicircum{}"),
    ],
)
def test_each_special_character(char: str, escaped: str) -> None:
    assert escape_bibtex(f"a{char}b") == f"a{escaped}b"
    assert parse_one(f"@misc{{k, title = {{a{escaped}b}}}}")["title"] == f"a{escaped}b"


@given(st.text(max_size=60))
def test_any_title_and_author_parse(text: str) -> None:
    paper = Paper(title=text or "t", authors=(text,) if text.strip() else ())
    fields = parse_one(bibtex_entry(paper, "key"))
    assert fields["title"].startswith("{") and fields["title"].endswith("}")


def test_a_consortium_paper_names_the_first_hundred_authors() -> None:
    paper = Paper(title="T", authors=tuple(f"Author {i}" for i in range(150)))
    names = parse_one(bibtex_entry(paper, "k"))["author"].split(" and ")
    assert len(names) == 101 and names[0] == "Author 0" and names[-1] == "others"
