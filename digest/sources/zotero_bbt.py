"""Reader for Better BibTeX JSON (``{config: {label: "BetterBibTeX JSON"}, items: [...]}``).

Items are Zotero items: ``itemType``, ``title``, ``creators`` [{creatorType, firstName,
lastName} or {name}], ``date`` (free text: ``2019-11-25``, ``2019/09/25``, ``2015``),
``abstractNote``, ``url``, ``DOI``, ``extra``. A library is not ranked: sightings have no
position. A bare array of Zotero items is read too. Standalone notes and attachments are
library items, not papers, and are passed over.

- authors: creators of type ``author`` as "First Last" (names kept as written, ``Wang*``).
- arXiv id: ``extra`` (``arXiv: 1910.07512``, a list of lines or one string),
  ``archiveID``, ``url``, ``DOI``, ``number``, ``publicationTitle``
  (``arXiv:1910.07512 [cs, math, stat]``, whose bracket gives the categories).
- links: ``doi`` from ``DOI``; ``url`` as ``abs`` for an arXiv page, else ``source``.
- an abstract ending in an ellipsis (OpenReview's excerpts) is marked truncated.
- the conference version of a preprint is a separate item without arXiv id: both load.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from digest.model import Paper, Problem
from digest.sources.base import Source
from digest.sources.csl_json import strip_markup
from digest.sources.fields import Entry, date_field, find_arxiv_id, finish, looks_cut
from digest.sources.jsonl import JsonCursor, JsonFault, first_json_item

_BBT_LABEL = re.compile(r'"label"\s*:\s*"BetterBibTeX JSON"')
_CATEGORIES = re.compile(r"arXiv:\S+\s*\[([^\]]+)\]", re.IGNORECASE)
_NOT_PAPERS = frozenset({"note", "attachment", "annotation"})
_ARXIV_FIELDS = ("extra", "archiveID", "url", "DOI", "number", "publicationTitle")


class ZoteroBbtReader:
    """Better BibTeX JSON libraries: one paper per item."""

    name = "bbt-json"
    description = "Better BibTeX JSON exports of Zotero libraries"

    def sniff(self, head: str, path: Path) -> int:
        """98 for the BetterBibTeX JSON label, 70 for other Zotero item lists."""
        if head.lstrip().startswith("{") and _BBT_LABEL.search(head):
            return 98
        first = first_json_item(head)
        if isinstance(first, dict) and isinstance(first.get("itemType"), str):
            return 70
        return 0

    def read(self, lines: Iterable[str], source: Source) -> Iterator[Paper | Problem]:
        """Papers of each item; a broken file keeps the items before the break."""
        cursor = JsonCursor.of_lines(lines)
        try:
            if cursor.peek() == "[":
                yield from _read_items(cursor, source)
            else:
                for key in cursor.members():
                    if key == "items" and cursor.peek() == "[":
                        yield from _read_items(cursor, source)
                    else:
                        cursor.value()
            cursor.end()
        except JsonFault as fault:
            yield fault.problem(source.label)


def _read_items(cursor: JsonCursor, source: Source) -> Iterator[Paper | Problem]:
    for value, line in cursor.items():
        yield from _read_item(value, line, source)


def _read_item(value: Any, line: int, source: Source) -> Iterator[Paper | Problem]:
    if not isinstance(value, dict):
        yield Problem(source.label, line, "expected an object", "bad-entry")
        return
    if value.get("itemType") in _NOT_PAPERS:
        return
    entry = Entry(line=line)
    entry.title = strip_markup(_text(value.get("title")))
    entry.abstract = _text(value.get("abstractNote"))
    entry.abstract_truncated = looks_cut(entry.abstract)
    entry.authors = _authors(value.get("creators"))
    entry.date = date_field(entry, source, value.get("date"), "date")
    entry.arxiv = find_arxiv_id(*(_text(value.get(key)) for key in _ARXIV_FIELDS))
    entry.categories = _categories(_text(value.get("publicationTitle")))
    entry.add_doi(value.get("DOI"))
    entry.add_url(value.get("url"))
    yield from finish(entry, source)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(item for item in value if isinstance(item, str))
    return value if isinstance(value, str) else ""


def _authors(creators: Any) -> list[str]:
    if not isinstance(creators, list):
        return []
    people = [c for c in creators if isinstance(c, dict)]
    authors = [c for c in people if c.get("creatorType", "author") == "author"]
    return [name for name in map(_name, authors) if name]


def _name(creator: dict[str, Any]) -> str:
    if isinstance(creator.get("name"), str):
        return str(creator["name"])
    parts = (_text(creator.get("firstName")), _text(creator.get("lastName")))
    return " ".join(part.strip() for part in parts if part.strip())


def _categories(publication: str) -> list[str]:
    match = _CATEGORIES.search(publication)
    return [c.strip() for c in match.group(1).split(",")] if match else []


READER = ZoteroBbtReader()
