"""Reader for the Hugging Face daily papers API (huggingface.co/api/daily_papers).

A JSON array of items ``{paper: {...}, publishedAt, title, ...}`` ranked by the listing, so
each sighting's position is the 1-based order and its upvotes ``paper.upvotes``. Every
field is optional because the shape changed across 2024–2026 (see the fixtures notes):

- title: the top-level ``title`` (unwrapped, keeps LaTeX the paper title lost), else
  ``paper.title``; abstract: ``paper.summary``, else the top-level ``summary``.
- date: ``paper.publishedAt`` (the arXiv publication date).
- sighting date (the listing day): ``paper.submittedOnDailyAt``, else the top-level
  ``publishedAt`` (the 2024 shape, where it is the listing time), else the source's date.
  From 2025 on the top-level ``publishedAt`` is the arXiv time shifted by the US-Eastern
  offset, not the listing day, so it only serves as the fallback.
- links: ``code`` from ``githubRepo``, ``project`` from ``projectPage``; the sighting URL
  is the paper's huggingface.co page.

A single paper object (``/api/papers/<id>``) is read as a one-item listing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from digest.model import Paper, Problem
from digest.sources.base import Source
from digest.sources.fields import Entry, date_field, finish, int_or_none, parse_arxiv_id
from digest.sources.jsonl import JsonCursor, JsonFault, first_json_item

_HEAD = re.compile(r'^\s*\[\s*\{\s*"paper"\s*:\s*\{')


class HfApiReader:
    """Hugging Face daily papers JSON, one paper per item, in listing order."""

    name = "hf-api"
    description = "Hugging Face daily papers API JSON (2024–2026 shapes)"

    def sniff(self, head: str, path: Path) -> int:
        """95 for items with a ``paper`` object, 70 for a bare HF paper object."""
        first = first_json_item(head)
        if isinstance(first, dict):
            if isinstance(first.get("paper"), dict) and "id" in first["paper"]:
                return 95
            if _is_hf_paper(first):
                return 70
            return 0
        # A head cut inside the first item cannot be decoded; its opening still tells.
        return 60 if _HEAD.match(head) else 0

    def read(self, lines: Iterable[str], source: Source) -> Iterator[Paper | Problem]:
        """Papers of each item in listing order; a broken file keeps the items before it."""
        cursor = JsonCursor.of_lines(lines)
        try:
            if cursor.peek() == "{":
                line = cursor.line()
                value = cursor.value()
                cursor.end()
                yield from _read_item(value, None, line, source)
                return
            for position, (value, line) in enumerate(cursor.items(), start=1):
                yield from _read_item(value, position, line, source)
            cursor.end()
        except JsonFault as fault:
            yield fault.problem(source.label)


def _is_hf_paper(value: dict[str, Any]) -> bool:
    authors = value.get("authors")
    return (
        isinstance(value.get("id"), str)
        and "upvotes" in value
        and isinstance(authors, list)
        and all(isinstance(a, dict) for a in authors)
    )


def _read_item(
    value: Any, position: int | None, line: int, source: Source
) -> Iterator[Paper | Problem]:
    if not isinstance(value, dict):
        yield Problem(source.label, line, "expected an object", "bad-entry")
        return
    wrapped = isinstance(value.get("paper"), dict)
    paper: dict[str, Any] = value["paper"] if wrapped else value
    item: dict[str, Any] = value if wrapped else {}
    entry = Entry(line=line, position=position)
    entry.title = _text(item.get("title")) or _text(paper.get("title"))
    entry.abstract = _text(paper.get("summary")) or _text(item.get("summary"))
    entry.authors = _authors(paper.get("authors"))
    entry.arxiv = parse_arxiv_id(paper.get("id"))
    entry.date = date_field(entry, source, paper.get("publishedAt"), "paper.publishedAt")
    listed = paper.get("submittedOnDailyAt") or item.get("publishedAt")
    entry.listed = date_field(entry, source, listed, "publishedAt") or source.date
    entry.upvotes = int_or_none(paper.get("upvotes"))
    entry.organization = _organization(paper.get("organization"), item.get("organization"))
    entry.add_link("code", paper.get("githubRepo"))
    entry.add_link("project", paper.get("projectPage"))
    if isinstance(paper.get("id"), str) and paper["id"].strip():
        entry.url = "https://huggingface.co/papers/" + quote(paper["id"].strip())
    yield from finish(entry, source)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _authors(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [a["name"] for a in value if isinstance(a, dict) and isinstance(a.get("name"), str)]


def _organization(*candidates: Any) -> str | None:
    for candidate in candidates:
        if isinstance(candidate, dict):
            name = candidate.get("fullname") or candidate.get("name")
            if isinstance(name, str) and name.strip():
                return name
    return None


READER = HfApiReader()
