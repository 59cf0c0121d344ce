"""Related papers: the most similar papers by text (TF-IDF over title and abstract).

Comparing every pair of papers is O(n²) and too slow for 50,000 papers. Instead each paper
keeps only its few most distinctive terms (highest TF-IDF weight, among terms another
paper shares), and an inverted index maps each term to the papers that kept it, capped at
the heaviest `max_postings`. A paper's candidates are the papers found through its own
terms, so the work is about n × terms_per_paper × max_postings: linear in n.

Terms are ints (ids in a vocabulary) and every per-paper table is a flat array, so an
index of 50,000 papers takes tens of megabytes, not hundreds, and the inner loops run
over C arrays rather than dicts of strings.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import multiprocessing
import operator
import os
import pickle
import re
import signal
import tempfile
import threading
from array import array
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, compress, count, repeat
from operator import floordiv, itemgetter, ne
from typing import Any, overload

from digest.model import Paper
from digest.rebuilds import rebuilds_expected
from digest.richtext import MATH_SPAN

# ``[a-z][a-z0-9]{2,}(?:-[a-z0-9]+)*``, possessive: the same words (backtracking could never
# give a longer match), found faster.
_WORD = re.compile(r"[a-z][a-z0-9]{2,}+(?:-[a-z0-9]++)*+")
# A very light stemmer: the plural s only (models → model; not loss, focus or analysis).
# (The look-behind comes last so the search can skip to the next "s".)
_PLURAL = re.compile(r"s\b(?<=[a-z]{2}[^sui]s)")
# Words that say nothing about a paper's subject: English function words plus the
# boilerplate of abstracts (after stemming).
_STOP_WORDS = frozenset(
    _PLURAL.sub("", word)
    for word in """
    about above across after again against all also although among and any are around
    based been before being below between both but can could did does doing done down
    during each either every few for from further had has have having here how however
    into its itself just large last less like made make many may more most much must
    new not now novel often only other our ours over paper per propose proposed rather
    recent recently show shown significantly since some such than that the their them
    then there these they this those through thus together too toward under until upon
    use used using very via was way well were what when where whether which while who
    whose why will with within without work would yet you your approach method result
    present study studie first second third one two three achieve task state art
    existing experiment experimental demonstrate performance outperform improve
    improved available code https http www github com
    """.split()  # noqa: SIM905 (a word list reads best as text)
)


# Term bags kept for papers whose title and abstract are unchanged (a preview server builds
# again after each edit); about 0.5 kB each.
BAG_CACHE_SIZE = 1 << 16
# Past this many terms the vocabulary (and every bag holding its ids) starts afresh.
VOCABULARY_SIZE = 1 << 20
# Whitespace-separated pieces of text whose term ids are remembered while bags are made.
CHUNK_CACHE_SIZE = 1 << 18
# Stands in a kept-term slot a paper leaves empty (never a term id).
_NO_TERM = 0xFFFFFFFF


class _Vocabulary:
    """Term ids: each distinct term gets the next int, for as long as this vocabulary is
    used; and what each whitespace-separated piece of lowercased text seen holds."""

    __slots__ = ("chunks", "ids", "lock", "names")

    def __init__(self) -> None:
        self.names: list[str] = []
        self.ids: dict[str, int] = {}
        self.chunks = _ChunkTerms(self)
        self.lock = threading.Lock()

    def id_of(self, term: str) -> int:
        """The id of `term`, given it now if it has none."""
        found = self.ids.get(term)
        if found is None:
            with self.lock:  # (two builder threads must not give two terms one id)
                found = self.ids.get(term)
                if found is None:
                    found = len(self.names)
                    self.names.append(term)
                    self.ids[term] = found
        return found


# What a piece with no term (a stop word, a number, punctuation) stands for.
_NO_WORD = -1


class _ChunkTerms(dict[str, int]):
    """Lowercased text piece → its term's id, or `_NO_WORD`, or a compound key for a piece
    with several terms (stop words left out). A text's terms are its pieces' terms: a word
    never spans whitespace, and the plural rule (which looks three characters back) only
    ever drops an "s" at a piece's start that no word holds. Most pieces are one word, so
    a text's terms are counted by looking each piece up, in C, with no list per piece.

    Made afresh for each index (then dropped: bags are cached, pieces need not be), and
    remembers at most `CHUNK_CACHE_SIZE` pieces."""

    __slots__ = ("_vocabulary", "compounds")

    def __init__(self, vocabulary: _Vocabulary) -> None:
        super().__init__()
        self._vocabulary = vocabulary
        # The terms of each piece with several, by -2 - key.
        self.compounds: list[tuple[int, ...]] = []

    def __missing__(self, chunk: str) -> int:
        vocabulary = self._vocabulary
        words = [w for w in _WORD.findall(_PLURAL.sub("", chunk)) if w not in _STOP_WORDS]
        if not words:
            key = _NO_WORD
        elif len(words) == 1:
            key = vocabulary.id_of(words[0])
        else:
            terms = tuple(map(vocabulary.id_of, words))
            with vocabulary.lock:  # (appending is atomic, but the key must be its own)
                self.compounds.append(terms)
                key = -1 - len(self.compounds)
        if len(self) < CHUNK_CACHE_SIZE:
            self[chunk] = key
        return key


_vocabulary = _Vocabulary()


def _current_vocabulary() -> _Vocabulary:
    global _vocabulary, _last_terms
    vocabulary = _vocabulary
    if len(vocabulary.names) > VOCABULARY_SIZE:
        # Bags and terms made with the old one keep it alive while in use, so a build in
        # another thread still reads its own ids right.
        _vocabulary = vocabulary = _Vocabulary()
        _bag.cache_clear()
        _last_terms = None
    return vocabulary


def terms(paper: Paper) -> Counter[str]:
    """The paper's terms with counts; title words count twice (titles name the subject)."""
    vocabulary = _current_vocabulary()
    ids, counts = _bag(paper.title, paper.abstract, vocabulary)
    return Counter(dict(zip(map(vocabulary.names.__getitem__, ids), counts, strict=True)))


