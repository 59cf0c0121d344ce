"""Readers for listing pages saved as the text a browser shows (three formats).

* ``mila`` — an institute publication list: a title line, one author per line, then usually
  one abstract line, with "show more" markers (`… (voir plus)`, `… (voir N de plus)`).
* ``hf-search`` — paper search results: two header lines, then alternating title and
  abstract lines, the first title glued to the word ``Subscribe``. Ranked.
* ``hf-daily`` — a daily papers feed: a header ending in the page's date, then entries of
  title, abstract, ``• N authors`` (or an organisation line), ``·`` and a date with an
  optional upvote count. Ranked.

Rules shared by the three readers:

* Whitespace is normalised (runs of spaces, tabs and odd Unicode spaces become one space);
  everything else — LaTeX ``$…$``, ``*emphasis*``, ``&`` — is kept as written.
* A reader never raises on bad content and never prints: every non-blank line ends up in
  a `Paper` or is reported as a `Problem`. Lines are consumed one entry at a time (the
  daily feed holds its parsed entries until the end only when it must infer the year).
* An abstract is *truncated* (`looks_cut`) when it ends in an ellipsis (``…`` / ``...``)
  or without final punctuation (``. ! ? ) ] } " ' * $`` and typographic quotes), unless
  its last word is a URL (abstracts often end with a bare link). The search page prints
  whole abstracts, so there only an ellipsis marks a cut (several real abstracts end
  without a full stop), except for the last entry, see below.
* The last entry of a file is reported as ``truncated-entry`` (at the line where the
  entry starts) when it lacks the part entries of its format end with — the abstract
  (mila, hf-search) or the date line (hf-daily) — or when its abstract looks cut: that
  is what a page saved before it finished loading looks like. What is there is still
  yielded as a paper.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from digest.model import Paper, Problem, Sighting
from digest.sources.base import Reader, Source

Row = tuple[int, str]
"""A non-blank line: its 1-based number and its whitespace-normalised text."""

# --------------------------------------------------------------------------------------
# Text rules shared by the readers

# Closing markup (`*emphasis*`, `$x$`) ends a text as deliberately as a full stop does.
_FINAL_PUNCTUATION = ".!?)]}\"'”’»*$"
_ENDS_WITH_URL = re.compile(r"(?:https?://|www\.)\S+$", re.IGNORECASE)
# A full stop between two sentences ("...data. We show"); titles use "?" and "!" that way
# ("Is Model Collapse Inevitable? Breaking ..."), so those do not count.
_SENTENCE_BREAK = re.compile(r"[a-z0-9)]\. [A-Z]")


def clean_text(text: str) -> str:
    """`text` with surrounding whitespace removed and inner runs folded to one space."""
    return " ".join(text.split())


def looks_cut(text: str) -> bool:
    """Whether an abstract looks shortened (see the module docstring for the rule)."""
    if not text:
        return False
    if text.endswith(("…", "...")):
        return True
    if text[-1] in _FINAL_PUNCTUATION:
        return False
    return not _ENDS_WITH_URL.search(text)


def is_prose(text: str) -> bool:
    """Whether a line reads like an abstract rather than a title or a name: at least 300
    characters or 35 words, or 20 words that end with a full stop or hold two sentences
    (the longest titles seen have about 180 characters and 25 words, and no full stops)."""
    if len(text) >= 300:
        return True
    words = len(text.split())
    if words >= 35:
        return True
    return words >= 20 and (text.endswith(".") or bool(_SENTENCE_BREAK.search(text)))


def numbered_rows(lines: Iterable[str]) -> Iterator[Row]:
    """The non-blank lines of a listing with their 1-based line numbers, whitespace folded."""
    for number, raw in enumerate(lines, start=1):
        text = clean_text(raw)
        if text:
            yield number, text


def is_structured(head: str) -> bool:
    """Whether a file starts like JSON, XML or BibTeX (never one of these listings)."""
    return head.lstrip("\ufeff \t\r\n")[:1] in ("[", "{", "<", "@")


def head_rows(head: str, limit: int = 400) -> list[str]:
    """The first non-blank lines of a sniffed head, whitespace folded."""
    rows: list[str] = []
    for raw in head.splitlines():
        text = clean_text(raw)
        if text:
            rows.append(text)
            if len(rows) >= limit:
                break
    return rows


def truncated_entry(source: Source, line: int, title: str, missing: str, field: str) -> Problem:
    """The problem reported for an entry the file ends in the middle of (`missing` says
    what is lacking, `field` which field it leaves incomplete)."""
    return Problem(
        source.label,
        line,
        f"the listing ends inside the entry {title[:60]!r} ({missing})",
        "truncated-entry",
        field=field,
    )


class Lookahead:
    """An iterator of rows that can peek a few rows ahead without consuming them."""

    def __init__(self, rows: Iterable[Row]):
        self._rows = iter(rows)
        self._buffer: deque[Row] = deque()

    def __iter__(self) -> Iterator[Row]:
        return self

    def __next__(self) -> Row:
        if self._buffer:
            return self._buffer.popleft()
        return next(self._rows)

    def peek(self, ahead: int = 0) -> Row | None:
        """The row `ahead` rows after the next one (0: the next), or None past the end."""
        while len(self._buffer) <= ahead:
            row = next(self._rows, None)
            if row is None:
                return None
            self._buffer.append(row)
        return self._buffer[ahead]


# --------------------------------------------------------------------------------------
# Page chrome of the Hugging Face pages (search results and daily feed)

_CHROME = re.compile(
    r"^(?:new|subscribe|daily papers|get trending papers\b.*|by ?ak\b.*)$", re.IGNORECASE
)
# The first title of a search page is glued to the "Subscribe" button's label; titles may
# start with a lowercase letter (iTransformer), but "Subscriber(s)"/"Subscribed" are words.
_GLUED_SUBSCRIBE = re.compile(r"^Subscribe(?=\S)(?!(?:r|rs|d|s)\b)")


def is_chrome(text: str) -> bool:
    """Whether a line is part of the Hugging Face page header rather than an entry."""
    return bool(_CHROME.match(text))


def without_chrome(rows: Iterable[Row]) -> Iterator[Row]:
    """Rows with header lines dropped and a glued ``Subscribe`` prefix removed."""
    for number, text in rows:
        if is_chrome(text):
            continue
        unglued = _GLUED_SUBSCRIBE.sub("", text, count=1)
        if unglued:
            yield number, unglued


# --------------------------------------------------------------------------------------
# mila: institute publication list

_MORE_TEXT = re.compile(
    r"(?:…|\.\.\.)\s*\((?:voir plus|see more|show more|read more)\)", re.IGNORECASE
)
_MORE_AUTHORS = re.compile(
    r"\s*(?:…|\.\.\.)?\s*\((?:voir|see|show)\s+([0-9]{1,6})\s+(?:de\s+)?(?:plus|more)\)\s*$",
    re.IGNORECASE,
)
_NOT_IN_NAMES = frozenset(':;?!,()[]{}"/\\=+&$*@#%<>|_~^`')
_PARTICLES_TEXT = "de da das dei del della der des di do dos du el la le lo ten ter van von y zu"
_PARTICLES = frozenset([*_PARTICLES_TEXT.split(), "al", "bin", "ibn"])
# Words that appear in titles but (practically) never in a person's name. Only needed for a
# title that follows an author line and is otherwise shaped like a name ("Tree Cross
# Attention"); words that are also surnames or given names (Long, Cross, Deep) stay out.
_TITLE_WORDS_TEXT = """
    learning learn learned neural network networks model models modeling modelling attention
    transformer transformers data dataset datasets graph graphs language languages diffusion
    generative reinforcement towards toward survey review analysis efficient scaling scale
    training inference optimization optimisation detection segmentation recognition
    representation representations prediction estimation classification retrieval benchmark
    benchmarks framework approach method methods algorithm algorithms systems agent agents
    robust robustness adversarial supervised unsupervised vision image images video videos
    text speech policy policies control reasoning knowledge foundation foundational embedding
    embeddings sparse bayesian stochastic gradient gradients causal molecular protein proteins
    clinical medical quantum multimodal semantic generation synthesis architecture
    architectures exploration memory theory via using beyond understanding evaluating
    improving decoding encoding latent variational autoencoder autoencoders contrastive
    federated pruning distillation compression quantization alignment pretraining tuning
    planning navigation simulation dynamics kernel kernels regression clustering sampling
    uncertainty calibration privacy fairness interpretability explainability tokens
    tokenization cells genomics immunity cancer disease diseases brain robotics robot robots
    llm llms gpt bert vae gan gans nerf cnn rnn
