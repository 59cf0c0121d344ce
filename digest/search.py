"""The client-side search: compact, cached index shards written at build time, turned into a
lunr.js index in the browser.

What the browser downloads, all under content-hashed names except the manifest:

- ``search/manifest.json``: the names of the files below.
- the *first tier* (``search/first.<hash>.json``): the fields and their boosts, and for every
  paper its URL (the lunr ref), title, date and topics and the terms of its title, authors,
  topics and keywords. Enough to show the first results.
- the *rest* (``search/rest-<shard>.<hash>.json``, one per shard): the abstracts' terms and
  the snippets shown under each result, fetched in the background once search is used.

Shards follow the calendar (a year; a month or a quarter of one when there are many papers,
see `shard_names`) and are cached under ``<site root>/.digest-cache/search/`` by a hash of
their papers' searchable text, so a build re-encodes only the shards whose papers changed;
a nightly build touches the newest one. Shards carry each paper's terms with their
frequencies and the field lengths, not lunr's serialized field vectors: the vectors (a BM25
float per term, field and paper) are most of a lunr index's size and depend on corpus-wide
statistics, so every shard would change whenever any paper did. ``search-worker.js``
computes them exactly as ``lunr.Builder#createFieldVectors`` does, builds the
``lunr.Index`` lunr.js would have built from the same documents, and answers lunr's queries
from flat typed arrays with the same results, scores and match data as ``lunr.Index#query``
(which spends most of a common word's time on objects per matching paper).

Tokens go through lunr.js's own pipeline, re-implemented here (tokenizer, trimmer, stop words,
Porter stemmer) because lunr.py's differs in places (its stemmer turns "display" into
"displai", which lunr.js queries never produce); tests check it term for term against lunr.js.
"""

from __future__ import annotations

import concurrent.futures
import gc
import hashlib
import json
import marshal
import multiprocessing
import operator
import os
import re
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lunr.stop_word_filter import WORDS as STOP_WORDS

from digest.errors import BuildError
from digest.model import Paper
from digest.publish import OutputDir
from digest.render import PACKAGE_DIR
from digest.richtext import plain_text
from digest.site import Site

# The encoding search-worker.js reads; bump it with the engine's FORMAT when it changes.
FORMAT_VERSION = 3
LUNR_VERSION = "2.3.9"
# (field, boost): lunr applies a field's boost to its BM25 scores when it builds the vectors.
FIELDS: tuple[tuple[str, int], ...] = (
    ("title", 10),
    ("authors", 3),
    ("topics", 2),
    ("keywords", 2),
    ("abstract", 1),
)
FIRST_TIER_FIELDS = ("title", "authors", "topics", "keywords")
REST_FIELDS = ("abstract",)
SNIPPET_CHARS = 220
# A year (then a month) with more papers than this is split into smaller shards.
SHARD_LIMIT = 1000
# Below this many papers to encode, worker processes cost more than they save.
PARALLEL_MIN_PAPERS = 3000
CACHE_DIR = Path(".digest-cache") / "search"


# ---------------------------------------------------------------------------------------------
# lunr.js's text pipeline: tokenizer → trimmer → stopWordFilter → stemmer

# JavaScript's \s (ECMAScript WhiteSpace and LineTerminator), which lunr.tokenizer splits on.
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_TOKEN = re.compile(f"[^{_JS_SPACE}\\-]+")
# Whitespace to only one of str.split and JavaScript's \s.
_SPACE_DISAGREEMENTS = "\x1c\x1d\x1e\x1f\x85\ufeff"
# lunr.trimmer's /^\W+/ and /\W+$/ have no unicode flag: \W is anything but [A-Za-z0-9_].
_TRIM_LEAD = re.compile(r"\A[^A-Za-z0-9_]+")
_TRIM_TRAIL = re.compile(r"[^A-Za-z0-9_]+\Z")