# A paper's term ids and their counts, in two parallel sequences.
Bag = tuple[tuple[int, ...], bytes | tuple[int, ...]]


@functools.lru_cache(maxsize=BAG_CACHE_SIZE)
def _bag(title: str, abstract: str, vocabulary: _Vocabulary) -> Bag:
    chunks = vocabulary.chunks
    key_of = chunks.__getitem__
    counts: dict[int, int] = {}
    _count_elements(counts, map(key_of, _chunks(abstract)))
    in_title = list(map(key_of, _chunks(title)))
    _count_elements(counts, in_title)
    _count_elements(counts, in_title)  # (title words count twice)
    counts.pop(_NO_WORD, None)
    if counts and min(counts) < 0:
        compounds = chunks.compounds
        for key in [k for k in counts if k < 0]:
            times = counts.pop(key)
            for term in compounds[-2 - key]:
                counts[term] = counts.get(term, 0) + times
    values = list(counts.values())
    return tuple(counts), bytes(values) if max(values, default=0) < 256 else tuple(values)


def _chunks(text: str) -> list[str]:
    if "$" in text:
        text = MATH_SPAN.sub(" ", text)
    return text.lower().split()


# The C helper Counter counts with, used on a plain dict (Counter's own overhead, per
# paper, is as much as the counting).
_count_elements: Callable[[dict[int, int], Iterable[int]], None] = collections._count_elements  # type: ignore[attr-defined]  # (private, in every Python 3)