"""
_TITLE_WORDS = frozenset(_TITLE_WORDS_TEXT.split())


def _strip_author_marker(text: str) -> tuple[str, int]:
    """An author line without its ``… (voir N de plus)`` marker, and N (0 if none)."""
    match = _MORE_AUTHORS.search(text)
    if not match:
        return text, 0
    return text[: match.start()].strip(), int(match.group(1))


def _is_name_word(word: str) -> bool:
    """Whether one word can be part of a person's name as listings print it."""
    if word in _PARTICLES or re.match(r"^[dlo]['’]\w", word):
        return True
    head = word.split("-", 1)[0]
    if head in _PARTICLES and "-" in word:
        return True
    core = re.sub(r"[-.'’]", "", word)
    if not core.isalpha() or not word[0].isupper():
        return False
    # An all-capitals word of three letters or more is an acronym (BCG, LLM), not a name.
    return len(core) < 3 or not core.isupper()


def is_name(text: str) -> bool:
    """Whether a mila line is shaped like an author name (short capitalised words)."""
    text, _ = _strip_author_marker(text)
    if not text:
        return True
    words = text.split()
    if len(words) > 6 or any(ch in _NOT_IN_NAMES for ch in text):
        return False
    if not any(word[0].isupper() for word in words):
        return False
    return all(_is_name_word(word) for word in words)


