"""Encodings and line endings: the same listing saved as UTF-8 (with and without BOM),
UTF-16 LE/BE and UTF-32 (with BOM), with Windows line endings or NUL bytes, reads as the
same papers; Latin-1 bytes where UTF-8 is expected are reported (``not-utf8``) on their
line; one title in NFC and NFD is one paper."""

from __future__ import annotations

import codecs
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, DEMO_DATE

from digest.build import build, readers_by_name
from digest.config import load_config
from digest.errors import ConfigError
from digest.plugins import make_plugin_manager
from digest.sources.base import Source
from digest.sources.loader import LoadResult, load_source
from digest.sources.merge import merge_papers

ENCODINGS = [
    ("utf-8", b""),
    ("utf-8", codecs.BOM_UTF8),
    ("utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16-be", codecs.BOM_UTF16_BE),
    ("utf-32-le", codecs.BOM_UTF32_LE),
    ("utf-32-be", codecs.BOM_UTF32_BE),
]
PAPERS = "".join(
    json.dumps(
        {"title": title, "authors": ["Zoë Ñúñez", "李雷"], "abstract": f"{title}: $\\alpha$ ≥ 1.",
         "key": "k"},
        ensure_ascii=False,
    ) + "\n"
    for title in ("Café résumé — naïve", "Ελληνικά και 日本語", "Emoji 🚀 in a title")
)  # fmt: skip
SEEDS = {"hf-search": "hf-papers-search-a.txt", "hf-daily": "hf-daily-papers.txt",
         "mila": "mila-publications.txt"}  # fmt: skip


@pytest.fixture(scope="module")
def readers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("readers")
    (folder / "site.toml").write_text("", "utf-8")
    return readers_by_name(make_plugin_manager(load_config(folder / "site.toml")))


def load(readers: dict[str, Any], path: Path, data: bytes, fmt: str | None = None) -> LoadResult:
    path.write_bytes(data)
    return load_source(readers, Source("test", path, format=fmt, year=2025))


def problems(result: LoadResult) -> list[tuple[Any, ...]]:
    return [(p.line, p.kind, p.message, p.field) for p in result.problems]


def summary(result: LoadResult) -> list[tuple[Any, ...]]:
    return [
        (p.title, p.authors, p.abstract, tuple((s.position, s.line) for s in p.sightings))
        for p in result.papers
    ]


@pytest.mark.parametrize("encoding,bom", ENCODINGS)
@pytest.mark.parametrize("fmt", ["jsonl", *SEEDS])
def test_every_unicode_encoding_with_a_bom_reads_the_same(
    fmt: str, encoding: str, bom: bytes, readers: dict[str, Any], tmp_path: Path
) -> None:
    text = PAPERS if fmt == "jsonl" else (DATA / SEEDS[fmt]).read_text("utf-8")
    plain = load(readers, tmp_path / "plain", text.encode("utf-8"))
    result = load(readers, tmp_path / "encoded", bom + text.encode(encoding))
    assert result.format == plain.format == fmt  # sniffed through the BOM
    assert summary(result) == summary(plain)
    assert problems(result) == problems(plain)
    assert len(result.papers) >= 3


@pytest.mark.parametrize("fmt", ["jsonl", *SEEDS])
def test_windows_line_endings_read_the_same(
    fmt: str, readers: dict[str, Any], tmp_path: Path
) -> None:
    text = PAPERS if fmt == "jsonl" else (DATA / SEEDS[fmt]).read_text("utf-8")
    plain = load(readers, tmp_path / "lf", text.encode())
    crlf = load(readers, tmp_path / "crlf", text.replace("\n", "\r\n").encode())
    assert summary(crlf) == summary(plain)
    assert not any("\r" in p.title or "\r" in p.abstract for p in crlf.papers)


def test_utf16_with_windows_line_endings(readers: dict[str, Any], tmp_path: Path) -> None:
    data = codecs.BOM_UTF16_LE + PAPERS.replace("\n", "\r\n").encode("utf-16-le")
    result = load(readers, tmp_path / "x", data)
    assert result.papers[0].title == "Café résumé — naïve"
    assert result.problems == []


