"""Related papers: the most similar papers by text (TF-IDF over title and abstract).

Comparing every pair of papers is O(n²) and too slow for 50,000 papers. Instead each paper
keeps only its few most distinctive terms (highest TF-IDF weight, among terms another
paper shares), and an inverted index maps each term to the papers that kept it, capped at
the heaviest `max_postings`. A paper's candidates are the papers found through its own
terms, so the work is about n × terms_per_paper × max_postings: linear in n.
"""

from __future__ import annotations

import collections
import functools
import math
import re
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import overload

from digest.model import Paper
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
# again after each edit); under 1 kB each, since terms are shared.
BAG_CACHE_SIZE = 1 << 16


def terms(paper: Paper) -> Counter[str]:
    """The paper's terms with counts; title words count twice (titles name the subject)."""
    words, counts = _bag(paper.title, paper.abstract)
    return Counter(dict(zip(words, counts, strict=True)))


# A paper's terms and their counts, in two parallel sequences (compact, and hashable).
Bag = tuple[tuple[str, ...], bytes | tuple[int, ...]]


@functools.lru_cache(maxsize=BAG_CACHE_SIZE)
def _bag(title: str, abstract: str) -> Bag:
    counts: dict[str, int] = {}
    _count_elements(counts, _tokens(abstract))
    in_title = _tokens(title)
    _count_elements(counts, in_title)
    _count_elements(counts, in_title)  # (title words count twice)
    for word in _STOP_WORDS.intersection(counts):
        del counts[word]
    global _vocabulary
    if len(_vocabulary) > VOCABULARY_SIZE:
        _vocabulary = {}
    # One string per term, shared by every bag that has it (as sys.intern, but faster).
    words = tuple(map(_vocabulary.setdefault, counts, counts))
    values = tuple(counts.values())
    return words, bytes(values) if max(values, default=0) < 256 else values


def _tokens(text: str) -> list[str]:
    if "$" in text:
        text = MATH_SPAN.sub(" ", text)
    return _WORD.findall(_PLURAL.sub("", text.lower()))


