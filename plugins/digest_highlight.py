"""The highlight plugin: mark watched keywords in titles and abstracts, watch authors, demote
or hide unwanted papers, and list the matching papers on a "For you" page.

Matching
--------
A keyword is a word or phrase (``"scaling law"``) or an inline table: ``{term = "...",
label = "...", colour = "..."}`` or ``{regex = "LLa?MA", label = "LLaMA"}`` (a regular
expression, used as written). Matching is case-insensitive, Unicode-aware and on word
boundaries (a keyword never matches inside a longer word, a regex included). Phrases are
forgiving: words may be joined by spaces, hyphens or nothing (``in-context`` matches
``in context``; ``pre-training`` matches ``pretraining``), the last word takes simple
inflections (``scaling law`` matches ``scaling laws``; ``policy``: ``policies``; ``merge``:
``merging``, ``merged``; ``learning``: ``learners``) and the others may be plural
(``mixture of experts`` matches ``mixtures of experts``). Where matches overlap, the
longest wins (then the earliest, then the keyword listed first). Nothing is marked inside
``$…$`` LaTeX or inside a URL (``https://…``, ``www.…`` or a bare ``github.com/…``).

All phrases are compiled once into one regular expression (their words merged into a
trie) and matched against the lowercased text; regex keywords get one case-insensitive
expression of their own. Each title and abstract is scanned once per expression, so the
cost is linear in the amount of text whatever the number of keywords, and each text's
marks are remembered (a preview server's rebuild only scans the texts that changed).

Results
-------
``digest_papers`` runs last (``trylast``, after trending has ordered the papers) and sets,
for each paper that matches a keyword or a watched author::

    paper.data["marks"] = {"title": [Mark …], "abstract": [Mark …]}   # the core renders them
    paper.data["highlight"] = {"matched": [labels, title's first], "score": n,
                               "counts": {label: matches}, "authors": [watched authors]}
    paper.data["search"]["keywords"] = [labels and authors]           # for the search index

``score`` = Σ over matched keywords (``title_weight`` if it occurs in the title, else 1)
+ ``author_weight`` per watched author. The For-you page ``for-you/`` (nav "For you")
lists matching papers by score, then in the site's order (trending's), and shows how many papers
each keyword matched.

A paper matching an ``exclude`` keyword gets ``paper.data["highlight"]["excluded"]`` and,
with ``exclude_mode = "demote"``, is moved to the end of the site's paper list (so to the
last home page) and ranked last on the For-you page; with ``"hide"`` it is moved to the end
too, gets ``paper.data["hidden"] = True`` and is left out of the For-you page and of the
home page's topic groups. Its own page, topic pages and archives still list it.

Settings (``[plugins.highlight]``, defaults shown)::

    keywords = []             # words, phrases or {term|regex, label, colour} tables
    authors = []              # author names to watch (case, dots and spacing ignored)
    exclude = []              # keywords (same forms) that demote or hide a paper
    exclude_mode = "demote"   # or "hide"
    title_weight = 2.0        # a keyword found in the title counts this much
    author_weight = 2.0       # a watched author counts this much
    page = true               # false: mark papers but add no For-you page
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from markupsafe import Markup

from digest import hookimpl
from digest.config import Config, Options
from digest.model import Paper
from digest.pages import Page, paginate, pagination
from digest.rebuilds import rebuilds_expected
from digest.richtext import MATH_SPAN, Mark
from digest.site import Site

NAME = "highlight"
# Joins the words of a phrase: any run of spaces or hyphen-like dashes, or nothing.
SEPARATOR = r"[\s\-\u2010\u2011\u2012\u2013/]*"
SCHEME_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+", re.IGNORECASE)
# The end of a bare domain name ("github.com"); `protected_positions` walks back to its
# start, which is much faster than a regex trying every word start.
DOMAIN_END = re.compile(r"\.(?:com|org|net|io|ai|edu|gov|cn|dev|app|co|uk|de|fr)(?!\w)")
WORD_CHAR = re.compile(r"\w")
COLOUR = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?|[a-zA-Z]{3,20}")
VOWELS = "aeiou"
PLURAL = "(?:s|es)?"


def inflection(word: str) -> tuple[str, str]:
    """`word` as a literal stem and a regex for the endings it may take (plural, -ed,
    -ing, -er): ``("polic", "(?:y|ies|ied|ying)")``."""
    lower = word.lower()
    if not word.isalpha():
        return word, ""
    if len(word) < 3:
        return word, "s?"
    if lower.endswith("ing") and len(word) >= 7:
        return word[:-3], "(?:ing|ings|e|es|ed|er|ers|s)"
    if lower.endswith("y") and lower[-2] not in VOWELS:
        return word[:-1], "(?:y|ies|ied|ying)"
    if lower.endswith("e"):
        return word[:-1], "(?:e|es|ed|ing|er|ers)"
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return word, "(?:es|ed|ing)?"
    double = re.escape(word[-1])
    return word, f"(?:s|es|ed|ing|er|ers|{double}(?:ed|ing|er))?"


def phrase_parts(phrase: str) -> tuple[str, str]:
    """A word or phrase as a literal prefix and a regex for the rest (see the module
    docstring for what the rest forgives); ``("", "")`` when it has no words."""
    words = [w for w in re.split(r"[\s\-\u2010\u2011\u2012\u2013]+", phrase.strip()) if w]
    if not words:
        return "", ""
    stem, endings = inflection(words[-1])
    if len(words) == 1:
        return stem, endings
    # Inner words may be plural too: "mixture of experts" matches "mixtures of experts".
    inner = [re.escape(w) + (PLURAL if w.isalpha() and len(w) > 2 else "") for w in words[1:-1]]
    first = PLURAL if words[0].isalpha() and len(words[0]) > 2 else ""
    return words[0], first + SEPARATOR + SEPARATOR.join([*inner, re.escape(stem) + endings])


def phrase_pattern(phrase: str) -> str:
    """A forgiving regex for a word or phrase (no boundaries), "" when it has no words."""
    prefix, rest = phrase_parts(phrase)
    return re.escape(prefix) + rest


def bounded(pattern: str) -> str:
    """`pattern` that only matches on word boundaries."""
    return rf"(?<!\w)(?:{pattern})(?!\w)"


@dataclass(frozen=True, slots=True)
class Pattern:
    """A keyword as a literal `prefix` and a regex `tail`, both lowercase for a phrase.

    `Scanner` merges the prefixes of all phrases into a trie, so a position of the text
    costs a walk down the trie, not a test per keyword. A regex keyword has an empty
    prefix and keeps its case. `length` orders alternatives: at one position, longer
    keywords are tried first.
    """

    prefix: str
    tail: str
    length: int

    @property
    def regex(self) -> str:
        """The whole pattern as one regex (without boundaries)."""
        return re.escape(self.prefix) + self.tail

    @classmethod
    def phrase(cls, phrase: str) -> Pattern | None:
        """The pattern of a word or phrase, None when it has no words."""
        lower = phrase.strip().lower()
        prefix, tail = phrase_parts(lower if len(lower) == len(phrase.strip()) else phrase)
        return cls(prefix, tail, len(phrase.strip())) if prefix else None

    @classmethod
    def regex_keyword(cls, regex: str) -> Pattern:
        """The pattern of a user's regex keyword (tried at every word start)."""
        return cls("", f"(?:{regex})", len(regex))