def test_latin1_mislabelled_as_utf8_is_reported_on_its_line(
    readers: dict[str, Any], tmp_path: Path
) -> None:
    lines = PAPERS.splitlines(keepends=True)
    data = (lines[0] + lines[1]).encode("utf-8") + lines[0].encode("latin-1", "replace")
    result = load(readers, tmp_path / "latin.jsonl", data)
    assert [(p.kind, p.line) for p in result.problems] == [("not-utf8", 3)]
    assert "not UTF-8" in result.problems[0].message
    # The line is still read, its undecodable bytes replaced (visible, not guessed).
    assert len(result.papers) == 3 and "\ufffd" in result.papers[2].title


def test_a_latin1_listing_is_reported_line_by_line(readers: dict[str, Any], tmp_path: Path) -> None:
    text = (DATA / "hf-papers-search-a.txt").read_text("utf-8")
    data = text.encode("latin-1", "replace")
    bad = [n for n, line in enumerate(data.split(b"\n"), 1) if any(b > 127 for b in line)]
    result = load(readers, tmp_path / "latin.txt", data)
    assert result.format == "hf-search"
    assert [p.line for p in result.problems if p.kind == "not-utf8"] == bad
    assert bad  # the listing has accented names


def test_nul_bytes_are_dropped_and_reported(readers: dict[str, Any], tmp_path: Path) -> None:
    """A NUL inside a line (a common artefact of broken exports) is removed and reported on
    its line; the format is still recognised."""
    lines = PAPERS.encode("utf-8").split(b"\n")
    lines[1] = lines[1].replace(b"\xce\x95", b"\x00\xce\x95")
    result = load(readers, tmp_path / "nul.jsonl", b"\n".join(lines))
    assert result.format == "jsonl"
    assert [(p.kind, p.line) for p in result.problems] == [("nul-bytes", 2)]
    assert result.papers[1].title == "Ελληνικά και 日本語"


def test_a_binary_file_is_refused(readers: dict[str, Any], tmp_path: Path) -> None:
    result = load(readers, tmp_path / "image.png", b"\x89PNG\r\n\x1a\n" + bytes(4000))
    assert [p.kind for p in result.problems] == ["binary-file"]
    assert result.problems[0].severity == "error"


def test_a_truncated_utf16_file_reads_what_is_whole(
    readers: dict[str, Any], tmp_path: Path
) -> None:
    data = codecs.BOM_UTF16_LE + PAPERS.encode("utf-16-le")
    result = load(readers, tmp_path / "cut", data[:-3])  # half a character at the end
    assert result.format == "jsonl"
    assert len(result.papers) == 2
    assert [p.kind for p in result.problems] == ["bad-json"]


def test_nfc_and_nfd_titles_are_one_paper(
    readers: dict[str, Any], tmp_path: Path, site_factory: Any
) -> None:
    title = "Éléments de géométrie neuronale: Ångström-scale über-learning"
    nfc, nfd = unicodedata.normalize("NFC", title), unicodedata.normalize("NFD", title)
    assert nfc != nfd
    a = load(readers, tmp_path / "a.jsonl", json.dumps({"title": nfc, "key": "k"}).encode())
    b = load(readers, tmp_path / "b.jsonl", json.dumps({"title": nfd, "key": "k"}).encode())
    merged = merge_papers([*a.papers, *b.papers])
    assert len(merged) == 1 and len(merged[0].sightings) == 2
    # And through a whole build: one page.
    root = site_factory(
        config="""
        [[sources]]
        name = "a"
        path = "a.jsonl"
        [[sources]]
        name = "b"
        path = "b.txt"
        format = "hf-search"
        """,
        files={
            "a.jsonl": json.dumps({"title": nfc, "key": "k"}, ensure_ascii=False) + "\n",
            "b.txt": f"Get trending papers in your email inbox!\nSubscribe{nfd}\nAn abstract.\n",
        },
    )
    result = build(root / "site.toml", date=DEMO_DATE)
    assert len(result.site.papers) == 1
    assert {s.source for s in result.site.papers[0].sightings} == {"a", "b"}


def test_site_toml_with_a_bom_is_read_and_utf16_refused(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_bytes(codecs.BOM_UTF8 + 'title = "Café"\n'.encode())
    assert load_config(path).title == "Café"
    path.write_bytes(codecs.BOM_UTF16_LE + 'title = "Café"\n'.encode("utf-16-le"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)
    path.write_bytes(b'title = "Caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 12\)"):
        load_config(path)