def _has_title_word(text: str) -> bool:
    return any(word in _TITLE_WORDS for word in re.findall(r"\w+", text.casefold()))


def _is_plain_name(text: str) -> bool:
    return is_name(text) and not _has_title_word(text)


def mila_line_kind(text: str, previous: str | None, following: str | None) -> str:
    """Classify a mila line as ``title``, ``author`` or ``abstract``, given the kind of the
    line before and the text of the line after (None at the end of the file).

    * Prose (see `is_prose`) or a ``(voir plus)`` marker makes an abstract.
    * After an abstract, or first in the file, comes a title.
    * After a title or an author, a name-shaped line is an author — unless it follows an
      author and holds a word only titles use ("Tree Cross Attention"): then it is a title.
    * A line there that cannot be a name is the next entry's title when a name follows it
      (every entry starts with a title and its authors), else this entry's short
      abstract. At the end of the file it is an abstract if it has 12 words or more.
    """
    if _MORE_TEXT.search(text) or is_prose(text):
        return "abstract"
    if previous in (None, "abstract"):
        return "title"
    if is_name(text):
        return "title" if previous == "author" and _has_title_word(text) else "author"
    if following is None:
        return "abstract" if len(text.split()) >= 12 else "title"
    return "title" if _is_plain_name(following) else "abstract"


def join_more(text: str) -> tuple[str, bool]:
    """An abstract with its ``… (voir plus)`` markers removed, the text on both sides joined
    as is (``wh… (voir plus)ere`` is ``where``); and whether a marker ended the text with
    nothing after it (the continuation is missing)."""
    pieces = _MORE_TEXT.split(text)
    dangling = len(pieces) > 1 and not pieces[-1].strip()
    return clean_text("".join(pieces)), dangling


@dataclass
class _MilaEntry:
    line: int
    title: str
    authors: list[str] = field(default_factory=list)
    hidden: int = 0
    raw_abstract: str = ""

    def add_author(self, text: str) -> None:
        name, hidden = _strip_author_marker(text)
        if name:
            self.authors.append(name)
        self.hidden += hidden

    def add_abstract(self, text: str) -> None:
        # A continuation on its own line after a dangling marker joins without a space.
        dangling = bool(self.raw_abstract) and join_more(self.raw_abstract)[1]
        glue = "" if dangling or not self.raw_abstract else " "
        self.raw_abstract += glue + text

    def paper(self, source: Source) -> Paper:
        abstract, dangling = join_more(self.raw_abstract)
        return Paper(
            title=self.title,
            authors=tuple(self.authors),
            hidden_authors=self.hidden,
            abstract=abstract,
            abstract_truncated=dangling or looks_cut(abstract),
            sightings=(Sighting(source.name, line=self.line),),
        )

    def end_problem(self, source: Source, paper: Paper) -> Problem | None:
        """The problem to report if this entry is the last of the file."""
        if not paper.abstract:
            return truncated_entry(source, self.line, self.title, "no abstract", "abstract")
        if paper.abstract_truncated:
            return truncated_entry(source, self.line, self.title, "the abstract is cut", "abstract")
        return None