def related_papers(
    papers: Sequence[Paper],
    count: int = 5,
    terms_per_paper: int = 10,
    max_postings: int = 50,
) -> dict[str, list[Paper]]:
    """For each paper (by key), up to `count` most similar other papers, best first.

    Similarity is the dot product of the papers' normalized TF-IDF vectors restricted to
    their distinctive terms; the result depends only on the papers and their order.
    Papers sharing no distinctive term are never related.
    """
    index = RelatedIndex(papers, terms_per_paper, max_postings)
    return {p.key: index.related(i, count) for i, p in enumerate(papers)}


class RelatedIndex:
    """What finding a paper's related papers needs: every paper's distinctive terms and the
    capped postings. Making it is most of the work; `related` then takes about as long as
    one paper has candidates, so a page can ask for its paper's when it is rendered.

    The result is the same as `related_papers` gives, whichever papers are asked for and
    in whichever order.
    """

    def __init__(
        self, papers: Sequence[Paper], terms_per_paper: int = 10, max_postings: int = 50
    ) -> None:
        self.papers = list(papers)
        self.positions = {p.key: i for i, p in enumerate(self.papers)}
        vocabulary = _current_vocabulary()
        # (Bags are remembered only for a next index: a one-off build needs each once.)
        bag = _bag if rebuilds_expected() else _bag.__wrapped__
        bags = [bag(p.title, p.abstract, vocabulary) for p in self.papers]
        vocabulary.chunks = _ChunkTerms(vocabulary)
        terms = _index_terms(bags, (terms_per_paper, max_postings), vocabulary)
        self._names = vocabulary.names
        self._stride = terms.stride
        self._kept = terms.kept
        self._weights = terms.weights
        self._sizes = terms.sizes
        self._capped = terms.capped

    def parts(self) -> tuple[Any, ...]:
        """What `from_parts` needs to make this index again (in another process)."""
        return (self._names, self._stride, self._kept, self._weights, self._sizes, self._capped)

    @classmethod
    def from_parts(cls, papers: Sequence[Paper], parts: tuple[Any, ...]) -> RelatedIndex:
        """The index `parts` came from, of `papers` (the same papers, in the same order)."""
        index = cls.__new__(cls)
        index.papers = list(papers)
        index.positions = {p.key: i for i, p in enumerate(index.papers)}
        index._names, index._stride, index._kept, index._weights, index._sizes = parts[:5]
        index._capped = parts[5]
        return index

    def related(self, i: int, count: int = 5) -> list[Paper]:
        """Up to `count` papers most similar to the `i`-th, best first."""
        start = i * self._stride
        end = start + self._sizes[i]
        capped = self._capped
        scores: dict[int, float] = {}
        get = scores.get
        for term, weight in zip(self._kept[start:end], self._weights[start:end], strict=True):
            papers, weights = capped[term]
            if scores:
                for j, product in zip(papers, map(weight.__mul__, weights), strict=True):
                    scores[j] = get(j, 0.0) + product
            else:  # (0.0 + product is product: the first term's scores need no adding)
                scores = dict(zip(papers, map(weight.__mul__, weights), strict=True))
                get = scores.get
        scores.pop(i, None)
        # Ties keep the order candidates were met in (a stable sort), which depends only on
        # the input.
        papers_ = self.papers
        return [papers_[j] for j in sorted(scores, key=scores.__getitem__, reverse=True)[:count]]

    def score_updates(self, i: int) -> int:
        """How many score updates `related(i)` makes: one per capped posting of each term
        the paper kept (the measure of its work)."""
        start = i * self._stride
        kept = self._kept[start : start + self._sizes[i]]
        return sum(len(self._capped[term][0]) for term in kept)

    def kept_terms(self, i: int) -> dict[str, float]:
        """The `i`-th paper's distinctive terms and their weights, heaviest first."""
        start = i * self._stride
        end = start + self._sizes[i]
        names = self._names
        return dict(
            zip(
                map(names.__getitem__, self._kept[start:end]), self._weights[start:end], strict=True
            )
        )

    def lazy(self, key: str, count: int = 5) -> RelatedList:
        """The related papers of the paper with `key`, found when first read (none for a
        paper the index does not hold)."""
        return RelatedList(self, self.positions.get(key), count)