@dataclass(slots=True)
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    tails: list[str] = field(default_factory=list)


def _trie_regex(node: _Node) -> str:
    """A node as regex: longer prefixes (children) first, then the tails ending here."""
    branches = [f"{re.escape(c)}{_trie_regex(child)}" for c, child in sorted(node.children.items())]
    branches.extend(node.tails)
    return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"


def _source(numbered: Sequence[tuple[int, Pattern]], overlapping: bool, named: bool = True) -> str:
    """Regex source for the numbered patterns at word starts: their prefixes as a trie, a
    group each; with `overlapping`, as a lookahead (a match at every word start).

    Without `named` there is no group at all: a group costs every match object a slot,
    which made match objects most of a scan's cost. `Scanner` then tells which pattern
    matched from the matched text alone.
    """
    body = _body(numbered, named)
    return rf"(?<!\w)(?={body})" if overlapping else rf"(?<!\w){body}"


def _body(numbered: Sequence[tuple[int, Pattern]], named: bool) -> str:
    """The patterns' trie, each ending at a word end, with no test of where they start."""
    root = _Node()
    for i, pattern in sorted(numbered, key=lambda item: (-item[1].length, item[0])):
        node = root
        for char in pattern.prefix:
            node = node.children.setdefault(char, _Node())
        tail = rf"(?P<k{i}>{pattern.tail})" if named else f"(?:{pattern.tail})"
        node.tails.append(rf"{tail}(?!\w)")
    return _trie_regex(root)