class MilaReader:
    """Reader for an institute publication list (mila-publications.txt and the like)."""

    name = "mila"
    description = "Institute publication list: title, one author per line, abstract"

    def sniff(self, head: str, path: Path) -> int:
        """Confident when ``(voir plus)`` markers and name-shaped lines appear; 0 for the
        Hugging Face pages and structured formats."""
        if is_structured(head):
            return 0
        rows = head_rows(head)
        if not rows or any(_is_hf_row(text) for text in rows):
            return 0
        names = sum(is_name(text) for text in rows)
        markers = sum(bool(_MORE_TEXT.search(t) or _MORE_AUTHORS.search(t)) for t in rows)
        if names < 2:
            return 0
        score = 60 if markers else 20
        if names >= 0.3 * len(rows):
            score += 25
        return min(score, 95)

    def read(self, lines: Iterable[str], source: Source) -> Iterator[Paper | Problem]:
        """Papers of a publication list, one per entry (repeats included)."""
        entry: _MilaEntry | None = None
        previous: str | None = None
        rows = Lookahead(numbered_rows(lines))
        for number, text in rows:
            following = rows.peek()
            kind = mila_line_kind(text, previous, following[1] if following else None)
            previous = kind
            if kind == "title":
                if entry is not None:
                    yield entry.paper(source)
                entry = _MilaEntry(number, text)
            elif entry is None:
                yield Problem(
                    source.label,
                    number,
                    f"{kind} line before any title",
                    "missing-title",
                    field="title",
                )
                continue
            elif kind == "author":
                entry.add_author(text)
            else:
                entry.add_abstract(text)
        if entry is not None:
            paper = entry.paper(source)
            yield paper
            problem = entry.end_problem(source, paper)
            if problem:
                yield problem


def _is_hf_row(text: str) -> bool:
    return is_chrome(text) or text == "·" or bool(_AUTHOR_COUNT.match(text))


# --------------------------------------------------------------------------------------
# hf-search: paper search results


def _is_search_pair(title: str, abstract: str) -> bool:
    return not is_prose(title) and is_prose(abstract)


class HfSearchReader:
    """Reader for Hugging Face paper search results (alternating title / abstract lines)."""

    name = "hf-search"
    description = "Hugging Face paper search results: title and abstract lines, ranked"

    def sniff(self, head: str, path: Path) -> int:
        """Confident on the search page header and the glued ``Subscribe``; 0 for the daily
        feed (``• N authors`` / ``·`` lines), the mila list and structured formats."""
        if is_structured(head):
            return 0
        rows = head_rows(head)
        if any(text == "·" or _AUTHOR_COUNT.match(text) for text in rows):
            return 0
        if any(text.casefold() == "daily papers" or _MORE_TEXT.search(text) for text in rows):
            return 0
        header = any(text.casefold().startswith("get trending papers") for text in rows[:5])
        glued = any(_GLUED_SUBSCRIBE.match(text) for text in rows[:5])
        content = [text for _, text in without_chrome(enumerate(rows))][:40]
        pairs = list(zip(content[0::2], content[1::2], strict=False))
        alternating = sum(_is_search_pair(t, a) for t, a in pairs) >= 0.8 * len(pairs)
        # A page cut off right after its header has no pairs yet: the header decides.
        if not alternating or not (pairs or header or glued):
            return 0
        return (40 if pairs else 0) + (35 if header else 0) + (20 if glued else 0)

    def read(self, lines: Iterable[str], source: Source) -> Iterator[Paper | Problem]:
        """Papers in rank order; an entry whose abstract is missing keeps an empty one."""
        rows = Lookahead(without_chrome(numbered_rows(lines)))
        position = 0
        for number, text in rows:
            if is_prose(text):
                yield Problem(
                    source.label,
                    number,
                    "an abstract without a title",
                    "missing-title",
                    field="title",
                )
                continue
            position += 1
            abstract = next(rows)[1] if _next_is_abstract(rows) else ""
            at_end = rows.peek() is None
            cut = looks_cut(abstract) if at_end else abstract.endswith(("…", "..."))
            yield Paper(
                title=text,
                abstract=abstract,
                abstract_truncated=cut,
                sightings=(Sighting(source.name, position=position, line=number),),
            )
            if at_end and (cut or not abstract):
                missing = "the abstract is cut" if abstract else "no abstract"
                yield truncated_entry(source, number, text, missing, "abstract")


