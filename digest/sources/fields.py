"""Field helpers shared by the structured-format readers.

Every reader collects what it finds for one entry into an `Entry`, then `finish` turns it
into a `Paper` (or a Problem when the title is missing), applying the rules all formats
share: whitespace of titles and abstracts squashed, only http(s) links kept, arXiv
abs/pdf links derived from the id when the source gives none, one `Sighting` per entry.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from digest.model import Paper, Problem, Sighting, split_arxiv_id
from digest.sources.base import Source

_ARXIV_PREFIX = re.compile(
    r"^(?:https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/|oai:arxiv\.org:|arxiv:\s*)",
    re.IGNORECASE,
)
_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf)/|arxiv:\s*|10\.48550/arxiv\.)"
    r"(\d{4}\.\d{4,5}(?:v\d+)?|[a-z][a-z\-]*(?:\.[a-z]{2})?/\d{7}(?:v\d+)?)",
    re.IGNORECASE,
)
_ARXIV_PAGE = re.compile(r"^https?://(?:www\.|export\.)?arxiv\.org/(abs|pdf)/", re.IGNORECASE)
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_DOI_PREFIX = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", re.IGNORECASE)
_MOJIBAKE = re.compile("[\xc2-\xf4][\x80-\xbf]")
_YMD = re.compile(r"^(\d{4})(?:[-/](\d{1,2})(?:[-/](\d{1,2}))?)?(?=$|[T\s/])")
_ARXIV_CATEGORY = re.compile(r"^[a-z][a-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?$")
_ANNOUNCE = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*\S+\s*Abstract:\s*", re.IGNORECASE)
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


@dataclass
class Entry:
    """What a reader found for one entry, before the shared checks of `finish`.

    `listed` is the date the listing shows (the sighting's date); `date` is the paper's
    publication date. `links` may still hold unsafe URLs: `finish` drops and reports them.
    `url` is the sighting's URL; by default the ``abs`` link the source gives.
    """

    line: int | None
    title: str = ""
    authors: list[str] = field(default_factory=list)
    hidden_authors: int = 0
    abstract: str = ""
    abstract_truncated: bool = False
    organization: str | None = None
    date: dt.date | None = None
    arxiv: tuple[str, int | None] | None = None
    categories: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    position: int | None = None
    upvotes: int | None = None
    listed: dt.date | None = None
    url: str | None = None
    problems: list[Problem] = field(default_factory=list)

    def add_link(self, kind: str, url: object) -> None:
        """Remember a link of `kind` unless one is known already (the first one wins)."""
        if isinstance(url, str) and url.strip():
            self.links.setdefault(kind, url.strip())

    def add_url(self, url: object) -> None:
        """Remember a URL of unknown kind: an arXiv page is ``abs``/``pdf``, a doi.org URL
        ``doi``, anything else ``source``."""
        if not isinstance(url, str) or not url.strip():
            return
        page = _ARXIV_PAGE.match(url.strip())
        if page:
            self.add_link(page.group(1).lower(), url)
        elif not self.add_doi(url):
            self.add_link("source", url)

    def add_doi(self, raw: object) -> bool:
        """Remember the ``doi`` link for a DOI written bare, as ``doi:…`` or as a URL.

        Returns whether `raw` was a DOI.
        """
        url = doi_url(raw)
        if url:
            self.links.setdefault("doi", url)
        return url is not None

    def problem(self, source: Source, message: str, kind: str, fld: str | None = None) -> None:
        """Record a warning about this entry, reported on the entry's line."""
        self.problems.append(Problem(source.label, self.line or 0, message, kind, field=fld))


def finish(entry: Entry, source: Source) -> Iterator[Paper | Problem]:
    """The entry's problems, then its `Paper` (or a missing-title problem instead)."""
    yield from entry.problems
    links = {kind: url for kind, url in entry.links.items() if is_http_url(url)}
    yield from _unsafe_links(entry, source)
    title = squash(entry.title)
    if not title:
        yield Problem(
            source.label, entry.line or 0, "entry has no title", "missing-field", field="title"
        )
        return
    url = entry.url or links.get("abs")
    arxiv_id, version = entry.arxiv if entry.arxiv else (None, None)
    if arxiv_id:
        links.setdefault("abs", f"https://arxiv.org/abs/{arxiv_id}")
        links.setdefault("pdf", f"https://arxiv.org/pdf/{arxiv_id}")
    url = url if url and is_http_url(url) else None
    sighting = Sighting(source.name, entry.position, entry.upvotes, entry.listed, entry.line, url)
    yield Paper(
        title=title,
        authors=tuple(a for a in (squash(name) for name in entry.authors) if a),
        abstract=squash(entry.abstract),
        abstract_truncated=entry.abstract_truncated,
        hidden_authors=entry.hidden_authors,
        organization=squash(entry.organization or "") or None,
        date=entry.date,
        arxiv_id=arxiv_id,
        arxiv_version=version,
        categories=unique(c.strip() for c in entry.categories if c.strip()),
        links=links,
        sightings=(sighting,),
    )


def _unsafe_links(entry: Entry, source: Source) -> Iterator[Problem]:
    for kind, url in entry.links.items():
        if not is_http_url(url):
            yield Problem(
                source.label,
                entry.line or 0,
                f"dropped the {kind} link {url[:80]!r}: only http(s) links are kept",
                "unsafe-link",
                field="links",
            )


# `\s` on text is exactly what str.isspace() calls whitespace.
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def is_http_url(url: str) -> bool:
    """Whether `url` is an absolute http(s) URL without spaces or control characters."""
    if _SPACE_OR_CONTROL.search(url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def squash(text: str) -> str:
    """`text` on one line: every run of whitespace (hard wraps too) becomes one space."""
    return " ".join(text.split())


def unique(items: Iterable[str]) -> tuple[str, ...]:
    """`items` without repeats, first occurrence kept (so a primary category stays first)."""
    return tuple(dict.fromkeys(items))


def looks_cut(text: str) -> bool:
    """Whether an abstract ends in an ellipsis, as excerpts (OpenReview's, say) do."""
    return text.rstrip().endswith(("...", "…"))


def is_arxiv_category(term: str) -> bool:
    """Whether `term` looks like an arXiv category (``cs.LG``, ``quant-ph``), not ACM/MSC."""
    return bool(_ARXIV_CATEGORY.match(term))


def listing_abstract(text: str) -> str:
    """An arXiv listing description without its ``arXiv:… Announce Type: … Abstract:`` lead."""
    return _ANNOUNCE.sub("", text, count=1)


def split_names(text: str) -> list[str]:
    """Authors from one comma-separated string (``A, B, C Jr.``), suffixes kept with a name."""
    names: list[str] = []
    for part in (p.strip() for p in re.split(r",|\band\b", text)):
        if names and re.fullmatch(r"(?:Jr|Sr|I{2,3}|IV)\.?", part):
            names[-1] = f"{names[-1]} {part}"
        elif part:
            names.append(part)
    return names


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 bytes that were decoded as latin-1 (``RamÃ­rez`` → ``Ramírez``)."""
    if not _MOJIBAKE.search(text):
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return text


def parse_arxiv_id(raw: object) -> tuple[str, int | None] | None:
    """An arXiv id and version from an id, ``arXiv:`` / ``oai:arXiv.org:`` form or abs URL."""
    if not isinstance(raw, str):
        return None
    text = _ARXIV_PREFIX.sub("", raw.strip()).removesuffix(".pdf")
    return split_arxiv_id(text)


def find_arxiv_id(*texts: object) -> tuple[str, int | None] | None:
    """The first arXiv id mentioned (``arXiv:…``, an arxiv.org URL, an arXiv DOI) in `texts`."""
    for text in texts:
        if isinstance(text, str):
            for match in _ARXIV_IN_TEXT.finditer(text):
                found = split_arxiv_id(match.group(1))
                if found:
                    return found
    return None


def doi_url(raw: object) -> str | None:
    """``https://doi.org/<doi>`` for a DOI written bare, as ``doi:…`` or as a doi.org URL."""
    if not isinstance(raw, str):
        return None
    words = raw.split()  # a field may list several DOIs; the first one is linked
    doi = _DOI_PREFIX.sub("", words[0]) if words else ""
    if not _DOI.match(doi):
        return None
    return "https://doi.org/" + quote(doi, safe="/:;()[]._-~!$&'*+,=@")


def parse_date(raw: object) -> dt.date | None:
    """The calendar date `raw` names, as written (no time-zone shift); None if unreadable.

    Reads ISO dates and date-times, ``2019/09/25``, RFC 822 (``Mon, 27 Apr 2026 …``) and
    ``25 Nov 2019`` / ``November 25, 2019``. A year or year-month alone gives the first
    day of that period.
    """
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    match = _YMD.match(text)
    if match:
        return calendar_date(*(int(g) if g else None for g in match.groups()))
    return _rfc822_date(text) or _named_month_date(text)


def calendar_date(
    year: int | None, month: int | None = None, day: int | None = None
) -> dt.date | None:
    """The date of `year`, `month` and `day`, missing parts as 1; None if it does not exist."""
    if year is None:
        return None
    try:
        return dt.date(year, month or 1, day or 1)
    except ValueError:
        return None


def _rfc822_date(text: str) -> dt.date | None:
    try:
        return email.utils.parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _named_month_date(text: str) -> dt.date | None:
    words = re.findall(r"[A-Za-z]+|\d+", text)
    months = [month_number(w) for w in words if not w.isdigit()]
    numbers = [int(w) for w in words if w.isdigit()]
    years = [n for n in numbers if n >= 1000]
    month = next((m for m in months if m), None)
    if not years or not month:
        return None
    days = [n for n in numbers if n <= 31]
    return calendar_date(years[0], month, days[0] if days else None)


def month_number(word: object) -> int | None:
    """1–12 for a month name, abbreviation (``feb``) or number; None otherwise."""
    if isinstance(word, int) and not isinstance(word, bool):
        return word if 1 <= word <= 12 else None
    if not isinstance(word, str):
        return None
    text = word.strip().lower().removesuffix(".")
    if text.isdigit():
        return month_number(int(text))
    if len(text) < 3:
        return None
    return next((n for n, name in enumerate(_MONTHS, start=1) if name.startswith(text)), None)


def date_field(entry: Entry, source: Source, raw: object, name: str) -> dt.date | None:
    """`parse_date` of a field, recording a ``bad-date`` problem when it is unreadable."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    date = parse_date(raw)
    if date is None:
        entry.problem(source, f"unreadable date {str(raw)[:40]!r}", "bad-date", name)
    return date


def int_or_none(value: object) -> int | None:
    """`value` if it is a true int (JSON booleans excluded), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