def _at_word_starts(regex: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    r"""The match of `regex` at every word start where it matches: what ``(?<!\w)(?=…)``
    finds, but the regex engine can skip ahead to the characters a pattern starts with,
    where a leading lookbehind makes it try every position."""
    search, word = regex.search, WORD_CHAR.match
    m = search(text)
    while m is not None:
        start = m.start()
        if start == 0 or word(text, start - 1) is None:
            yield m
        m = search(text, start + 1)


# How many distinct matched texts a `Scanner` remembers the pattern of.
KNOWN_MATCHES = 1 << 16


class Scanner:
    """Numbered patterns compiled for one scan of a text; `scan` lists the matches.

    A match starts at a word start and ends at a word end. Phrases are matched
    case-sensitively against the lowercased text, which is several times faster than a
    case-insensitive regex (the rare text whose lowercase has another length is matched
    case-insensitively instead); regex keywords get a case-insensitive regex of their own.
    With `overlapping`, a match is reported at every word start, even inside another
    match; otherwise matches do not overlap (leftmost, then longest prefix first).

    The phrase regex has no group per pattern (see `_source`); which pattern matched is
    found from the matched text alone, once per distinct text. That is exact: the regex
    tries the patterns in a fixed order (longest prefix first, then by length and number)
    and a phrase looks at nothing past its match but the word boundary, so the winner at a
    position depends only on the text it matched, and `_identify` replays that order on it.
    Regexes are compiled on first use.
    """

    def __init__(self, patterns: Iterable[tuple[int, Pattern]], overlapping: bool):
        numbered = list(patterns)
        self.overlapping = overlapping
        self._phrases = [(i, p) for i, p in numbered if p.prefix]
        self._regex_keywords = [(i, p) for i, p in numbered if not p.prefix]
        # Prefix → its patterns in the regex's order; prefix lengths longest first.
        self._nodes: dict[str, list[tuple[int, Pattern]]] = {}
        for i, pattern in sorted(self._phrases, key=lambda item: (-item[1].length, item[0])):
            self._nodes.setdefault(pattern.prefix, []).append((i, pattern))
        self._depths = sorted({len(prefix) for prefix in self._nodes}, reverse=True)
        self._node_regexes: dict[str, re.Pattern[str]] = {}
        self._known: dict[str, int] = {}

    def __bool__(self) -> bool:
        return bool(self._phrases or self._regex_keywords)

    @functools.cached_property
    def _exact(self) -> re.Pattern[str]:
        if self.overlapping:  # for `_at_word_starts`
            return re.compile(_body(self._phrases, named=False))
        return re.compile(_source(self._phrases, overlapping=False, named=False))

    @functools.cached_property
    def _after_separator(self) -> re.Pattern[str] | None:
        r"""`_exact` for `counts`, matching one more character: the non-word character
        before the phrase (the text gets a leading space). A search with a leading
        lookbehind runs the whole regex at every position; one whose first character is
        from a plain set skips to the next such character in C, which made scans a fifth
        faster. The set leaves out the ASCII word characters, and the lookbehind behind
        that character (rarely reached) keeps out the other word characters.

        The same matches as `_exact` when every phrase starts with a word character (None
        otherwise): a match starting at a word start never needs the character before it
        (a non-word one) to have ended the previous match, which ends at a word end."""
        if self.overlapping or not all(WORD_CHAR.match(p.prefix) for _, p in self._phrases):
            return None
        return re.compile(r"[^0-9A-Za-z_](?<!\w)" + _body(self._phrases, named=False))

    @functools.cached_property
    def _folded(self) -> re.Pattern[str]:
        return re.compile(_source(self._phrases, self.overlapping), re.IGNORECASE)

    @functools.cached_property
    def _regexes(self) -> re.Pattern[str]:
        if self.overlapping:  # for `_at_word_starts`
            return re.compile(_body(self._regex_keywords, named=True), re.IGNORECASE)
        return re.compile(_source(self._regex_keywords, overlapping=False), re.IGNORECASE)

    def spans(self, text: str) -> Iterator[tuple[int, int, int]]:
        """(start, end, pattern number) of every match in `text`."""
        yield from self.scan(text)

    def scan(self, text: str) -> list[tuple[int, int, int]]:
        """(start, end, pattern number) of every match in `text`: phrases in order of
        position, then regex keywords in order of position."""
        found: list[tuple[int, int, int]] = []
        if self._phrases:
            lower = text.lower()
            if len(lower) == len(text):
                found = self._scan_lower(lower)
            else:
                found.extend(_spans(self._folded.finditer(text)))
        if self._regex_keywords:
            if self.overlapping:
                found.extend(_spans(_at_word_starts(self._regexes, text)))
            else:
                found.extend(_spans(self._regexes.finditer(text)))
        return found

    def _scan_lower(self, lower: str) -> list[tuple[int, int, int]]:
        known = self._known
        found = []
        if self.overlapping:
            matches = _at_word_starts(self._exact, lower)
        else:
            matches = self._exact.finditer(lower)
        for m in matches:
            start, end = m.span()
            matched = lower[start:end]
            index = known.get(matched)
            if index is None:
                index = self._identify(matched)
            found.append((start, end, index))
        return found

    def counts(self, text: str) -> dict[int, int]:
        """How many times each pattern number matches in `text`, in order of first match
        (the same matches as `scan`)."""
        if self.overlapping or self._regex_keywords or not self._phrases:
            return _count(index for _, _, index in self.scan(text))
        lower = text.lower()
        if len(lower) != len(text):
            return _count(index for _, _, index in self.scan(text))
        # Without groups, findall gives the matched texts themselves, with no match
        # objects.
        counts: dict[int, int] = {}
        known = self._known
        after = self._after_separator
        if after is None:
            found = self._exact.findall(lower)
        else:
            found = [m[1:] for m in after.findall(" " + lower)]
        for matched in found:
            index = known.get(matched)
            if index is None:
                index = self._identify(matched)
            counts[index] = counts.get(index, 0) + 1
        return counts

    def _identify(self, matched: str) -> int:
        """The number of the pattern the phrase regex matched `matched` with: the first,
        in the regex's order, that matches it."""
        candidates = [
            matched[:depth]
            for depth in self._depths
            if depth <= len(matched) and matched[:depth] in self._nodes
        ]
        if len(candidates) == 1 and len(self._nodes[candidates[0]]) == 1:
            # The regex matched it, and only one pattern could.
            return self._remember(matched, self._nodes[candidates[0]][0][0])
        for prefix in candidates:
            m = self._node_regex(prefix).match(matched, len(prefix))
            if m is not None and m.lastgroup is not None:
                return self._remember(matched, int(m.lastgroup[1:]))
        raise LookupError(f"no pattern matches {matched!r}")  # the regex matched it

    def _remember(self, matched: str, index: int) -> int:
        if len(self._known) >= KNOWN_MATCHES:
            self._known.clear()
        self._known[matched] = index
        return index

    def _node_regex(self, prefix: str) -> re.Pattern[str]:
        """The tails of the patterns with `prefix`, in order, a named group each."""
        compiled = self._node_regexes.get(prefix)
        if compiled is None:
            tails = (rf"(?P<k{i}>{p.tail})(?!\w)" for i, p in self._nodes[prefix])
            compiled = self._node_regexes[prefix] = re.compile("|".join(tails))
        return compiled


def _count(items: Iterable[Hashable]) -> dict[Any, int]:
    """How many times each item occurs, in order of first occurrence."""
    return dict(Counter(items))


def _spans(matches: Iterable[re.Match[str]]) -> Iterator[tuple[int, int, int]]:
    for m in matches:
        group = m.lastgroup
        if group is not None:
            yield m.start(), m.end(group), int(group[1:])


# Entries a `Memo` keeps per generation: above one site's texts, so that a rebuild finds
# every unchanged text.
MEMO_SIZE = 1 << 17

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """A bounded memo of pure per-text results (never None), kept for the process's next
    builds (the preview server's): it remembers nothing unless `rebuilds_expected`, as a
    build that comes once finds no text twice.

    Two generations: new entries go to the recent one; when it is full it becomes the older
    one (the previous older is dropped), and a hit in the older one moves back to the
    recent. So memory stays under two generations, and what the last build used survives.
    """

    def __init__(self, size: int = MEMO_SIZE):
        self.size = size
        self._recent: dict[K, V] = {}
        self._older: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        """The value remembered for `key`, or None."""
        value = self._recent.get(key)
        if value is None and self._older:
            value = self._older.pop(key, None)
            if value is not None:
                self.put(key, value)
        return value

    def put(self, key: K, value: V) -> V:
        """Remember `value` for `key` (if rebuilds are expected); returns `value`."""
        if not rebuilds_expected():
            return value
        if len(self._recent) >= self.size:
            self._older = self._recent
            self._recent = {}
        self._recent[key] = value
        return value

    def __len__(self) -> int:
        return len(self._recent) + len(self._older)


@dataclass(frozen=True, slots=True)
class Keyword:
    """One watched keyword: its label, its pattern and an optional colour."""

    label: str
    pattern: Pattern
    colour: str | None = None


class KeywordMatcher:
    """Every keyword compiled into one `Scanner`: `find` scans a text once.

    Matches are collected at every word start (so overlapping ones are all seen), then
    overlaps are resolved: the longest wins, then the earliest, then the keyword listed
    first. Matchers with the same keywords share their scanner and a `Memo` of the marks
    of each text, so a text seen before (the same abstract in two papers, or an unchanged
    paper when the preview server rebuilds) costs a dict lookup.
    """

    def __init__(self, keywords: Sequence[Keyword]):
        self.keywords = tuple(keywords)
        self.scanner, self._memo = _shared_matching(self.keywords)

    def __bool__(self) -> bool:
        return bool(self.scanner)

    def find(self, text: str) -> list[Mark]:
        """Non-overlapping marks for the keywords in `text`, outside LaTeX and URLs."""
        if not self.scanner or not text:
            return []
        marks = self._memo.get(text)
        if marks is None:
            marks = self._memo.put(text, self._find(text))
        return list(marks)

    def _find(self, text: str) -> tuple[Mark, ...]:
        candidates = [span for span in self.scanner.scan(text) if span[1] > span[0]]
        if not candidates:
            return ()
        taken = protected_positions(text)
        chosen = []
        # Longest first, then earliest: a span is kept only if no kept span (or protected
        # region) touches it; `taken` makes each test proportional to the span's length.
        for start, end, index in sorted(candidates, key=lambda c: (c[0] - c[1], c[0], c[2])):
            if not any(taken[start:end]):
                taken[start:end] = b"\x01" * (end - start)
                chosen.append(Mark(start, end, self.keywords[index].label))
        return tuple(sorted(chosen, key=lambda m: m.start))


@functools.lru_cache(maxsize=8)
def _shared_matching(keywords: tuple[Keyword, ...]) -> tuple[Scanner, Memo[str, tuple[Mark, ...]]]:
    """The scanner and marks memo for a keyword list, shared by equal lists (a preview
    server reloading site.toml gets new but equal settings)."""
    return Scanner(enumerate(k.pattern for k in keywords), overlapping=True), Memo()


def protected_positions(text: str) -> bytearray:
    """One byte per character, 1 where no mark may go: ``$…$`` LaTeX (found exactly as
    the renderer finds it) and URLs, with or without a scheme (``github.com/x``)."""
    taken = bytearray(len(text))
    spans = [m.span() for m in MATH_SPAN.finditer(text)] if "$" in text else []
    if "://" in text or "www." in text.lower():
        spans.extend(m.span() for m in SCHEME_URL.finditer(text))
    for m in DOMAIN_END.finditer(text):
        start = m.start()
        if start == 0 or not text[start - 1].isalnum():
            continue
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "._-"):
            start -= 1
        end = m.end()
        if end < len(text) and text[end] == "/":
            while end < len(text) and not text[end].isspace():
                end += 1
        spans.append((start, end))
    for start, end in spans:
        taken[start:end] = b"\x01" * (end - start)
    return taken


