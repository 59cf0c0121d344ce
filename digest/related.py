"""Related papers: the most similar papers by text (TF-IDF over title and abstract).

Comparing every pair of papers is O(n²) and too slow for 50,000 papers. Instead each paper
keeps only its few most distinctive terms (highest TF-IDF weight, among terms another
paper shares), and an inverted index maps each term to the papers that kept it, capped at
the heaviest `max_postings`. A paper's candidates are the papers found through its own
terms, so the work is about n × terms_per_paper × max_postings: linear in n.
"""

from __future__ import annotations

import functools
import math
import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import chain
from operator import itemgetter
from typing import overload

from digest.model import Paper
from digest.richtext import MATH_SPAN

_WORD = re.compile(r"[a-z][a-z0-9]{2,}(?:-[a-z0-9]+)*")
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
# again after each edit); under 1 kB each, since terms are interned.
BAG_CACHE_SIZE = 1 << 16


def terms(paper: Paper) -> Counter[str]:
    """The paper's terms with counts; title words count twice (titles name the subject)."""
    words, counts = _bag(paper.title, paper.abstract)
    return Counter(dict(zip(words, counts, strict=True)))


# A paper's terms and their counts, in two parallel sequences (compact, and hashable).
Bag = tuple[tuple[str, ...], bytes | tuple[int, ...]]


@functools.lru_cache(maxsize=BAG_CACHE_SIZE)
def _bag(title: str, abstract: str) -> Bag:
    counts = _words(abstract)
    for term, count in _words(title).items():
        counts[term] += 2 * count
    words = tuple(map(sys.intern, counts))
    values = tuple(counts.values())
    return words, bytes(values) if max(values, default=0) < 256 else values


def _words(text: str) -> Counter[str]:
    if "$" in text:
        text = MATH_SPAN.sub(" ", text)
    counts = Counter(_WORD.findall(_PLURAL.sub("", text.lower())))
    # dict.pop, not Counter's own (slower) __delitem__.
    for word in _STOP_WORDS.intersection(counts):
        counts.pop(word)
    return counts


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
        n = len(self.papers)
        bags = [_bag(p.title, p.abstract) for p in self.papers]
        df = Counter(chain.from_iterable(words for words, _ in bags))
        idf = {term: math.log(n / count) for term, count in df.items() if 1 < count < n}
        self.vectors = _vectors(bags, idf, terms_per_paper)
        postings: dict[str, list[tuple[int, float]]] = {}
        for i, vector in enumerate(self.vectors):
            for term, weight in vector.items():
                entry = postings.get(term)
                if entry is None:
                    postings[term] = [(i, weight)]
                else:
                    entry.append((i, weight))
        for entry in postings.values():
            if len(entry) > max_postings:
                # The heaviest first, ties in paper order (a stable sort keeps it).
                entry.sort(key=itemgetter(1), reverse=True)
                del entry[max_postings:]
        self.postings = postings

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


# The previous index's idf and vectors: a paper whose terms are unchanged, and none of whose
# terms changed weight, keeps its vector (a preview server builds after each edit).
_last_vectors: tuple[dict[str, float], int, dict[Bag, dict[str, float]]] | None = None


def _vectors(bags: list[Bag], idf: dict[str, float], limit: int) -> list[dict[str, float]]:
    global _last_vectors
    known: dict[Bag, dict[str, float]] = {}
    changed: set[str] = set()
    last = _last_vectors  # (read once: another thread may be making an index too)
    if last is not None and last[1] == limit:
        old_idf, _, known = last
        changed = {t for t in old_idf.keys() | idf.keys() if old_idf.get(t) != idf.get(t)}
    vectors = []
    for bag in bags:
        vector = known.get(bag)
        if vector is None or not changed.isdisjoint(bag[0]):
            vector = _top_terms(bag, idf, limit)
        vectors.append(vector)
    _last_vectors = (idf, limit, dict(zip(bags, vectors, strict=True)))
    return vectors


def _top_terms(bag: Bag, idf: dict[str, float], limit: int) -> dict[str, float]:
    """The `limit` heaviest TF-IDF terms of one paper (among terms another paper shares),
    normalized to unit length."""
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
    return {term: w / norm for w, term in top}


_TF = [0.0, *(1 + math.log(tf) for tf in range(1, 64))]
