"""Reader for the canonical paper JSON: what `Paper.to_json` (``digest papers --json``) writes.

One object per line (JSON Lines), or one JSON array of such objects. Each object is
checked field by field; a bad field is a Problem naming the line and the field, and that
object is skipped while the others load. What this reader accepts comes back unchanged
from ``Paper.from_json(paper.to_json())``, so piping ``digest papers --json`` through it is
the identity: sightings are kept as written, and an object without ``sightings`` gets
one for this source and line. ``key`` is derived, so it is ignored.

`JsonCursor` (a JSON document read value by value, with line numbers) is shared with the
other JSON readers.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from digest.model import Paper, Problem, Sighting, split_arxiv_id
from digest.rebuilds import rebuilds_expected
from digest.sources.base import Source
from digest.sources.fields import is_http_url
from digest.sources.loader import SNIFF_BYTES

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_CANONICAL_KEYS = frozenset(
    {"key", "sightings", "arxiv_id", "abstract_truncated", "hidden_authors", "arxiv_version"}
)
_OTHER_FORMAT_KEYS = frozenset({"paper", "type", "itemType", "config", "issued"})

Check = Callable[[Any], str | None]


class JsonFault(Exception):
    """A JSON document stops being valid at `line`."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message

    def problem(self, label: str) -> Problem:
        """The fault as a Problem of the file `label`."""
        return Problem(label, self.line, f"invalid JSON: {self.message}", "bad-json", "error")