def _next_is_abstract(rows: Lookahead) -> bool:
    """Whether the row after a title is its abstract rather than the next title.

    A prose line is an abstract. A short line is an abstract too unless a prose line follows
    it: then it is the next title and the current entry has no abstract.
    """
    following = rows.peek()
    if following is None:
        return False
    if is_prose(following[1]):
        return True
    after = rows.peek(1)
    return after is None or not is_prose(after[1])


# --------------------------------------------------------------------------------------
# hf-daily: daily papers feed

_AUTHOR_COUNT = re.compile(r"^•\s*([0-9]{1,6})\s+authors?$", re.IGNORECASE)
_DATE_LINE = re.compile(
    r"^(?P<month>[A-Za-z]{3,9})\.? (?P<day>[0-9]{1,2})(?:, (?P<year>[0-9]{4}))?"
    r"(?: (?P<votes>[0-9]{1,9}))?$"
)
# Spelled out rather than taken from `calendar`, whose names follow the process locale.
_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DateLine:
    """A daily-feed date line: ``Sep 9``, ``Dec 9, 2024 3`` (3 upvotes), ``Jun 5, 2023 18``.

    A number after a comma is the year; a number after the day or the year is the upvote
    count (the feed shows it only when there are upvotes: absent means None).
    """

    month: int
    day: int
    year: int | None
    upvotes: int | None

    def to_date(self, page_year: int | None) -> dt.date | None:
        """The calendar date, yearless dates taken in `page_year`; None if impossible."""
        year = self.year or page_year
        if year is None:
            return None
        try:
            return dt.date(year, self.month, self.day)
        except ValueError:
            return None


def parse_date_line(text: str) -> DateLine | None:
    """A `DateLine` if `text` is one, else None."""
    match = _DATE_LINE.match(text)
    if not match:
        return None
    word = match["month"].casefold()
    month = next((i for i, name in enumerate(_MONTHS, 1) if name.startswith(word)), None)
    if month is None:
        return None
    year, votes = match["year"], match["votes"]
    return DateLine(
        month, int(match["day"]), int(year) if year else None, int(votes) if votes else None
    )


def organization_name(line: str) -> str:
    """The organisation an hf-daily organisation line names.

    The line is the organisation's hub handle (its avatar's text) followed by its display
    name: ``apple Apple`` is Apple, ``facebook AI at Meta`` is "AI at Meta". The first word
    is dropped as a handle when it has no capital letter, contains ``-``, ``_`` or a digit,
    or is the start of the display name squashed (``Qwen Qwen``, ``Meta Meta AI``);
    otherwise (``Google DeepMind``) the whole line is the name.
    """
    handle, _, rest = line.partition(" ")
    if not rest:
        return line
    squashed = re.sub(r"[\W_]+", "", rest).casefold()
    if (
        handle == handle.lower()
        or re.search(r"[-_0-9]", handle)
        or squashed.startswith(handle.casefold())
    ):
        return rest
    return line


def _is_org_line(text: str) -> bool:
    words = text.split()
    return 1 <= len(words) <= 6 and len(text) <= 64 and text[-1] not in ".!?:"