@functools.lru_cache(maxsize=1 << 16)
def normalize_name(name: str) -> str:
    """An author name folded for comparison: NFKC, case, spacing and dots."""
    text = unicodedata.normalize("NFKC", name).casefold().replace(".", " ")
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class HighlightSettings:
    """The parsed ``[plugins.highlight]`` table."""

    keywords: KeywordMatcher = field(default_factory=lambda: KeywordMatcher(()))
    exclude: KeywordMatcher = field(default_factory=lambda: KeywordMatcher(()))
    authors: dict[str, str] = field(default_factory=dict)
    exclude_mode: str = "demote"
    title_weight: float = 2.0
    author_weight: float = 2.0
    page: bool = True

    @property
    def colours(self) -> dict[str, str]:
        """Label → colour for keywords that set one."""
        return {k.label: k.colour for k in self.keywords.keywords if k.colour}


def parse_keyword(value: Any, opts: Options, key: str) -> Keyword | None:
    """One keyword entry (a string, or a table with ``term`` or ``regex``), or None if bad."""
    if isinstance(value, str):
        pattern = Pattern.phrase(value)
        if pattern is None:
            opts.error(key, "expected a non-empty keyword, got an empty string")
            return None
        return Keyword(value.strip(), pattern)
    if not isinstance(value, dict):
        opts.error(key, f"expected a string or a table, got {type(value).__name__}")
        return None
    entry = Options(value, f"{opts.table}.{key}", opts.file, opts.issues)
    term, regex = entry.string("term"), entry.string("regex")
    label, colour = entry.string("label"), entry.string("colour")
    entry.done()
    if colour is not None and not COLOUR.fullmatch(colour):
        entry.error("colour", f'expected a CSS colour like "#ffcc00" or "gold", got "{colour}"')
        colour = None
    if (term is None) == (regex is None):
        entry.error("", "expected exactly one of term or regex")
        return None
    if term is not None:
        pattern = Pattern.phrase(term)
        if pattern is None:
            entry.error("term", "expected a non-empty keyword")
            return None
        return Keyword(label or term.strip(), pattern, colour)
    checked = _check_regex(regex, entry)
    if checked is None:
        return None
    return Keyword(label or regex, Pattern.regex_keyword(checked), colour)


