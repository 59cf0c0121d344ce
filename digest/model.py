"""The records that flow through a build: papers, their sightings, and input problems.

Readers create `Paper`s (each with one `Sighting` per listing entry); the merge step folds
sightings of the same paper into one record. Loaded fields are frozen; plugins attach their
results under `Paper.data` (keyed by plugin name) so the core never needs to know them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]

_ARXIV_NEW = re.compile(r"^(\d{4}\.\d{4,5})(v(\d+))?$")
_ARXIV_OLD = re.compile(r"^([a-z][a-z.\-]*/\d{7})(v(\d+))?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with an input, reported instead of raised.

    `kind` is a short stable slug (``truncated-entry``, ``bad-date``, ``not-utf8`` …) used
    to count problems by kind; `line` is 1-based, 0 when the whole file is concerned.
    """

    file: str
    line: int
    message: str
    kind: str = "input"
    severity: Severity = "warning"
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        fld = f" [{self.field}]" if self.field else ""
        return f"{where}:{fld} {self.message}"

    def to_json(self) -> dict[str, Any]:
        """The problem as a JSON-ready dict with stable keys."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Sighting:
    """One appearance of a paper in one source.

    `position` is the 1-based rank in a ranked listing (None when the listing is not
    ranked); `date` is the date the listing shows for the paper; `line` is where the
    entry starts in the source file.
    """

    source: str
    position: int | None = None
    upvotes: int | None = None
    date: dt.date | None = None
    line: int | None = None
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The sighting as a JSON-ready dict (dates as ISO strings)."""
        return {
            "source": self.source,
            "position": self.position,
            "upvotes": self.upvotes,
            "date": self.date.isoformat() if self.date else None,
            "line": self.line,
            "url": self.url,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Sighting:
        """Inverse of `to_json`."""
        date = obj.get("date")
        return cls(
            source=str(obj["source"]),
            position=obj.get("position"),
            upvotes=obj.get("upvotes"),
            date=dt.date.fromisoformat(date) if date else None,
            line=obj.get("line"),
            url=obj.get("url"),
        )


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper, as loaded and merged.

    Identity (`key`) is ``arxiv:<id without version>`` when the arXiv id is known, else
    ``title:<normalized title>``. `links` maps a kind (``abs``, ``pdf``, ``doi``, ``code``,
    ``project``, ``source``) to an http(s) URL. `hidden_authors` counts authors a listing
    did not show. `data` is where plugins put what they compute (``data["trending"]`` …).
    """

    title: str
    authors: tuple[str, ...] = ()
    abstract: str = ""
    abstract_truncated: bool = False
    hidden_authors: int = 0
    organization: str | None = None
    date: dt.date | None = None
    arxiv_id: str | None = None
    arxiv_version: int | None = None
    categories: tuple[str, ...] = ()
    links: dict[str, str] = field(default_factory=dict)
    sightings: tuple[Sighting, ...] = ()
    data: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """The identity used to merge sightings of the same paper."""
        if self.arxiv_id:
            return f"arxiv:{self.arxiv_id}"
        return f"title:{normalize_title(self.title)}"

    @property
    def slug(self) -> str:
        """A URL-safe, stable name for the paper's page."""
        if self.arxiv_id:
            return self.arxiv_id.replace("/", "-")
        return slugify(self.title)[:80] or "paper"

    @property
    def upvotes(self) -> int | None:
        """The highest upvote count any sighting reports."""
        votes = [s.upvotes for s in self.sightings if s.upvotes is not None]
        return max(votes) if votes else None

    @property
    def source_names(self) -> tuple[str, ...]:
        """Names of the distinct sources that list this paper, sorted."""
        return tuple(sorted({s.source for s in self.sightings}))

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON form (what ``digest papers --json`` prints)."""
        return {
            "key": self.key,
            "title": self.title,
            "authors": list(self.authors),
            "hidden_authors": self.hidden_authors,
            "organization": self.organization,
            "abstract": self.abstract,
            "abstract_truncated": self.abstract_truncated,
            "date": self.date.isoformat() if self.date else None,
            "arxiv_id": self.arxiv_id,
            "arxiv_version": self.arxiv_version,
            "categories": list(self.categories),
            "links": dict(sorted(self.links.items())),
            "sightings": [s.to_json() for s in self.sightings],
        }

    def copy(self) -> Paper:
        """This paper with its own `links` and `data` (a deep copy of it), for a caller
        that may change them: as `dataclasses.replace` would make it, a few times faster
        (the preview server copies every paper of a site after each edit)."""
        return Paper(
            title=self.title,
            authors=self.authors,
            abstract=self.abstract,
            abstract_truncated=self.abstract_truncated,
            hidden_authors=self.hidden_authors,
            organization=self.organization,
            date=self.date,
            arxiv_id=self.arxiv_id,
            arxiv_version=self.arxiv_version,
            categories=self.categories,
            links=dict(self.links),
            sightings=self.sightings,
            data=deepcopy(self.data) if self.data else {},
        )

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Paper:
        """Inverse of `to_json` (the ``key`` field is derived, so it is ignored)."""
        date = obj.get("date")
        return cls(
            title=str(obj["title"]),
            authors=tuple(str(a) for a in obj.get("authors") or ()),
            hidden_authors=int(obj.get("hidden_authors") or 0),
            organization=obj.get("organization"),
            abstract=str(obj.get("abstract") or ""),
            abstract_truncated=bool(obj.get("abstract_truncated")),
            date=dt.date.fromisoformat(date) if date else None,
            arxiv_id=obj.get("arxiv_id"),
            arxiv_version=obj.get("arxiv_version"),
            categories=tuple(obj.get("categories") or ()),
            links={str(k): str(v) for k, v in (obj.get("links") or {}).items()},
            sightings=tuple(Sighting.from_json(s) for s in obj.get("sightings") or ()),
        )


def newest_first(papers: Iterable[Paper]) -> list[Paper]:
    """Papers by date, newest first, undated last; ties by key (a total, stable order)."""
    return sorted(papers, key=lambda p: (-(p.date.toordinal() if p.date else 0), p.key))


def normalize_title(title: str) -> str:
    """Fold a title for identity: NFKC, case, punctuation and whitespace removed."""
    text = unicodedata.normalize("NFKC", title).casefold()
    text = re.sub(r"[\W_]+", " ", text)
    return " ".join(text.split())


def slugify(text: str) -> str:
    """ASCII slug of `text`: lowercase words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def split_arxiv_id(raw: str) -> tuple[str, int | None] | None:
    """Split ``2401.01234v2`` (or ``cs/9901002v1``) into id and version; None if not an id."""
    raw = raw.strip()
    for pattern in (_ARXIV_NEW, _ARXIV_OLD):
        m = pattern.match(raw)
        if m:
            return m.group(1), int(m.group(3)) if m.group(3) else None
    return None
