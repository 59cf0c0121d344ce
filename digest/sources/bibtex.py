"""Reader for BibTeX and biblatex files, parsed by bibtexparser 2.

A bibliography is not ranked: sightings have no position; each sighting's line is the
line of the entry's ``@``. An entry the parser cannot read (unbalanced braces, say) is a
Problem on its first line and the other entries still load. Mapping:

- title and abstract: LaTeX kept as written, except case-protection braces (``{{Deep}}``,
  ``Tensor{F}low``) and text escapes outside math (``\\&``, ``\\%``, ``\\_``, ``\\#``,
  ``\\{``, ``\\}``, ``\\textbackslash``) which are resolved; ``\\$`` stays escaped so it
  cannot open math.
- authors: ``Last, First`` / ``First von Last`` become "First von Last" with TeX accents
  decoded (``Mart{\\'\\i}n`` → Martín); ``and others`` / ``and et al.`` each count one
  hidden author.
- date: biblatex ``date``, else ``year`` (``2023a`` read as 2023) + ``month``; a year
  alone gives January 1st.
- arXiv id: ``eprint`` (when ``eprinttype``/``archiveprefix`` is arXiv or absent), else
  an ``arXiv:…`` or arxiv.org mention in journal, booktitle, note, howpublished, url, doi.
- categories: ``primaryclass``, ``eprintclass`` (comma-separated), a ``[cs.LG]`` after an
  arXiv id in ``journal``.
- links: ``doi`` from ``doi``; ``url`` as ``abs`` for an arXiv page, else ``source``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import bibtexparser
from bibtexparser import model
from bibtexparser.middlewares import RemoveEnclosingMiddleware
from bibtexparser.middlewares.names import (
    parse_single_name_into_parts,
    split_multiple_persons_names,
)
from pylatexenc.latex2text import LatexNodes2Text

from digest.model import Paper, Problem
from digest.sources.base import Source
from digest.sources.fields import (
    Entry,
    calendar_date,
    date_field,
    find_arxiv_id,
    finish,
    looks_cut,
    month_number,
    parse_arxiv_id,
    squash,
)

_ENTRY_START = re.compile(r"@\s*[A-Za-z]+\s*[{(]")
_ENTRY_LINE = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]\s*[^,\s]+\s*,", re.MULTILINE)
_COMMAND = re.compile(r"\\(?:[A-Za-z]+\s*|.?)", re.DOTALL)
_YEAR = re.compile(r"^(\d{4})[a-z]?$")  # "2023a" tells two 2023 entries apart
_TEXT_ESCAPES = frozenset("&%#_{}")
_HIDDEN = frozenset({"others", "et al.", "et al", "et. al."})
_ARXIV_MENTIONS = ("journal", "booktitle", "note", "howpublished", "url", "doi", "eprint")
_BRACKET_CATEGORY = re.compile(r"arXiv:\S+\s*\[([^\]]+)\]", re.IGNORECASE)
_PARSE_LOCK = threading.Lock()
_LATEX = LatexNodes2Text()


class BibtexReader:
    """BibTeX / biblatex: one paper per entry (``@string``, ``@comment`` … are skipped)."""

    name = "bibtex"
    description = "BibTeX and biblatex bibliographies"

    def sniff(self, head: str, path: Path) -> int:
        """90 when the first text that is not a ``%`` comment opens an entry, 50 when some
        line does."""
        text = "\n".join(ln for ln in head.splitlines() if not ln.lstrip().startswith("%"))
        if _ENTRY_START.match(text.lstrip()):
            return 90
        return 50 if _ENTRY_LINE.search(head) else 0

    def read(self, lines: Iterable[str], source: Source) -> Iterator[Paper | Problem]:
        """Papers of each entry in file order, a Problem for each unreadable one."""
        try:
            library = _parse("\n".join(lines))
        except Exception as exc:  # bibtexparser's failures are not documented; report them
            yield Problem(
                source.label, 0, f"the BibTeX parser failed: {exc}", "bad-bibtex", "error"
            )
            return
        for block in library.blocks:
            yield from _read_block(block, library, source)


def _parse(text: str) -> bibtexparser.Library:
    with _PARSE_LOCK, _quiet("bibtexparser"):
        return bibtexparser.parse_string(text)


@contextmanager
def _quiet(prefix: str) -> Iterator[None]:
    """Silence a library's loggers: what they would print, `read` reports as Problems."""
    names = [n for n in list(logging.root.manager.loggerDict) if n.startswith(prefix)]
    loggers = [logging.getLogger(name) for name in names]
    before = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, disabled in zip(loggers, before, strict=True):
            logger.disabled = disabled