def _check_regex(regex: str, entry: Options) -> str | None:
    try:
        compiled = re.compile(bounded(regex), re.IGNORECASE)
    except re.error as exc:
        entry.error("regex", f"not a valid regular expression: {exc}")
        return None
    if compiled.groupindex or re.search(r"\\\d|\(\?P=", regex):
        entry.error("regex", "named groups and back-references are not supported")
        return None
    if compiled.fullmatch(""):
        entry.error("regex", "the regex matches the empty string")
        return None
    return regex


def read_keywords(opts: Options, key: str) -> KeywordMatcher:
    """The keyword list under `key` as a compiled matcher (bad entries are reported)."""
    raw = opts.raw(key, [])
    if not isinstance(raw, list):
        opts.error(key, "expected an array of keywords")
        return KeywordMatcher(())
    keywords: list[Keyword] = []
    seen: set[str] = set()
    for i, value in enumerate(raw):
        keyword = parse_keyword(value, opts, f"{key}[{i}]")
        if keyword is None:
            continue
        if keyword.label in seen:
            opts.warn(f"{key}[{i}]", f"the label {keyword.label!r} is used twice")
        seen.add(keyword.label)
        keywords.append(keyword)
    return KeywordMatcher(keywords)


def read_settings(opts: Options) -> HighlightSettings:
    """Validate a ``[plugins.highlight]`` table (errors go to the config's issue list)."""
    defaults = HighlightSettings()
    settings = HighlightSettings(
        keywords=read_keywords(opts, "keywords"),
        exclude=read_keywords(opts, "exclude"),
        authors={normalize_name(a): a for a in opts.strings("authors", ()) if a.strip()},
        exclude_mode=opts.string("exclude_mode", defaults.exclude_mode, ("demote", "hide")),
        title_weight=opts.number("title_weight", defaults.title_weight, minimum=0),
        author_weight=opts.number("author_weight", defaults.author_weight, minimum=0),
        page=opts.boolean("page", defaults.page),
    )
    opts.done()
    return settings