# The C helper Counter counts with, used on a plain dict (Counter's own overhead, per
# paper, is as much as the counting).
_count_elements: Callable[[dict[str, int], Iterable[str]], None] = collections._count_elements  # type: ignore[attr-defined]  # (private, in every Python 3)
_vocabulary: dict[str, str] = {}
VOCABULARY_SIZE = 1 << 20


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
        terms = _index_terms(
            [_bag(p.title, p.abstract) for p in self.papers], terms_per_paper, max_postings
        )
        self.vectors = terms.vectors
        self.postings = terms.capped

    def related(self, i: int, count: int = 5) -> list[Paper]:
        """Up to `count` papers most similar to the `i`-th, best first."""
        scores: dict[int, float] = {}
        get = scores.get
        postings = self.postings
        for term, weight in self.vectors[i].items():
            for j, other_weight in postings[term]:
                scores[j] = get(j, 0.0) + weight * other_weight
        scores.pop(i, None)
        # Ties keep the order candidates were met in (a stable sort), which depends only on
        # the input.
        papers = self.papers
        return [papers[j] for j in sorted(scores, key=scores.__getitem__, reverse=True)[:count]]

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
    server makes one after each edit) copies what it changes."""

    bags: list[Bag]
    limits: tuple[int, int]  # terms_per_paper, max_postings
    df: Counter[str]
    idf: dict[str, float]
    vectors: list[dict[str, float]]
    floors: list[Floor]
    postings: dict[str, list[tuple[int, float]]]  # (paper, weight) in paper order
    capped: dict[str, list[tuple[int, float]]]  # the heaviest max_postings of each


# What the last index was made from: most of it holds for the next one when a few papers
# changed, and an unchanged paper keeps its vector if none of its terms changed weight.
_last_terms: _Terms | None = None
# Beyond this share of changed papers, the index is made afresh (still reusing vectors).
_UPDATE_SHARE = 0.1


def _index_terms(bags: list[Bag], terms_per_paper: int, max_postings: int) -> _Terms:
    global _last_terms
    last = _last_terms  # (read once: another thread may be making an index too)
    limits = (terms_per_paper, max_postings)
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
        terms = _fresh_terms(bags, limits, last)
    _last_terms = terms
    return terms


def _fresh_terms(bags: list[Bag], limits: tuple[int, int], last: _Terms | None) -> _Terms:
    n = len(bags)
    df = Counter(chain.from_iterable(words for words, _ in bags))
    idf = {term: math.log(n / count) for term, count in df.items() if 1 < count < n}
    known: dict[Bag, tuple[dict[str, float], Floor]] = {}
    reweighted: set[str] = set()
    if last is not None and last.limits[0] == limits[0]:
        known = dict(zip(last.bags, zip(last.vectors, last.floors, strict=True), strict=True))
        old_idf = last.idf
        reweighted = {t for t in old_idf.keys() | idf.keys() if old_idf.get(t) != idf.get(t)}
    vectors = []
    floors = []
    for bag in bags:
        old = known.get(bag)
        if old is None or not _still_holds(bag, *old, reweighted, idf):
            vector, floor = _top_terms(bag, idf, limits[0])
        else:
            vector, floor = old
        vectors.append(vector)
        floors.append(floor)
    postings: dict[str, list[tuple[int, float]]] = {}
    for i, vector in enumerate(vectors):
        for term, weight in vector.items():
            entry = postings.get(term)
            if entry is None:
                postings[term] = [(i, weight)]
            else:
                entry.append((i, weight))
    capped = {term: _capped(entry, limits[1]) for term, entry in postings.items()}
    return _Terms(bags, limits, df, idf, vectors, floors, postings, capped)


def _updated_terms(last: _Terms, bags: list[Bag], changed: list[int]) -> _Terms:
    """`last` with the papers at `changed` positions given new bags: exactly what
    `_fresh_terms` would make, in time about proportional to what changed."""
    n = len(bags)
    df = last.df.copy()
    touched: set[str] = set()
    for i in changed:
        old_words, new_words = last.bags[i][0], bags[i][0]
        df.subtract(old_words)
        df.update(new_words)
        touched.update(old_words, new_words)
    idf = dict(last.idf)
    for term in touched:
        count = df[term]
        if count <= 0:
            del df[term]  # a fresh count would not have it
        if 1 < count < n:
            idf[term] = math.log(n / count)
        else:
            idf.pop(term, None)
    reweighted = {t for t in touched if last.idf.get(t) != idf.get(t)}
    limit = last.limits[0]
    vectors = list(last.vectors)
    floors = list(last.floors)
    redo = set(changed)
    if reweighted:
        redo.update(
            i
            for i, bag in enumerate(bags)
            if not reweighted.isdisjoint(bag[0])
            and not _still_holds(bag, vectors[i], floors[i], reweighted, idf)
        )
    postings = dict(last.postings)
    copied: set[str] = set()
    moved: set[str] = set()

    def entry_of(term: str) -> list[tuple[int, float]]:
        if term not in copied:
            copied.add(term)
            postings[term] = list(postings.get(term, ()))
        return postings[term]

    for i in sorted(redo):
        old_vector = last.vectors[i]
        vector, floors[i] = _top_terms(bags[i], idf, limit)
        vectors[i] = vector
        if vector == old_vector:
            continue
        for term in old_vector:
            entry = entry_of(term)
            del entry[bisect_left(entry, i, key=itemgetter(0))]
        for term, weight in vector.items():
            insort(entry_of(term), (i, weight), key=itemgetter(0))
        moved.update(old_vector, vector)
    capped = dict(last.capped)
    for term in moved:
        if postings[term]:
            capped[term] = _capped(postings[term], last.limits[1])
        else:
            del postings[term]
            capped.pop(term, None)
    return _Terms(bags, last.limits, df, idf, vectors, floors, postings, capped)


def _capped(entry: list[tuple[int, float]], limit: int) -> list[tuple[int, float]]:
    if len(entry) <= limit:
        return entry
    # The heaviest first, ties in paper order (a stable sort keeps it).
    return sorted(entry, key=itemgetter(1), reverse=True)[:limit]


# The lightest (weight, term) a paper's vector kept when it kept all `limit` it may; None
# when it has fewer (then any term that gains a weight joins).
Floor = tuple[float, str] | None


def _top_terms(bag: Bag, idf: dict[str, float], limit: int) -> tuple[dict[str, float], Floor]:
    """The `limit` heaviest TF-IDF terms of one paper (among terms another paper shares),
    normalized to unit length; and the lightest of them, see `Floor`."""
    words, counts = bag
    if max(counts, default=0) < len(_TF):
        weighted = [(idf[t] * _TF[c], t) for t, c in zip(words, counts, strict=True) if t in idf]
    else:
        weighted = [
            (idf[t] * (1 + math.log(c)), t) for t, c in zip(words, counts, strict=True) if t in idf
        ]
    # Every (weight, term) differs, so the order, ties by term included, is total.
    weighted.sort(reverse=True)
    top = weighted[:limit]
    norm = math.sqrt(sum(w * w for w, _ in top)) or 1.0
    floor: Floor = None
    if len(top) >= limit:
        floor = top[-1] if top else (math.inf, "")  # (a limit of 0 lets nothing in)
    return {term: w / norm for w, term in top}, floor


def _still_holds(
    bag: Bag,
    vector: dict[str, float],
    floor: Floor,
    reweighted: set[str],
    idf: dict[str, float],
) -> bool:
    """Whether the paper's vector stays exactly the same now that the `reweighted` terms
    have new weights (or none): true when none of them was kept and none now outweighs the
    lightest kept term, so the same terms are kept with the same weights."""
    words, counts = bag
    for term in reweighted.intersection(words):
        if term in vector:
            return False
        weight = idf.get(term)
        if weight is None:
            continue  # it was not kept, and now it cannot be
        if floor is None:
            return False
        count = counts[words.index(term)]
        tf = _TF[count] if count < len(_TF) else 1 + math.log(count)
        if (weight * tf, term) > floor:
            return False
    return True


_TF = [0.0, *(1 + math.log(tf) for tf in range(1, 64))]