def _read_block(
    block: model.Block, library: bibtexparser.Library, source: Source
) -> Iterator[Paper | Problem]:
    line = (block.start_line or 0) + 1
    if isinstance(block, model.Entry):
        yield from _read_entry(block, line, source)
    elif isinstance(block, model.DuplicateBlockKeyBlock | model.DuplicateFieldKeyBlock):
        yield Problem(source.label, line, _first_line(str(block.error)), "duplicate")
        raw = block.ignore_error_block
        if isinstance(raw, model.Entry):
            entry = RemoveEnclosingMiddleware().transform_block(raw, library)
            if isinstance(entry, model.Entry):
                yield from _read_entry(entry, line, source)
    elif isinstance(block, model.ParsingFailedBlock):
        reason = getattr(block.error, "abort_reason", None) or str(block.error or "")
        message = f"entry skipped (unbalanced braces or quotes?): {squash(reason)}".rstrip(": ")
        yield Problem(source.label, line, message, "bad-entry")


def _first_line(text: str) -> str:
    return squash(text.split("\n", 1)[0])


def _read_entry(block: model.Entry, line: int, source: Source) -> Iterator[Paper | Problem]:
    fields = {f.key.lower(): str(f.value) for f in block.fields}
    entry = Entry(line=line)
    entry.title = tex_text(fields.get("title", ""))
    entry.abstract = tex_text(fields.get("abstract", ""))
    entry.abstract_truncated = looks_cut(entry.abstract)
    entry.authors, entry.hidden_authors = people(fields.get("author", ""))
    entry.date = _date(fields, entry, source)
    entry.arxiv = _arxiv(fields)
    entry.categories = _categories(fields)
    entry.add_doi(fields.get("doi"))
    entry.add_url(fields.get("url"))
    yield from finish(entry, source)


def tex_text(value: str) -> str:
    """BibTeX field text for display: case braces and text escapes resolved, LaTeX kept."""
    out: list[str] = []
    kept: list[bool] = []  # for each open brace: is it written out?
    math = argument = False
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\":
            command = _COMMAND.match(value, i)
            text = command.group() if command else char
            i += len(text)
            out.append(_command_text(text, math))
            argument = not _is_text_escape(text, math)
            continue
        if char == "$":
            math = not math
        if char == "{":
            keep = math or argument or value.startswith("\\", i + 1)
            kept.append(keep)
            out.append(char if keep else "")
        elif char == "}":
            keep = kept.pop() if kept else True
            out.append(char if keep else "")
        else:
            out.append(char)
        argument = char == "}" and keep
        i += 1
    return "".join(out)


def _is_text_escape(command: str, math: bool) -> bool:
    name = command[1:].strip()
    return not math and (name in _TEXT_ESCAPES or name == "textbackslash")


def _command_text(command: str, math: bool) -> str:
    if not _is_text_escape(command, math):
        return command
    name = command[1:].strip()
    return "\\" if name == "textbackslash" else name


def people(value: str) -> tuple[list[str], int]:
    """Display names of a BibTeX name list, and how many ``others`` it hides."""
    names: list[str] = []
    hidden = 0
    for raw in split_multiple_persons_names(value) if value.strip() else []:
        if raw.strip().strip("{}").lower() in _HIDDEN:
            hidden += 1
        elif raw.strip():
            names.append(person_name(raw))
    return names, hidden


def person_name(raw: str) -> str:
    """``Last, First`` (or ``First von Last``) as "First von Last", TeX decoded."""
    try:
        parts = parse_single_name_into_parts(raw, strict=False)
        words = [*parts.first, *parts.von, *parts.last, *parts.jr]
    except Exception:  # bibtexparser raises its own errors for odd names; keep the raw name
        words = [raw]
    return squash(_decode_tex(" ".join(words)))


def _decode_tex(text: str) -> str:
    try:
        return str(_LATEX.latex_to_text(text))
    except Exception:  # pylatexenc is tolerant, but a name must never stop a file loading
        return text.replace("{", "").replace("}", "")


def _date(fields: dict[str, str], entry: Entry, source: Source) -> dt.date | None:
    if fields.get("date", "").strip():
        return date_field(entry, source, fields["date"], "date")
    year = fields.get("year", "").strip()
    if not year:
        return None
    match = _YEAR.match(year)
    if not match:
        entry.problem(source, f"unreadable year {year[:20]!r}", "bad-date", "year")
        return None
    return calendar_date(int(match.group(1)), month_number(fields.get("month", "")))


def _arxiv(fields: dict[str, str]) -> tuple[str, int | None] | None:
    kind = (fields.get("eprinttype") or fields.get("archiveprefix") or "arxiv").lower()
    if kind == "arxiv":
        found = parse_arxiv_id(fields.get("eprint", ""))
        if found:
            return found
    mentions = (_unbraced(fields.get(name, "")) for name in _ARXIV_MENTIONS)
    return find_arxiv_id(*mentions)


def _categories(fields: dict[str, str]) -> list[str]:
    categories = [fields.get("primaryclass", "")]
    categories += fields.get("eprintclass", "").split(",")
    bracket = _BRACKET_CATEGORY.search(_unbraced(fields.get("journal", "")))
    if bracket:
        categories += bracket.group(1).split(",")
    return [category.strip() for category in categories if category.strip()]


def _unbraced(text: str) -> str:
    return text.replace("{", "").replace("}", "")


READER = BibtexReader()