def settings_of(site: Site) -> HighlightSettings:
    """This plugin's settings for `site` (the defaults when configure did not run)."""
    settings = site.config.settings_for(NAME)
    return settings if isinstance(settings, HighlightSettings) else HighlightSettings()


@hookimpl
def digest_configure(config: Config) -> None:
    """Read, validate and compile ``[plugins.highlight]``."""
    config.set_plugin_settings(NAME, read_settings(config.plugin_options(NAME)))


def highlight_paper(paper: Paper, settings: HighlightSettings) -> None:
    """Mark `paper`'s keywords and record what it matched (nothing when it matches none)."""
    title = settings.keywords.find(paper.title)
    abstract = settings.keywords.find(paper.abstract)
    authors = [
        settings.authors[n] for n in map(normalize_name, paper.authors) if n in settings.authors
    ]
    excluded = _labels(settings.exclude.find(paper.title), settings.exclude.find(paper.abstract))
    if excluded:
        paper.data.setdefault(NAME, {})["excluded"] = excluded
        if settings.exclude_mode == "hide":
            paper.data["hidden"] = True
    if not (title or abstract or authors):
        return
    paper.data["marks"] = {"title": title, "abstract": abstract}
    in_title = {m.label for m in title}
    matched = _labels(title, abstract)
    counts = Counter(m.label for m in (*title, *abstract))
    score = sum(settings.title_weight if label in in_title else 1.0 for label in matched)
    score += settings.author_weight * len(authors)
    paper.data.setdefault(NAME, {}).update(
        matched=matched, score=score, counts=dict(counts), authors=authors
    )
    paper.data.setdefault("search", {})["keywords"] = [*matched, *authors]