class RelatedList(Sequence[Paper]):
    """A paper's related papers as a list that is only worked out when first read."""

    __slots__ = ("_count", "_found", "_index", "_position")

    def __init__(self, index: RelatedIndex, position: int | None, count: int) -> None:
        self._index = index
        self._position = position
        self._count = count
        self._found: list[Paper] | None = None

    def _papers(self) -> list[Paper]:
        if self._found is None:
            i = self._position
            self._found = [] if i is None else self._index.related(i, self._count)
        return self._found

    @overload
    def __getitem__(self, item: int) -> Paper: ...
    @overload
    def __getitem__(self, item: slice) -> list[Paper]: ...
    def __getitem__(self, item: int | slice) -> Paper | list[Paper]:
        return self._papers()[item]

    def __len__(self) -> int:
        return len(self._papers())

    def __iter__(self) -> Iterator[Paper]:
        return iter(self._papers())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RelatedList | list):
            return self._papers() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, like a list

    def __repr__(self) -> str:
        return f"RelatedList({self._papers()!r})"


@dataclass(frozen=True)
class _Terms:
    """The term statistics of one index. Never changed once made: the next index (a preview
    server makes one after each edit) copies what it changes.

    Each paper has `stride` slots in `kept` and `weights` (its kept terms, heaviest first,
    and their normalized weights), of which it uses `sizes[paper]`; a posting is a slot,
    so ``slot // stride`` is the paper and ``weights[slot]`` its weight.
    """

    vocabulary: _Vocabulary
    bags: list[Bag]  # (none kept when no rebuild is expected, see `_index_terms`)
    limits: tuple[int, int]  # terms_per_paper, max_postings
    df: dict[int, int]
    idf: list[float]  # by term id; 0.0 for a term in one paper only, or in all
    stride: int
    kept: array[int]
    weights: array[float]
    sizes: array[int]
    # The lightest kept (weight, term) when a paper kept all it may: -inf when it kept
    # fewer (then any term that gains a weight joins), +inf when it may keep none.
    floors: array[float]
    floor_terms: array[int]
    postings: dict[int, array[int]]  # term → the slots holding it, in paper order
    capped: dict[int, tuple[array[int], array[float]]]  # the heaviest max_postings: papers, weights


# What the last index was made from: most of it holds for the next one when a few papers
# changed, and an unchanged paper keeps its vector if none of its terms changed weight.
_last_terms: _Terms | None = None
# Beyond this share of changed papers, the index is made afresh (still reusing vectors).
_UPDATE_SHARE = 0.1


def _index_terms(bags: list[Bag], limits: tuple[int, int], vocabulary: _Vocabulary) -> _Terms:
    global _last_terms
    if not rebuilds_expected():
        # The bags are kept only for a next index to see what changed: none will come
        # (at 50,000 papers they are 40 MB).
        return dataclasses.replace(_fresh_terms(bags, limits, vocabulary, None), bags=[])
    last = _last_terms  # (read once: another thread may be making an index too)
    if last is not None and last.vocabulary is not vocabulary:
        last = None
    terms = None
    if last is not None and last.limits == limits and len(last.bags) == len(bags):
        changed = [
            i
            for i, (new, old) in enumerate(zip(bags, last.bags, strict=True))
            if new is not old and new != old
        ]
        if not changed:
            terms = last
        elif len(changed) <= _UPDATE_SHARE * len(bags):
            terms = _updated_terms(last, bags, changed)
    if terms is None:
        terms = _fresh_terms(bags, limits, vocabulary, last)
    _last_terms = terms
    return terms


