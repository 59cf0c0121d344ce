"""Related papers: the most similar papers by text (TF-IDF over title and abstract).

Comparing every pair of papers is O(n²) and too slow for 50,000 papers. Instead each paper
keeps only its few most distinctive terms (highest TF-IDF weight, among terms another
paper shares), and an inverted index maps each term to the papers that kept it, capped at
the heaviest `max_postings`. A paper's candidates are the papers found through its own
terms, so the work is about n × terms_per_paper × max_postings: linear in n.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from operator import itemgetter

from digest.model import Paper
from digest.richtext import MATH_SPAN

_WORD = re.compile(r"[a-z][a-z0-9]{2,}(?:-[a-z0-9]+)*")
# A very light stemmer: the plural s only (models → model; not loss, focus or analysis).
_PLURAL = re.compile(r"(?<=[a-z]{2}[^sui])s\b")
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


def terms(paper: Paper) -> Counter[str]:
    """The paper's terms with counts; title words count twice (titles name the subject)."""
    counts = _words(paper.abstract)
    for term, count in _words(paper.title).items():
        counts[term] += 2 * count
    return counts


def _words(text: str) -> Counter[str]:
    if "$" in text:
        text = MATH_SPAN.sub(" ", text)
    counts = Counter(_WORD.findall(_PLURAL.sub("", text.lower())))
    for word in counts.keys() & _STOP_WORDS:
        del counts[word]
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
    n = len(papers)
    if n < 2:
        return {p.key: [] for p in papers}
    bags = [terms(p) for p in papers]
    df: Counter[str] = Counter()
    for bag in bags:
        df.update(bag.keys())
    idf = {term: math.log(n / count) for term, count in df.items() if 1 < count < n}
    vectors = [_top_terms(bag, idf, terms_per_paper) for bag in bags]
    postings: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for i, vector in enumerate(vectors):
        for term, weight in vector.items():
            postings[term].append((weight, i))
    capped = {
        term: heapq.nlargest(max_postings, plist, key=lambda e: (e[0], -e[1]))
        if len(plist) > max_postings
        else plist
        for term, plist in postings.items()
    }
    result: dict[str, list[Paper]] = {}
    for i, vector in enumerate(vectors):
        scores: dict[int, float] = {}
        get = scores.get
        for term, weight in vector.items():
            for other_weight, j in capped[term]:
                scores[j] = get(j, 0.0) + weight * other_weight
        scores.pop(i, None)
        # Ties keep the order candidates were met in, which depends only on the input.
        best = heapq.nlargest(count, scores.items(), key=itemgetter(1))
        result[papers[i].key] = [papers[j] for j, _ in best]
    return result


def _top_terms(bag: Counter[str], idf: dict[str, float], limit: int) -> dict[str, float]:
    """The `limit` heaviest TF-IDF terms of one paper (among terms another paper shares),
    normalized to unit length."""
    weighted = []
    for term, tf in bag.items():
        weight = idf.get(term)
        if weight is not None:
            weighted.append(
                (weight * _TF[tf] if tf < len(_TF) else weight * (1 + math.log(tf)), term)
            )
    top = heapq.nlargest(limit, weighted)
    norm = math.sqrt(sum(w * w for w, _ in top)) or 1.0
    return {term: w / norm for w, term in top}


_TF = [0.0, *(1 + math.log(tf) for tf in range(1, 64))]