def _labels(*marks: Iterable[Mark]) -> list[str]:
    """Distinct labels in order of first appearance (title first)."""
    return list(dict.fromkeys(m.label for group in marks for m in group))


def is_excluded(paper: Paper) -> bool:
    """Whether `paper` matched an exclude keyword."""
    return bool(paper.data.get(NAME, {}).get("excluded"))


@hookimpl(trylast=True)
def digest_papers(papers: list[Paper], site: Site) -> None:
    """Mark keywords in every paper, then move excluded papers to the end of the list."""
    settings = settings_of(site)
    if not (settings.keywords or settings.exclude or settings.authors):
        return
    for paper in papers:
        highlight_paper(paper, settings)
    if settings.exclude:
        # sort is stable: kept papers keep their (trending) order, excluded ones follow.
        papers.sort(key=is_excluded)


def for_you(papers: Iterable[Paper]) -> list[Paper]:
    """Papers that matched something, best first: not excluded, score, then the order of
    `papers` (the site's: trending's, when that plugin ranks them).

    Hidden papers are left out; demoted ones come after every other match.
    """
    matched = [
        (i, p)
        for i, p in enumerate(papers)
        if p.data.get(NAME, {}).get("matched") or p.data.get(NAME, {}).get("authors")
    ]

    def order(item: tuple[int, Paper]) -> tuple[bool, float, int]:
        i, paper = item
        return (is_excluded(paper), -paper.data[NAME]["score"], i)

    return [p for _, p in sorted(matched, key=order) if not p.data.get("hidden")]


def keyword_counts(papers: Iterable[Paper], settings: HighlightSettings) -> list[dict[str, Any]]:
    """How many of `papers` each keyword and watched author matched, in configured order."""
    counts: Counter[str] = Counter()
    for paper in papers:
        info = paper.data.get(NAME, {})
        counts.update(info.get("matched", ()))
        counts.update(info.get("authors", ()))
    labels = [k.label for k in settings.keywords.keywords] + list(settings.authors.values())
    colours = settings.colours
    return [
        {"label": label, "count": counts[label], "colour": colours.get(label)}
        for label in dict.fromkeys(labels)
    ]


@hookimpl
def digest_pages(site: Site) -> list[Page]:
    """The For-you page (paginated): papers matching the watched keywords and authors."""
    settings = settings_of(site)
    if not settings.page or not (settings.keywords or settings.authors):
        return []
    papers = for_you(site.papers)
    counts = keyword_counts(papers, settings)
    pages = []
    for url, chunk, number, total in paginate(papers, "for-you/", site.config.page_size):
        pages.append(
            Page(
                url,
                "foryou.html",
                "For you" if number == 1 else f"For you (page {number})",
                {
                    "papers": chunk,
                    "total": len(papers),
                    "counts": counts,
                    "mark_css": mark_css(settings.colours),
                    "pagination": pagination(url, number, total),
                },
                nav="For you" if number == 1 else None,
                nav_weight=20,
                description="Papers matching the watched keywords and authors.",
            )
        )
    return pages


def css_string(text: str) -> str:
    """`text` as a double-quoted CSS string: every character but letters and digits escaped,
    so nothing in it can end the string or the style element."""
    return '"' + "".join(c if c.isascii() and c.isalnum() else f"\\{ord(c):x} " for c in text) + '"'


def mark_css(colours: dict[str, str]) -> Markup:
    """CSS giving each coloured keyword's marks its colour (colours are validated names or
    hex values; labels are escaped by `css_string`)."""
    rules = (
        f"mark[data-keyword={css_string(label)}] {{ background: {colour}; }}"
        for label, colour in sorted(colours.items())
    )
    return Markup("\n".join(rules))