_STEP2 = {
    "ational": "ate", "tional": "tion", "enci": "ence", "anci": "ance", "izer": "ize",
    "bli": "ble", "alli": "al", "entli": "ent", "eli": "e", "ousli": "ous",
    "ization": "ize", "ation": "ate", "ator": "ate", "alism": "al", "iveness": "ive",
    "fulness": "ful", "ousness": "ous", "aliti": "al", "iviti": "ive", "biliti": "ble",
    "logi": "log",
}  # fmt: skip
_STEP3 = {
    "icate": "ic", "ative": "", "alize": "al", "iciti": "ic", "ical": "ic", "ful": "",
    "ness": "",
}  # fmt: skip
_c = "[^aeiou]"
_v = "[aeiouy]"
_C = _c + "[^aeiouy]*"
_V = _v + "[aeiou]*"
_MGR0 = re.compile("^(" + _C + ")?" + _V + _C)
_MEQ1 = re.compile("^(" + _C + ")?" + _V + _C + "(" + _V + r")?\Z")
_MGR1 = re.compile("^(" + _C + ")?" + _V + _C + _V + _C)
_S_V = re.compile("^(" + _C + ")?" + _v)
_RE_1A = re.compile(r"^(.+?)(ss|i)es\Z")
_RE2_1A = re.compile(r"^(.+?)([^s])s\Z")
_RE_1B = re.compile(r"^(.+?)eed\Z")
_RE2_1B = re.compile(r"^(.+?)(ed|ing)\Z")
_RE2_1B_2 = re.compile(r"(at|bl|iz)\Z")
_RE3_1B_2 = re.compile(r"([^aeiouylsz])\1\Z")
_RE4_1B_2 = re.compile("^" + _C + _v + r"[^aeiouwxy]\Z")
_RE_1C = re.compile(r"^(.+?[^aeiou])y\Z")
_RE_2 = re.compile("^(.+?)(" + "|".join(_STEP2) + r")\Z")
_RE_3 = re.compile("^(.+?)(" + "|".join(_STEP3) + r")\Z")
_RE_4 = re.compile(
    r"^(.+?)(al|ance|ence|er|ic|able|ible|ant|ement|ment|ent|ou|ism|ate|iti|ous|ive|ize)\Z"
)
_RE2_4 = re.compile(r"^(.+?)(s|t)(ion)\Z")
_RE_5 = re.compile(r"^(.+?)e\Z")
_RE_5_1 = re.compile(r"ll\Z")
_RE3_5 = re.compile("^" + _C + _v + r"[^aeiouwxy]\Z")


def _porter_stem_units(w: str) -> str:
    """lunr.js's porterStemmer, statement for statement (`w` in UTF-16 code units)."""
    if len(w) < 3:
        return w
    firstch = w[0]
    if firstch == "y":
        w = "Y" + w[1:]
    if (m := _RE_1A.match(w)) or (m := _RE2_1A.match(w)):
        w = m.group(1) + m.group(2)
    if m := _RE_1B.match(w):
        if _MGR0.match(m.group(1)):
            w = w[:-1]
    elif m := _RE2_1B.match(w):
        stem = m.group(1)
        if _S_V.match(stem):
            w = stem
            if _RE2_1B_2.search(w):
                w += "e"
            elif _RE3_1B_2.search(w):
                w = w[:-1]
            elif _RE4_1B_2.match(w):
                w += "e"
    if m := _RE_1C.match(w):
        w = m.group(1) + "i"
    if (m := _RE_2.match(w)) and _MGR0.match(m.group(1)):
        w = m.group(1) + _STEP2[m.group(2)]
    if (m := _RE_3.match(w)) and _MGR0.match(m.group(1)):
        w = m.group(1) + _STEP3[m.group(2)]
    if m := _RE_4.match(w):
        if _MGR1.match(m.group(1)):
            w = m.group(1)
    elif m := _RE2_4.match(w):
        stem = m.group(1) + m.group(2)
        if _MGR1.match(stem):
            w = stem
    if m := _RE_5.match(w):
        stem = m.group(1)
        if _MGR1.match(stem) or (_MEQ1.match(stem) and not _RE3_5.match(stem)):
            w = stem
    if _RE_5_1.search(w) and _MGR1.match(w):
        w = w[:-1]
    if firstch == "y":
        w = "y" + w[1:]
    return w


