"""Reader for CSL-JSON (citeproc JSON, as Zotero, Better BibTeX and pandoc export it).

An array of items ``{id, type, title, author: [{family, given}], issued: {date-parts},
DOI, URL, abstract, ...}``. A bibliography is not ranked: sightings have no position.

- title: CSL rich-text markup (``<i>``, ``<b>``, ``<sub>``, ``<sup>``,
  ``<span class="nocase">``) is removed, the text inside kept.
- authors: ``given`` + particles + ``family`` (+ ``suffix``), or ``literal``.
- date: the first ``issued.date-parts`` entry, whose parts may be strings or numbers;
  a year alone gives January 1st; else ``issued.raw`` / ``literal``.
- arXiv id: from ``URL``, ``DOI`` (10.48550/arXiv.…), ``number``, ``note`` or
  ``container-title`` (``arXiv:1910.07512``); links: ``doi`` from ``DOI``, ``URL`` as
  ``abs`` when it is an arXiv page, ``doi`` when a doi.org URL, else ``source``.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from digest.model import Paper, Problem
from digest.sources.base import Source
from digest.sources.fields import (
    Entry,
    calendar_date,
    date_field,
    find_arxiv_id,
    finish,
    int_or_none,
    looks_cut,
)
from digest.sources.jsonl import JsonCursor, JsonFault, first_json_item

_MARKUP = re.compile(r"</?(?:i|b|sub|sup|sc|span)(?:\s[^>]*)?>", re.IGNORECASE)
_NAME_PARTS = ("given", "dropping-particle", "non-dropping-particle", "family")


class CslJsonReader:
    """CSL-JSON arrays: one paper per item."""

    name = "csl-json"
    description = "CSL-JSON bibliographies (Zotero, Better BibTeX, pandoc)"

    def sniff(self, head: str, path: Path) -> int:
        """90 when the first item has a CSL ``type`` and ``issued``/``author``/``id``."""
        first = first_json_item(head)
        if not isinstance(first, dict) or not isinstance(first.get("type"), str):
            return 0
        if "paper" in first or "itemType" in first:
            return 0
        authors = first.get("author")
        has_names = isinstance(authors, list) and any(
            isinstance(a, dict) and ("family" in a or "literal" in a) for a in authors
        )
        if has_names or isinstance(first.get("issued"), dict):
            return 90
        return 40 if "id" in first else 0

    def read(self, lines: Iterable[str], source: Source) -> Iterator[Paper | Problem]:
        """Papers of each item; a broken file keeps the items before the break."""
        cursor = JsonCursor.of_lines(lines)
        try:
            if cursor.peek() == "{":
                line = cursor.line()
                yield from _read_item(cursor.value(), line, source)
            else:
                for value, line in cursor.items():
                    yield from _read_item(value, line, source)
            cursor.end()
        except JsonFault as fault:
            yield fault.problem(source.label)


def _read_item(value: Any, line: int, source: Source) -> Iterator[Paper | Problem]:
    if not isinstance(value, dict):
        yield Problem(source.label, line, "expected an object", "bad-entry")
        return
    entry = Entry(line=line)
    entry.title = strip_markup(_text(value.get("title")))
    entry.abstract = strip_markup(_text(value.get("abstract")))
    entry.abstract_truncated = looks_cut(entry.abstract)
    entry.authors = [name for name in map(_name, _list(value.get("author"))) if name]
    entry.date = _issued(value.get("issued"), entry, source)
    entry.arxiv = find_arxiv_id(
        *(_text(value.get(k)) for k in ("URL", "DOI", "number", "note", "container-title"))
    )
    entry.add_doi(value.get("DOI"))
    entry.add_url(value.get("URL"))
    yield from finish(entry, source)


def strip_markup(text: str) -> str:
    """`text` without CSL rich-text tags, entities decoded."""
    return html.unescape(_MARKUP.sub("", text))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _name(person: Any) -> str:
    if not isinstance(person, dict):
        return ""
    if isinstance(person.get("literal"), str):
        return person["literal"]
    parts = [_text(person.get(key)) for key in _NAME_PARTS]
    name = " ".join(part for part in parts if part.strip())
    suffix = _text(person.get("suffix"))
    return f"{name} {suffix}" if name and suffix else name


def _issued(issued: Any, entry: Entry, source: Source) -> dt.date | None:
    if not isinstance(issued, dict):
        return date_field(entry, source, issued, "issued") if isinstance(issued, str) else None
    parts = _list(issued.get("date-parts"))
    first = _list(parts[0]) if parts else []
    if first:
        date = _date_from_parts(first)
        if date is None:
            entry.problem(source, f"unreadable date-parts {first!r:.40}", "bad-date", "issued")
        return date
    raw = issued.get("raw") or issued.get("literal")
    return date_field(entry, source, raw, "issued")


def _date_from_parts(parts: list[Any]) -> dt.date | None:
    year, month, day = ([_as_int(part) for part in parts[:3]] + [None, None])[:3]
    if month is not None and not 1 <= month <= 12:  # 13–24 are seasons: keep the year
        month = day = None
    return calendar_date(year, month, day) if year else None


def _as_int(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return int_or_none(value)


READER = CslJsonReader()