@dataclass
class _DailyEntry:
    """An hf-daily entry as parsed, before its date gets a year."""

    line: int
    title: str
    position: int = 0
    texts: list[Row] = field(default_factory=list)
    authors: int | None = None
    meta: bool = False
    date: DateLine | None = None
    date_line: int = 0
    stray: list[Problem] = field(default_factory=list)

    def drop_stray_title(self, source: Source) -> Problem | None:
        """Undo a stray line read as the title (page chrome this reader does not know):
        it pushes the title into the abstract's place and the abstract after it."""
        texts = self.texts
        if len(texts) != 2 or not is_prose(texts[1][1]) or is_prose(texts[0][1]):
            return None
        stray = Problem(
            source.label, self.line, f"unexpected line {self.title[:60]!r}", "stray-line"
        )
        (self.line, self.title), self.texts = texts[0], texts[1:]
        return stray

    def parts(self) -> tuple[str, str | None]:
        """The abstract and the organisation name, told apart by shape."""
        texts = [text for _, text in self.texts]
        # An organisation line stands where the author count would, before the "·".
        if len(texts) == 1 and self.authors is None and self.meta and _is_org_line(texts[0]):
            return "", organization_name(texts[0])
        abstract = texts[0] if texts else ""
        return abstract, organization_name(texts[1]) if len(texts) > 1 else None

    def paper(self, source: Source, page_year: int | None) -> Paper:
        date = self.date.to_date(page_year) if self.date else None
        abstract, organization = self.parts()
        upvotes = self.date.upvotes if self.date else None
        return Paper(
            title=self.title,
            abstract=abstract,
            abstract_truncated=looks_cut(abstract),
            hidden_authors=self.authors or 0,
            organization=organization,
            date=date,
            sightings=(Sighting(source.name, self.position, upvotes, date, self.line),),
        )


class _DailyParser:
    """Turns the rows of a daily feed into entries and problems, in file order."""

    def __init__(self, source: Source):
        self.source = source
        self.page_date: DateLine | None = None
        self.page_date_line = 0
        self.entry: _DailyEntry | None = None
        self.position = 0
        self.seen_entry = False

    def run(self, rows: Iterable[Row]) -> Iterator[_DailyEntry | Problem]:
        """Entries and problems; the last entry is flagged if the file ends inside it."""
        for number, text in without_chrome(rows):
            yield from self._row(number, text)
        if self.entry is not None:
            entry = self.entry
            yield from self._finish()
            yield truncated_entry(self.source, entry.line, entry.title, "no date line", "date")

    def _row(self, number: int, text: str) -> Iterator[_DailyEntry | Problem]:
        date = parse_date_line(text)
        count = _AUTHOR_COUNT.match(text)
        if date is not None:
            yield from self._date(number, date)
        elif count or text == "·":
            yield from self._meta(number, int(count.group(1)) if count else None)
        else:
            yield from self._text(number, text)

    def _text(self, number: int, text: str) -> Iterator[_DailyEntry | Problem]:
        entry = self.entry
        if entry is None or entry.meta:
            # A text line after the author count or the dot starts the next entry: the
            # current one lost its date line.
            if entry is not None:
                entry.stray.append(
                    self._problem(entry.line, "the entry has no date", "missing-date")
                )
            yield from self._finish()
            self._start(number, text)
        elif len(entry.texts) < 2:
            entry.texts.append((number, text))
        else:
            # Title, abstract, X, Y with no meta line: X was the next entry's title.
            title_line, title = entry.texts.pop()
            entry.stray.append(self._problem(entry.line, "the entry has no date", "missing-date"))
            yield from self._finish()
            self._start(title_line, title).texts.append((number, text))

    def _meta(self, number: int, authors: int | None) -> Iterator[_DailyEntry | Problem]:
        if self.entry is None:
            yield self._problem(
                number, "an author count or separator outside an entry", "stray-line"
            )
            return
        self.entry.meta = True
        if authors is not None:
            self.entry.authors = authors

    def _date(self, number: int, date: DateLine) -> Iterator[_DailyEntry | Problem]:
        if self.entry is None:
            if not self.seen_entry and self.page_date is None and date.upvotes is None:
                self.page_date, self.page_date_line = date, number
            else:
                yield self._problem(number, "a date outside an entry", "stray-line")
            return
        self.entry.date, self.entry.date_line = date, number
        yield from self._finish()

    def _start(self, number: int, title: str) -> _DailyEntry:
        self.position += 1
        self.seen_entry = True
        self.entry = _DailyEntry(number, title, self.position)
        return self.entry

    def _finish(self) -> Iterator[_DailyEntry | Problem]:
        if self.entry is not None:
            stray = self.entry.drop_stray_title(self.source)
            if stray:
                yield stray
            yield self.entry
            yield from self.entry.stray
        self.entry = None

    def _problem(self, line: int, message: str, kind: str) -> Problem:
        return Problem(self.source.label, line, message, kind, field="date")