class JsonCursor:
    """A JSON document read value by value, so each value's line is known.

    `items` streams an array's elements, `members` an object's keys (read each value with
    `value` or `items` before asking for the next key). Both raise `JsonFault` where the
    document breaks, after handing out everything before that point.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self._newlines = [m.start() for m in re.finditer("\n", text)]

    @classmethod
    def of_lines(cls, lines: Iterable[str]) -> JsonCursor:
        """A cursor over decoded lines joined back into one document."""
        return cls("\n".join(lines))

    def line(self, pos: int | None = None) -> int:
        """The 1-based line of `pos` (default: the cursor's position)."""
        return bisect.bisect_left(self._newlines, self.pos if pos is None else pos) + 1

    def peek(self) -> str:
        """The next non-whitespace character ("" at the end); the cursor moves up to it."""
        match = _WHITESPACE.match(self.text, self.pos)
        self.pos = match.end() if match else self.pos
        return self.text[self.pos : self.pos + 1]

    def value(self) -> Any:
        """Decode the next whole value."""
        self.peek()
        try:
            value, self.pos = _DECODER.raw_decode(self.text, self.pos)
        except json.JSONDecodeError as err:
            raise JsonFault(self.line(err.pos), err.msg) from None
        except RecursionError:
            raise JsonFault(self.line(), "nested too deeply") from None
        return value

    def items(self) -> Iterator[tuple[Any, int]]:
        """Each element of the array at the cursor, with the line it starts on."""
        self._expect("[")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            self.peek()
            line = self.line()
            yield self.value(), line
            if self._separator("]"):
                return

    def members(self) -> Iterator[str]:
        """Each key of the object at the cursor, the cursor left on its value."""
        self._expect("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            if self.peek() != '"':
                raise JsonFault(self.line(), "expected a key in double quotes")
            key = self.value()
            self._expect(":")
            yield key
            if self._separator("}"):
                return

    def end(self) -> None:
        """Check that nothing but whitespace follows."""
        if self.peek():
            raise JsonFault(self.line(), "unexpected text after the JSON value")

    def _expect(self, char: str) -> None:
        found = self.peek()
        if found != char:
            what = repr(found) if found else "the end of the file"
            raise JsonFault(self.line(), f"expected {char!r}, found {what}")
        self.pos += 1

    def _separator(self, closing: str) -> bool:
        found = self.peek()
        if found == ",":
            self.pos += 1
            return False
        if found == closing:
            self.pos += 1
            return True
        what = repr(found) if found else "the end of the file (truncated?)"
        raise JsonFault(self.line(), f"expected ',' or {closing!r}, found {what}")


def first_json_item(head: str) -> Any:
    """The first object of a JSON document head: a line of JSON Lines or an array's first
    element (None when the head does not start with one)."""
    cursor = JsonCursor(head)
    try:
        if cursor.peek() == "[":
            return next(cursor.items(), (None, 0))[0]
        if cursor.peek() == "{":
            return cursor.value()
    except JsonFault:
        return _cut_object(head)
    return None


def _cut_object(head: str) -> dict[str, Any] | None:
    """The members of the first object of a sniffing head that end before the head does,
    when the head was cut short (a first entry longer than the head, e.g. a 1 MB abstract);
    None otherwise, or when no member is whole."""
    if len(head.encode("utf-8", "replace")) < SNIFF_BYTES - 8:
        return None  # the whole file is in the head: it is broken, not cut
    cursor = JsonCursor(head)
    if cursor.peek() == "[":
        cursor.pos += 1
    found: dict[str, Any] = {}
    try:
        for key in cursor.members():
            found[key] = cursor.value()
    except JsonFault:
        pass
    return found or None


class JsonlReader:
    """The canonical paper JSON (JSON Lines or an array), validated field by field."""

    name = "jsonl"
    description = "papers as `digest papers --json` writes them (JSON Lines or a JSON array)"

    def sniff(self, head: str, path: Path) -> int:
        """95 when the first object has the canonical paper keys, 30 for a titled object."""
        stripped = head.lstrip()
        first = _first_line_object(stripped) if stripped[:1] == "{" else first_json_item(head)
        if not isinstance(first, dict) or not isinstance(first.get("title"), str):
            return 0
        if _CANONICAL_KEYS & first.keys():
            return 95
        return 0 if _OTHER_FORMAT_KEYS & first.keys() else 30

    def read(self, lines: Iterable[str], source: Source) -> Iterator[Paper | Problem]:
        """Papers of each valid object; a Problem for each bad line or field."""
        lines = iter(lines)
        first = True
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            if first and text.lstrip().startswith("["):
                # Leading blank lines are kept so that line numbers stay those of the file.
                document = "\n" * (number - 1) + "\n".join([text, *lines])
                yield from _read_array(document, source)
                return
            first = False
            if rebuilds_expected():
                yield from _remembered_line(text, number, source)
            else:
                yield from _read_line(text, number, source)


def _first_line_object(text: str) -> Any:
    try:
        return json.loads(text.split("\n", 1)[0])
    except (ValueError, RecursionError):
        return _cut_object(text) if "\n" not in text else None


def _read_array(text: str, source: Source) -> Iterator[Paper | Problem]:
    cursor = JsonCursor(text)
    try:
        for value, line in cursor.items():
            yield from read_object(value, line, source)
        cursor.end()
    except JsonFault as fault:
        yield fault.problem(source.label)


def _remembered_line(text: str, number: int, source: Source) -> Iterable[Paper | Problem]:
    """`_read_line`, remembered: the preview server reads a whole file again after an edit
    to one line, and every other line then costs a dictionary lookup and a copy (callers
    may change the papers they get)."""
    key = (hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest(), number, source.label)
    hit = _REMEMBERED.get(key)
    if hit is not None and hit[0] == source:
        return [_copy(item) for item in hit[1]]
    result = tuple(_read_line(text, number, source))
    if len(_REMEMBERED) >= REMEMBERED_LINES:
        _REMEMBERED.pop(next(iter(_REMEMBERED)))  # the oldest first
    _REMEMBERED[key] = (source, result)
    return [_copy(item) for item in result]


def _copy(item: Paper | Problem) -> Paper | Problem:
    return item.copy() if isinstance(item, Paper) else item


# (text digest, line number, source label) → (source, what the line gave).
_REMEMBERED: dict[tuple[bytes, int, str], tuple[Source, tuple[Paper | Problem, ...]]] = {}
REMEMBERED_LINES = 200_000


def _read_line(text: str, number: int, source: Source) -> Iterator[Paper | Problem]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        yield Problem(
            source.label, number, f"invalid JSON: {err.msg} (column {err.colno})", "bad-json"
        )
        return
    except RecursionError:
        yield Problem(source.label, number, "invalid JSON: nested too deeply", "bad-json")
        return
    yield from read_object(value, number, source)


def read_object(value: Any, line: int, source: Source) -> Iterator[Paper | Problem]:
    """The paper of one canonical JSON object, or the Problems that keep it out."""
    if not isinstance(value, dict):
        yield Problem(source.label, line, "expected a JSON object", "bad-json")
        return
    title = value.get("title")
    if title is None or (isinstance(title, str) and not title.strip()):
        yield Problem(source.label, line, "entry has no title", "missing-field", field="title")
        return
    faults = list(_field_faults(value))
    for name, message in faults:
        yield Problem(source.label, line, message, "bad-field", field=name)
    if faults:
        return
    links = value.get("links") or {}
    for kind, url in links.items():
        if not is_http_url(url):
            yield Problem(
                source.label,
                line,
                f"dropped the {kind} link {url[:80]!r}: only http(s) links are kept",
                "unsafe-link",
                field="links",
            )
    safe = {kind: url for kind, url in links.items() if is_http_url(url)}
    sightings = value.get("sightings") or []
    for index, sighting in enumerate(sightings, start=1):
        url = sighting.get("url")
        if url is not None and not is_http_url(url):
            yield Problem(
                source.label,
                line,
                f"dropped the sighting link {url[:80]!r}: only http(s) links are kept",
                "unsafe-link",
                field=f"sightings[{index}].url",
            )
    sightings = [
        {**s, "url": s["url"] if is_http_url(s.get("url") or "") else None} for s in sightings
    ]
    paper = Paper.from_json({**value, "links": safe, "sightings": sightings})
    if "sightings" not in value:
        paper = dataclasses.replace(paper, sightings=(Sighting(source.name, line=line),))
    yield paper


def _field_faults(value: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for name, check in _CHECKS.items():
        if name in value:
            message = check(value[name])
            if message:
                yield name, message
    for index, sighting in enumerate(value.get("sightings") or (), start=1):
        yield from _sighting_faults(sighting, f"sightings[{index}]")


def _sighting_faults(sighting: Any, where: str) -> Iterator[tuple[str, str]]:
    if not isinstance(sighting, dict):
        yield where, "expected an object"
        return
    if not isinstance(sighting.get("source"), str):
        yield f"{where}.source", "expected a string"
    for name, check in _SIGHTING_CHECKS.items():
        message = check(sighting.get(name))
        if message:
            yield f"{where}.{name}", message


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "expected a string"


def _integer(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool)
    return None if ok else "expected an integer"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "expected true or false"


def _strings(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
    return None if ok else "expected a list of strings"


def _iso_date(value: Any) -> str | None:
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return "expected a date as YYYY-MM-DD"
    return None


def _arxiv_id(value: Any) -> str | None:
    found = split_arxiv_id(value) if isinstance(value, str) else None
    ok = found is not None and found == (value, None)
    return None if ok else "expected an arXiv id without version (like 2401.01234)"


def _string_map(value: Any) -> str | None:
    ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    return None if ok else "expected an object of strings"


def _list(value: Any) -> str | None:
    return None if isinstance(value, list) else "expected a list"


def _optional(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


_CHECKS: dict[str, Check] = {
    "title": _string,
    "authors": _strings,
    "hidden_authors": _integer,
    "organization": _optional(_string),
    "abstract": _string,
    "abstract_truncated": _boolean,
    "date": _optional(_iso_date),
    "arxiv_id": _optional(_arxiv_id),
    "arxiv_version": _optional(_integer),
    "categories": _strings,
    "links": _string_map,
    "sightings": _list,
}
_SIGHTING_CHECKS: dict[str, Check] = {
    "position": _optional(_integer),
    "upvotes": _optional(_integer),
    "date": _optional(_iso_date),
    "line": _optional(_integer),
    "url": _optional(_string),
}

READER = JsonlReader()