def _fresh_terms(
    bags: list[Bag], limits: tuple[int, int], vocabulary: _Vocabulary, last: _Terms | None
) -> _Terms:
    n = len(bags)
    limit, max_postings = limits
    stride = max(limit, 1)
    names = vocabulary.names
    df: dict[int, int] = {}
    _count_elements(df, chain.from_iterable(map(itemgetter(0), bags)))
    idf = [0.0] * len(names)
    for term, papers in df.items():
        if 1 < papers < n:
            idf[term] = math.log(n / papers)
    known: dict[Bag, int] = {}
    reweighted: set[int] = set()
    if last is not None and last.limits[0] == limit:
        known = {bag: i for i, bag in enumerate(last.bags)}
        old_idf = last.idf
        reweighted = set(compress(count(), map(ne, old_idf, idf)))
        reweighted.update(t for t in range(len(old_idf), len(idf)) if idf[t])
    kept = array("I")
    weights = array("d")
    sizes: list[int] = []
    floors: list[float] = []
    floor_terms: list[int] = []
    no_terms = [_NO_TERM] * stride
    no_weights = [0.0] * stride
    for bag in bags:
        j = known.get(bag) if known else None
        if j is not None and last is not None and _still_holds(bag, last, j, reweighted, idf):
            start = j * stride
            kept += last.kept[start : start + stride]
            weights += last.weights[start : start + stride]
            sizes.append(last.sizes[j])
            floors.append(last.floors[j])
            floor_terms.append(last.floor_terms[j])
            continue
        top, top_weights, floor, floor_term = _top_terms(bag, idf, limit, vocabulary)
        kept.extend(top)
        kept.extend(no_terms[len(top) :])
        weights.extend(top_weights)
        weights.extend(no_weights[len(top) :])
        sizes.append(len(top))
        floors.append(floor)
        floor_terms.append(floor_term)
    postings = {}
    capped = {}
    # Every term's slots in paper order: all slots sorted by term (a stable sort, in C),
    # then cut at each term's count.
    by_term = sorted(range(len(kept)), key=kept.__getitem__)
    per_term: dict[int, int] = {}
    _count_elements(per_term, kept)
    per_term.pop(_NO_TERM, None)  # (the largest, so its slots come last)
    end = 0
    for term in sorted(per_term):
        start, end = end, end + per_term[term]
        held = by_term[start:end]
        postings[term] = array("I", held)
        capped[term] = _capped(held, weights, stride, max_postings)
    return _Terms(
        vocabulary,
        bags,
        limits,
        df,
        idf,
        stride,
        kept,
        weights,
        array("I", sizes),
        array("d", floors),
        array("I", floor_terms),
        postings,
        capped,
    )