def porter_stem(word: str) -> str:
    """lunr.stemmer: the Porter stemmer exactly as lunr.js 2.3.9 implements it."""
    if word and max(word) > "\uffff":
        # JavaScript strings are UTF-16: lengths and regex classes count code units.
        units = "".join(c if c <= "\uffff" else _surrogates(ord(c)) for c in word)
        return _porter_stem_units(units).encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    return _porter_stem_units(word)


def _surrogates(code: int) -> str:
    code -= 0x10000
    return chr(0xD800 + (code >> 10)) + chr(0xDC00 + (code & 0x3FF))


def _pipeline(token: str) -> str | None:
    trimmed = _TRIM_TRAIL.sub("", _TRIM_LEAD.sub("", token))
    return None if trimmed in STOP_WORDS else porter_stem(trimmed)


class _TermCache(dict[str, str | None]):
    """token → term, filled on first sight (a dict subclass so lookups stay in C)."""

    def __missing__(self, token: str) -> str | None:
        if len(self) > 1_000_000:
            self.clear()
        term = self[token] = _pipeline(token)
        return term


_TERMS = _TermCache()


def index_term(token: str) -> str | None:
    """What lunr's indexing pipeline makes of one lowercased token: the trimmed, stemmed
    term, or None for a stop word. (lunr.js keeps a token trimmed to nothing as ``""``.)"""
    return _TERMS[token]


def tokenize(text: str) -> list[str]:
    """lunr.tokenizer: the lowercased text split on whitespace and hyphens."""
    text = text.lower()
    # str.split is much faster than the regex, and agrees with it on almost every text.
    # (`in` scans at memchr speed; a regex search for the six would cost a tenth of a build.)
    if any(map(text.__contains__, _SPACE_DISAGREEMENTS)):
        return _TOKEN.findall(text)
    return text.replace("-", " ").split()


def field_terms(text: str) -> tuple[dict[str, int], int]:
    """The term frequencies and the length (terms after stop words) lunr indexes for `text`."""
    tokens = tokenize(text)
    counts = Counter(map(_TERMS.__getitem__, tokens))
    stop = counts.pop(None, 0)
    return counts, len(tokens) - stop  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# What is indexed and shown for a paper


@dataclass(frozen=True, slots=True)
class SearchDoc:
    """The searchable text and display data of one paper; `ref` is its page URL path."""

    ref: str
    title: str
    date: str
    topics: tuple[str, ...]
    keywords: tuple[str, ...]
    authors: tuple[str, ...]
    abstract: str

    def key_data(self) -> tuple[Any, ...]:
        """Everything that goes into the encoded shard (for the cache key)."""
        return (self.ref, self.title, self.date, self.topics, self.keywords, self.authors,
                self.abstract)  # fmt: skip

    def field_text(self, field: str) -> str:
        """The text lunr indexes for `field` (a list field's items joined by spaces)."""
        value = getattr(self, field)
        return " ".join(value) if isinstance(value, tuple) else str(value)

    @property
    def snippet(self) -> str:
        """The start of the abstract, cut at a word boundary."""
        text = " ".join(self.abstract.split())
        if len(text) <= SNIPPET_CHARS:
            return text
        cut = text[:SNIPPET_CHARS].rsplit(" ", 1)[0]
        return cut.rstrip(" ,.;:") + "…"


def search_doc(site: Site, paper: Paper) -> SearchDoc:
    """The `SearchDoc` for a paper of `site`."""
    extra = paper.data.get("search") or {}
    return SearchDoc(
        ref=site.paper_url(paper),
        title=plain_text(paper.title),
        date=paper.date.isoformat() if paper.date else "",
        topics=tuple(str(t) for t in extra.get("topics", ())),
        keywords=tuple(str(k) for k in extra.get("keywords", ())),
        authors=tuple(paper.authors),
        abstract=plain_text(paper.abstract),
    )