class HfDailyReader:
    """Reader for the Hugging Face daily papers feed.

    Page year: dates without a year are in the year of the page. That year is, in order of
    preference: the year of ``source.date``, ``source.year``, a year printed in the page's
    header date, else inferred. The page prints a year only for dates outside its own
    year, and those are always earlier (papers from past years), so the page year is at
    least one more than every printed year: the reader takes *the latest printed year + 1*
    (exact as soon as one listed paper is from the previous year — the usual case for a
    feed mixing recent and older papers). With no printed year at all it cannot tell: the
    yearless dates stay None and one ``unknown-year`` warning asks for ``year`` or ``date``
    on the source. Inferring needs the whole listing, so only then are the parsed entries
    held until the end before papers are yielded.
    """

    name = "hf-daily"
    description = "Hugging Face daily papers feed: title, abstract, authors, date, upvotes"

    def sniff(self, head: str, path: Path) -> int:
        """Confident on the ``Daily Papers`` header and the ``• N authors`` / ``·`` / date
        lines; 0 for the search page, the mila list and structured formats."""
        if is_structured(head):
            return 0
        rows = head_rows(head)
        if any(_MORE_TEXT.search(text) for text in rows):
            return 0
        header = any(
            text.casefold() in ("daily papers", "byak and the research community")
            for text in rows[:15]
        )
        meta = sum(text == "·" or bool(_AUTHOR_COUNT.match(text)) for text in rows)
        entries = meta > 0 and any(parse_date_line(text) for text in rows)
        if not entries:
            # A page cut off before its first author line still has its header.
            return 60 if header else 0
        return 50 + (40 if header else 0) + (5 if meta >= 4 else 0)

    def read(self, lines: Iterable[str], source: Source) -> Iterator[Paper | Problem]:
        """Papers in rank order with their dates and upvotes (see the class docstring)."""
        parser = _DailyParser(source)
        items = parser.run(numbered_rows(lines))
        first = next(items, None)
        if first is None:
            return
        # The header (and its date) has been read once the first item is out.
        page_year = _configured_year(source, parser.page_date)
        if page_year is not None:
            yield from _emit(itertools.chain([first], items), source, page_year)
            return
        held = [first, *items]
        page_year = infer_page_year(held)
        yield from _emit(held, source, page_year)
        if page_year is None and any(date.year is None for date in _date_lines(held)):
            yield Problem(
                source.label,
                parser.page_date_line,
                "the page's dates have no year and it cannot be inferred; "
                "set `year` or `date` for this source",
                "unknown-year",
                field="date",
            )


def _date_lines(items: Iterable[_DailyEntry | Problem]) -> Iterator[DateLine]:
    for item in items:
        if isinstance(item, _DailyEntry) and item.date is not None:
            yield item.date


def infer_page_year(items: Iterable[_DailyEntry | Problem]) -> int | None:
    """The latest year printed on the page plus one, None if no date prints a year."""
    years = [date.year for date in _date_lines(items) if date.year]
    return max(years) + 1 if years else None


def _configured_year(source: Source, page_date: DateLine | None) -> int | None:
    """The page year when configured or printed in the header (None: infer it)."""
    if source.date is not None:
        return source.date.year
    if source.year is not None:
        return source.year
    return page_date.year if page_date else None


def _emit(
    items: Iterable[_DailyEntry | Problem], source: Source, page_year: int | None
) -> Iterator[Paper | Problem]:
    for item in items:
        if isinstance(item, Problem):
            yield item
            continue
        paper = item.paper(source, page_year)
        yield paper
        if item.date and paper.date is None and (item.date.year or page_year):
            yield Problem(
                source.label, item.date_line, "not a calendar date", "bad-date", field="date"
            )


READERS: list[Reader] = [MilaReader(), HfSearchReader(), HfDailyReader()]
"""The scraped-listing readers, offered by the built-in readers plugin."""