def _updated_terms(last: _Terms, bags: list[Bag], changed: list[int]) -> _Terms:
    """`last` with the papers at `changed` positions given new bags: exactly what
    `_fresh_terms` would make, in time about proportional to what changed (and a copy of
    its flat arrays)."""
    n = len(bags)
    names = last.vocabulary.names
    df = dict(last.df)
    touched: set[int] = set()
    for i in changed:
        old_terms, new_terms = last.bags[i][0], bags[i][0]
        for term in old_terms:
            df[term] -= 1
        for term in new_terms:
            df[term] = df.get(term, 0) + 1
        touched.update(old_terms, new_terms)
    old_idf = last.idf
    idf = list(old_idf)
    idf += repeat(0.0, len(names) - len(idf))
    for term in touched:
        papers = df.get(term, 0)
        if papers <= 0:
            df.pop(term, None)  # a fresh count would not have it
        idf[term] = math.log(n / papers) if 1 < papers < n else 0.0
    reweighted = {t for t in touched if (old_idf[t] if t < len(old_idf) else 0.0) != idf[t]}
    limit, max_postings = last.limits
    stride = last.stride
    redo = set(changed)
    if reweighted:
        redo.update(
            i
            for i, bag in enumerate(bags)
            if not reweighted.isdisjoint(bag[0]) and not _still_holds(bag, last, i, reweighted, idf)
        )
    kept = array("I", last.kept)
    weights = array("d", last.weights)
    sizes = array("I", last.sizes)
    floors = array("d", last.floors)
    floor_terms = array("I", last.floor_terms)
    postings = dict(last.postings)
    copied: set[int] = set()
    moved: set[int] = set()

    def entry_of(term: int) -> array[int]:
        if term not in copied:
            copied.add(term)
            postings[term] = array("I", postings.get(term, ()))
        return postings[term]

    for i in sorted(redo):
        start = i * stride
        old_top = kept[start : start + sizes[i]].tolist()
        old_weights = weights[start : start + sizes[i]].tolist()
        top, top_weights, floors[i], floor_terms[i] = _top_terms(
            bags[i], idf, limit, last.vocabulary
        )
        if top == old_top and top_weights == old_weights:
            continue
        for slot, term in enumerate(old_top, start):
            entry = entry_of(term)
            del entry[bisect_left(entry, slot)]
        empty = stride - len(top)
        kept[start : start + stride] = array("I", top + [_NO_TERM] * empty)
        weights[start : start + stride] = array("d", top_weights + [0.0] * empty)
        sizes[i] = len(top)
        for slot, term in enumerate(top, start):
            insort(entry_of(term), slot)
        moved.update(old_top, top)
    capped = dict(last.capped)
    for term in moved:
        if postings[term]:
            capped[term] = _capped(postings[term], weights, stride, max_postings)
        else:
            del postings[term]
            capped.pop(term, None)
    return _Terms(
        last.vocabulary,
        bags,
        last.limits,
        df,
        idf,
        stride,
        kept,
        weights,
        sizes,
        floors,
        floor_terms,
        postings,
        capped,
    )


def _capped(
    slots: Sequence[int], weights: array[float], stride: int, limit: int
) -> tuple[array[int], array[float]]:
    if len(slots) > limit:
        # The heaviest first, ties in paper order (a stable sort keeps it).
        slots = sorted(slots, key=weights.__getitem__, reverse=True)[:limit]
    return array("I", map(floordiv, slots, repeat(stride))), array(
        "d", map(weights.__getitem__, slots)
    )


def _top_terms(
    bag: Bag, idf: list[float], limit: int, vocabulary: _Vocabulary
) -> tuple[list[int], list[float], float, int]:
    """The `limit` heaviest TF-IDF terms of one paper (among terms another paper shares),
    normalized to unit length, heaviest first (ties by term); and the lightest of them
    (weight, term) when it kept all `limit`, see `_Terms.floors`."""
    if limit <= 0:
        return [], [], math.inf, 0
    ids, counts = bag
    names = vocabulary.names
    tf = _TF if isinstance(counts, bytes) else _LogTF()
    # (weight, term, id): every (weight, term) differs, so the order is total and ids are
    # never compared.
    weighted = [(idf[t] * tf[c], names[t], t) for t, c in zip(ids, counts, strict=True) if idf[t]]
    weighted.sort(reverse=True)
    top = weighted[:limit]
    norm = math.sqrt(sum(w * w for w, _, _ in top)) or 1.0
    floor, _, floor_term = top[-1] if len(top) >= limit else (-math.inf, "", 0)
    return [t for _, _, t in top], [w / norm for w, _, _ in top], floor, floor_term


class _LogTF:
    """1 + log(tf) for any count (a bag keeps counts of 256 or more in a tuple)."""

    def __getitem__(self, count: int) -> float:
        return 1 + math.log(count)