def shard_names(docs: Sequence[SearchDoc]) -> list[str]:
    """Each doc's shard: its year (``2024``); its month (``2024-05``) when the year holds more
    than `SHARD_LIMIT` papers; the part of its month starting on day 1, 9, 17 or 25
    (``2024-05-09``) when the month does too; ``undated`` without a date.

    Shards follow the calendar so that new papers (the newest dates) change only the
    newest shard, whatever else the corpus holds.
    """
    years = Counter(d.date[:4] for d in docs if d.date)
    months = Counter(d.date[:7] for d in docs if d.date)
    names = []
    for d in docs:
        if not d.date:
            names.append("undated")
        elif years[d.date[:4]] <= SHARD_LIMIT:
            names.append(d.date[:4])
        elif months[d.date[:7]] <= SHARD_LIMIT:
            names.append(d.date[:7])
        else:
            start = 1 + 8 * min(3, (int(d.date[8:10]) - 1) // 8)
            names.append(f"{d.date[:7]}-{start:02d}")
    return names


def _field_texts(docs: Sequence[SearchDoc], field: str) -> Iterator[str]:
    return (doc.field_text(field) for doc in docs)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# Numbers are shipped as characters (see `encode_numbers`): n is chr(n + 32), skipping the
# surrogates, which UTF-8 cannot carry.
_NUMBER_OFFSET = 32
_SURROGATES = 0xD800
_SURROGATES_END = 0xE000
_BMP_NUMBERS = "".join(map(chr, range(_NUMBER_OFFSET, _SURROGATES)))


def _number_char(n: int) -> str:
    code = n + _NUMBER_OFFSET
    return chr(code if code < _SURROGATES else code + _SURROGATES_END - _SURROGATES)


def encode_numbers(numbers: Sequence[int]) -> str:
    """Non-negative integers as one string, a character each: ``chr(n + 32)``, or above
    the surrogates (U+D800–U+DFFF) for n ≥ 55,264.

    JSON.parse turns a string into one value where a list of numbers is as many, plus an
    array; the engine reads the characters back with charCodeAt. Smaller than decimals too:
    most numbers here (gaps between term numbers, term frequencies) are below 96, one byte
    of UTF-8 each and no separator.
    """
    try:
        return "".join(map(_BMP_NUMBERS.__getitem__, numbers))
    except IndexError:
        return "".join(map(_number_char, numbers))


def encode_field(texts: Iterable[str]) -> dict[str, Any]:
    """One field of a shard, from the field's text in each doc.

    ``terms`` is the shard's vocabulary for the field, sorted; for doc i, ``docs[i]`` lists
    the numbers of its terms in that vocabulary, ascending, as differences (the first from
    0); ``tfs[i]`` is how often each occurs, or empty when each occurs once (both
    `encode_numbers` strings); ``lengths[i]`` is the field's length in terms. (Listing terms
    per doc rather than docs per term costs the same bytes once gzipped, and needs no
    per-posting Python loop to build.)
    """
    counted = [field_terms(text) for text in texts]
    vocabulary = sorted(set().union(*(counts for counts, _ in counted)))
    number = {term: i for i, term in enumerate(vocabulary)}.__getitem__
    term_at = vocabulary.__getitem__
    docs: list[str] = []
    tfs: list[str] = []
    for counts, _ in counted:
        numbers = sorted(map(number, counts))
        docs.append(encode_numbers(list(map(operator.sub, numbers, [0, *numbers[:-1]]))))
        frequencies = list(map(counts.__getitem__, map(term_at, numbers)))
        tfs.append(encode_numbers(frequencies) if frequencies and max(frequencies) > 1 else "")
    lengths = [length for _, length in counted]
    return {"terms": vocabulary, "docs": docs, "tfs": tfs, "lengths": lengths}


@dataclass(frozen=True, slots=True)
class EncodedShard:
    """A shard's two encoded parts (canonical JSON text) and the key they were made from."""

    key: str
    first: str
    rest: str


def _code_version() -> str:
    # This module's own source is part of every cache key: any change to the text pipeline
    # or the encoding (even one nobody remembered to version) makes old entries unusable.
    try:
        return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    except OSError:
        return str(FORMAT_VERSION)


CODE_VERSION = _code_version()


def shard_key(name: str, docs: Sequence[SearchDoc]) -> str:
    """The cache key of a shard: a hash of this code, the shard's name and every doc's
    searchable data."""
    # marshal is the fastest faithful serialization of tuples of strings by far; a string
    # it happens to write differently (interned or not) costs a cache miss, never a wrong hit.
    data = marshal.dumps((CODE_VERSION, LUNR_VERSION, name, [d.key_data() for d in docs]), 2)
    return hashlib.sha256(data).hexdigest()[:24]


def encode_shard(name: str, docs: Sequence[SearchDoc], key: str | None = None) -> EncodedShard:
    """Encode one shard's first-tier and rest parts (`key`: its `shard_key`, if known).

    Both parts carry the shard's name as their ``id``: it tells the engine which documents a
    rest part's terms belong to.
    """
    first = {
        "id": name,
        "refs": [d.ref for d in docs],
        "docs": [[d.title, d.date, list(d.topics)] for d in docs],
        "fields": {f: encode_field(_field_texts(docs, f)) for f in FIRST_TIER_FIELDS},
    }
    rest = {
        "id": name,
        "snippets": [d.snippet for d in docs],
        "fields": {f: encode_field(_field_texts(docs, f)) for f in REST_FIELDS},
    }
    return EncodedShard(key or shard_key(name, docs), _json(first), _json(rest))


# ---------------------------------------------------------------------------------------------
# The shard cache


class ShardCache:
    """Encoded shards on disk, one file per key; unreadable entries count as missing."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.used: set[str] = set()

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{key}.shard"

    def get(self, key: str) -> EncodedShard | None:
        """The cached shard for `key`, or None (also for a damaged or foreign entry)."""
        if self.folder is None:
            return None
        try:
            header, first, rest = self._path(key).read_text(encoding="utf-8").split("\n")
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        if header != _cache_header(key, first, rest):
            return None
        self.used.add(key)
        return EncodedShard(key, first, rest)

    def put(self, shard: EncodedShard) -> None:
        """Store a shard (atomically: readers never see half a file); best effort."""
        if self.folder is None:
            return
        self.used.add(shard.key)
        # JSON text has no raw newlines, so one line per part is unambiguous.
        header = _cache_header(shard.key, shard.first, shard.rest)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(f"{header}\n{shard.first}\n{shard.rest}")
            os.replace(tmp, self._path(shard.key))
        except OSError:
            pass

    def prune(self) -> None:
        """Remove entries this build did not use (papers that changed or left)."""
        if self.folder is None or not self.folder.is_dir():
            return
        for path in self.folder.glob("*.shard"):
            if path.stem not in self.used:
                path.unlink(missing_ok=True)


def _cache_header(key: str, first: str, rest: str) -> str:
    """The first line of a cache entry: format, key and a checksum of the two parts, so a
    truncated or edited entry is never used."""
    digest = hashlib.sha256(f"{first}\n{rest}".encode()).hexdigest()[:16]
    return f"digest-search {FORMAT_VERSION} {key} {digest}"


def build_shards(
    groups: Mapping[str, Sequence[SearchDoc]], cache: ShardCache, workers: int | None = None
) -> list[EncodedShard]:
    """Encode every shard (name → docs), reusing cached ones; missing ones are encoded in
    worker processes when there are enough papers to make that pay."""
    keys = {name: shard_key(name, docs) for name, docs in groups.items()}
    found = {key: cache.get(key) for key in keys.values()}
    todo = [
        (name, list(docs), keys[name]) for name, docs in groups.items() if not found[keys[name]]
    ]
    papers = sum(len(docs) for _, docs, _ in todo)
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers > 1 and len(todo) > 1 and papers >= PARALLEL_MIN_PAPERS and _can_fork():
        built = _encode_in_processes(todo, workers)
    else:
        built = [encode_shard(*task) for task in todo]
    for shard in built:
        cache.put(shard)
        found[shard.key] = shard
    return [found[key] for key in keys.values()]  # type: ignore[misc]


# The shards a pool of forked workers encodes: set before the fork, so the children inherit
# the docs instead of receiving them pickled.
_TODO: list[tuple[str, list[SearchDoc], str]] = []


def _encode_todo(i: int) -> EncodedShard:
    return encode_shard(*_TODO[i])


def _can_fork() -> bool:
    # Forking a process that runs other threads (the preview server's) can deadlock the
    # child; forkserver and spawn would re-import the caller's __main__. So: fork or serial.
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _encode_in_processes(
    todo: list[tuple[str, list[SearchDoc], str]], workers: int
) -> list[EncodedShard]:
    global _TODO
    # Biggest first, one shard per task: the pool balances the load itself.
    order = sorted(range(len(todo)), key=lambda i: -len(todo[i][1]))
    _TODO = todo
    # Frozen objects are left alone by the children's garbage collector, which would
    # otherwise walk (and so copy, page by page) the whole inherited heap.
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            built = dict(zip(order, pool.map(_encode_todo, order), strict=True))
    finally:
        gc.unfreeze()
        _TODO = []
    return [built[i] for i in range(len(todo))]


# ---------------------------------------------------------------------------------------------
# Build entry points


def lunr_js_path() -> Path:
    """lunr.js as installed from npm (pinned in package.json), or as bundled in the wheel."""
    for candidate in (
        PACKAGE_DIR / "_vendor" / "lunr.min.js",
        PACKAGE_DIR.parent / "node_modules" / "lunr" / "lunr.min.js",
    ):
        if candidate.is_file():
            return candidate
    raise BuildError("lunr.js is missing: run `npm ci` in the project folder (see README)")


def runtime_files() -> dict[str, bytes]:
    """Static files the search page needs besides the theme's own."""
    return {"lunr.min.js": lunr_js_path().read_bytes()}


def _hashed_name(stem: str, data: bytes) -> str:
    return f"search/{stem}.{hashlib.sha256(data).hexdigest()[:12]}.json"


def write_search_files(
    docs: Sequence[SearchDoc], out: OutputDir, cache: ShardCache, workers: int | None = None
) -> dict[str, Any]:
    """Write the manifest, the first tier and the rest shards for `docs` (see `site_docs`
    for their order); returns the manifest.

    The manifest only names the files to fetch; the first tier also carries the format,
    the fields and their boosts.
    """
    groups: dict[str, list[SearchDoc]] = {}
    for doc, name in zip(docs, shard_names(docs), strict=True):
        groups.setdefault(name, []).append(doc)
    shards = build_shards(groups, cache, workers)
    head = _json({"format": FORMAT_VERSION, "fields": [{"name": n, "boost": b} for n, b in FIELDS]})
    # The cached parts are spliced in as they are: re-encoding them would cost more than
    # everything else a warm build does.
    first = (head[:-1] + ',"parts":[' + ",".join(s.first for s in shards) + "]}").encode("utf-8")
    first_path = _hashed_name("first", first)
    out.write_bytes(first_path, first)
    rest_paths = []
    for name, shard in zip(groups, shards, strict=True):
        data = shard.rest.encode("utf-8")
        path = _hashed_name(f"rest-{name}", data)
        out.write_bytes(path, data)
        rest_paths.append(path)
    manifest = {"first": first_path, "rest": rest_paths}
    out.write_text("search/manifest.json", _json(manifest))
    return manifest


def site_docs(site: Site) -> list[SearchDoc]:
    """The site's papers as `SearchDoc`s, in `index_order`."""
    return index_order(search_doc(site, paper) for paper in site.papers)


def index_order(docs: Iterable[SearchDoc]) -> list[SearchDoc]:
    """Newest first, then by URL: the order of the index, and lunr's tie-break.

    Not the site's order: plugins may rank papers differently every day, and a shard's
    bytes must change only when its papers do.
    """
    return sorted(sorted(docs, key=lambda d: d.ref), key=lambda d: d.date, reverse=True)


def write_index(site: Site, out: OutputDir) -> None:
    """Write the search files for the site's papers, reusing the site's shard cache
    (``<site root>/.digest-cache/search/``) and pruning entries no longer used."""
    docs = site_docs(site)
    cache = ShardCache(site.config.root / CACHE_DIR)
    write_search_files(docs, out, cache)
    cache.prune()