def _still_holds(bag: Bag, last: _Terms, i: int, reweighted: set[int], idf: list[float]) -> bool:
    """Whether the `i`-th paper's vector in `last` stays exactly the same for `bag` now that
    the `reweighted` terms have new weights (or none): true when none of them was kept and
    none now outweighs the lightest kept term, so the same terms keep the same weights."""
    ids, counts = bag
    start = i * last.stride
    kept = last.kept[start : start + last.sizes[i]]
    floor = last.floors[i]
    names = last.vocabulary.names
    for term in reweighted.intersection(ids):
        if term in kept:
            return False
        weight = idf[term]
        if not weight:
            continue  # it was not kept, and now it cannot be
        if floor == -math.inf:
            return False
        tf_count = counts[ids.index(term)]
        tf = _TF[tf_count] if tf_count < len(_TF) else 1 + math.log(tf_count)
        weight *= tf
        if weight > floor or (weight == floor and names[term] > names[last.floor_terms[i]]):
            return False
    return True


# 1 + log(tf) for every count a bag keeps in bytes.
_TF = [0.0, *(1 + math.log(tf) for tf in range(1, 256))]


# ---------------------------------------------------------------------------------------------
# Making a build's index beside its plugins


def related_index(papers: Sequence[Paper]) -> RelatedIndex:
    """The index of `papers`, in the order of their keys (so no ranking of the site decides
    which of two equally similar papers comes first): the one `prepared` had made in the
    background, if it was made of these papers, else one made here."""
    ordered = sorted(papers, key=_key_of)
    pending = _take_pending()
    if pending is not None:
        index = pending.result(ordered)
        if index is not None:
            return index
    return RelatedIndex(ordered)


def _key_of(paper: Paper) -> str:
    return paper.key


@contextmanager
def prepared(papers: Sequence[Paper]) -> Iterator[None]:
    """While in the body, the index of `papers` is made in a forked process, for
    `related_index` to take: a build runs its plugins meanwhile, on another core. The
    papers must be the ones `related_index` is asked for (else it makes its own).

    Nothing happens in a process that builds again (the preview server updates its last
    index instead), for a small site, on one core, or where forking is not safe.
    """
    global _PENDING
    if (
        rebuilds_expected()
        or len(papers) < BACKGROUND_MIN_PAPERS
        or (os.cpu_count() or 1) < 2
        or "fork" not in multiprocessing.get_all_start_methods()
        or threading.active_count() > 1  # (a forked child gets one thread of several)
    ):
        yield
        return
    _PENDING = _Pending(sorted(papers, key=_key_of))
    try:
        yield
    finally:
        pending = _take_pending()
        if pending is not None:
            pending.cancel()


# Below this many papers the index takes less than the fork and the hand-back.
BACKGROUND_MIN_PAPERS = 2000
_PENDING: _Pending | None = None


def _take_pending() -> _Pending | None:
    global _PENDING
    pending, _PENDING = _PENDING, None
    return pending


class _Pending:
    """An index being made in a forked child, which writes its parts to an unnamed
    temporary file and exits (so it never waits for its parent)."""

    def __init__(self, ordered: list[Paper]) -> None:
        self.papers = ordered
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by result or cancel)
        self.pid = os.fork()
        if self.pid == 0:  # the child
            code = 1
            try:
                index = RelatedIndex(ordered)
                pickle.dump(index.parts(), self.file, protocol=pickle.HIGHEST_PROTOCOL)
                self.file.flush()
                code = 0
            finally:
                os._exit(code)

    def result(self, ordered: list[Paper]) -> RelatedIndex | None:
        """The index, if the child made it of the same papers as `ordered`; else None."""
        try:
            _, status = os.waitpid(self.pid, 0)
            same = len(ordered) == len(self.papers) and all(map(operator.is_, ordered, self.papers))
            if status != 0 or not same:
                return None
            self.file.seek(0)
            return RelatedIndex.from_parts(ordered, pickle.load(self.file))
        except (OSError, EOFError, pickle.UnpicklingError):
            return None
        finally:
            self.file.close()

    def cancel(self) -> None:
        """Stop the child (a build that failed before it needed the index)."""
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        self.file.close()
