"""The fast paths of the topics, highlight and trending plugins give what the plain ones do.

The phrase scanner tells which keyword matched from the matched text instead of a named
group per keyword; topics and trending remember results between builds; the topics'
document frequencies are updated from the last sample. Each is checked here against a
straightforward reference on the seed papers and on random text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from conftest import load_seed_papers
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.model import Paper, Sighting
from digest.site import Site
from plugins import digest_highlight as highlight
from plugins import digest_topics as topics
from plugins import digest_trending as trending
from plugins.digest_highlight import Memo, Pattern, Scanner, _source
from plugins.digest_topics import (
    DEFAULT_TOPICS,
    SampleFrequencies,
    TaxonomyMatcher,
    TopicsSettings,
    choose_topics,
    paper_terms,
    term_index,
)


@pytest.fixture(scope="module")
def seed_papers(tmp_path_factory: pytest.TempPathFactory) -> list[Paper]:
    return load_seed_papers(tmp_path_factory.mktemp("seeds"))


def texts_of(papers: Iterable[Paper]) -> list[str]:
    return [text for p in papers for text in (p.title, p.abstract)]


class Reference:
    """The scanner as it was: one named group per pattern, read off each match."""

    def __init__(self, numbered: Sequence[tuple[int, Pattern]], overlapping: bool):
        phrases = [(i, p) for i, p in numbered if p.prefix]
        regexes = [(i, p) for i, p in numbered if not p.prefix]
        source = _source(phrases, overlapping) if phrases else None
        self.exact = re.compile(source) if source else None
        self.folded = re.compile(source, re.IGNORECASE) if source else None
        self.regexes = re.compile(_source(regexes, overlapping), re.IGNORECASE) if regexes else None

    def spans(self, text: str) -> list[tuple[int, int, int]]:
        found = []
        if self.exact is not None and self.folded is not None:
            lower = text.lower()
            if len(lower) == len(text):
                found += _spans(self.exact.finditer(lower))
            else:
                found += _spans(self.folded.finditer(text))
        if self.regexes is not None:
            found += _spans(self.regexes.finditer(text))
        return found


def _spans(matches: Iterable[re.Match[str]]) -> list[tuple[int, int, int]]:
    found = []
    for m in matches:
        if m.lastgroup is not None:
            found.append((m.start(), m.end(m.lastgroup), int(m.lastgroup[1:])))
    return found


def numbered_phrases(phrases: Iterable[str]) -> list[tuple[int, Pattern]]:
    patterns = [Pattern.phrase(p) for p in phrases]
    return list(enumerate(p for p in patterns if p is not None))


# --- the scanner ----------------------------------------------------------------------


@pytest.mark.parametrize("overlapping", [False, True])
def test_scanner_matches_the_named_group_regex_on_seed_papers(
    seed_papers: list[Paper], overlapping: bool
) -> None:
    keywords = [k for t in DEFAULT_TOPICS for k in (*t.keywords, *t.exclude)]
    numbered = numbered_phrases(dict.fromkeys(keywords))
    numbered.append((len(numbered), Pattern.regex_keyword("LLa?MA")))
    scanner, reference = Scanner(numbered, overlapping), Reference(numbered, overlapping)
    texts = texts_of(seed_papers)
    for text in texts:
        expected = reference.spans(text)
        assert scanner.scan(text) == expected, text
        assert scanner.counts(text) == dict(Counter(i for _, _, i in expected))
    for text in texts:  # again, from the matched texts it knows
        assert scanner.scan(text) == reference.spans(text)


WORDS = st.sampled_from(
    ["graph", "graphs", "neural", "network", "model", "models", "pre", "training", "in",
     "context", "policy", "policies", "merge", "merging", "mixture", "of", "experts", "a",
     "İ", "scaling", "law", "laws", "c++", "μP", "3D", "x"]
)  # fmt: skip
SEPARATORS = st.sampled_from([" ", "-", "", "  ", "\n", "/", ", ", "(", "$", "‐", "_"])
PHRASE = st.lists(WORDS, min_size=1, max_size=3).map(" ".join)
TEXT = st.lists(st.tuples(WORDS, SEPARATORS), max_size=30).map(
    lambda parts: "".join(w + s for w, s in parts)
)


REGEXES = st.lists(
    st.sampled_from(["la?ws?", r"gr\w*", r"(?<=-)net\w*", r"\d+d", r"c\+\+", r"\bpre"]),
    max_size=2,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(PHRASE, min_size=1, max_size=8),
    REGEXES,
    st.lists(TEXT, min_size=1, max_size=4),
)
def test_scanner_matches_the_named_group_regex_on_random_text(
    phrases: list[str], regexes: list[str], texts: list[str]
) -> None:
    numbered = numbered_phrases(phrases)
    numbered += [(len(numbered) + i, Pattern.regex_keyword(r)) for i, r in enumerate(regexes)]
    for overlapping in (False, True):
        scanner, reference = Scanner(numbered, overlapping), Reference(numbered, overlapping)
        for text in texts:
            expected = reference.spans(text)
            assert scanner.scan(text) == expected
            assert scanner.counts(text) == dict(Counter(i for _, _, i in expected))


def test_memo_keeps_the_last_generation(rebuilds: None) -> None:
    memo: Memo[str, int] = Memo(size=3)
    for i in range(7):  # generations: 0 1 2, then 3 4 5 (the older), then 6
        memo.put(str(i), i)
    assert len(memo) <= 6
    assert memo.get("6") == 6 and memo.get("3") == 3
    assert memo.get("0") is None
    assert memo.get("missing") is None


def test_a_memo_keeps_nothing_when_no_rebuild_is_expected(one_off: None) -> None:
    memo: Memo[str, int] = Memo(size=3)
    assert memo.put("a", 1) == 1
    assert memo.get("a") is None and len(memo) == 0


def test_keyword_matchers_share_marks_but_not_lists() -> None:
    keywords = [highlight.Keyword("law", Pattern.regex_keyword("laws?"))]
    first, second = highlight.KeywordMatcher(keywords), highlight.KeywordMatcher(keywords)
    marks = first.find("scaling laws")
    marks.append(highlight.Mark(0, 1, "x"))
    assert second.find("scaling laws") == [highlight.Mark(8, 12, "law")]


# --- topics ---------------------------------------------------------------------------


def reference_scores(
    matcher: TaxonomyMatcher, reference: Reference, paper: Paper, settings: TopicsSettings
) -> list[tuple[float, int]]:
    """`TaxonomyMatcher.scores` as it was, from Counters of the reference spans."""

    def hits(text: str) -> Counter[int]:
        return Counter(i for _, _, i in reference.spans(text)) if text else Counter()

    scores: dict[int, float] = {}
    blocked: set[int] = set()
    title, abstract = hits(paper.title), hits(paper.abstract)
    for keyword in title.keys() | abstract.keys():
        points = settings.title_weight * (keyword in title)
        points += settings.abstract_weight * min(3, abstract[keyword])
        for topic, excluded in matcher.owners[keyword]:
            if excluded:
                blocked.add(topic)
            else:
                scores[topic] = scores.get(topic, 0.0) + points * matcher.topics[topic].weight
    ranked = [(s, t) for t, s in scores.items() if s > 0 and t not in blocked]
    return sorted(ranked, key=lambda item: (-item[0], item[1]))


def test_topic_scores_and_choices_match_the_reference(seed_papers: list[Paper]) -> None:
    matcher = TaxonomyMatcher(DEFAULT_TOPICS)
    reference = Reference(matcher.scanner._phrases, overlapping=False)
    for chosen in (TopicsSettings(), TopicsSettings(title_weight=1.7, secondary_ratio=0.3)):
        for paper in seed_papers:
            expected = reference_scores(matcher, reference, paper, chosen)
            assert matcher.scores(paper, chosen) == expected
            assert matcher.choose(paper, chosen) == tuple(choose_topics(expected, chosen))
        # Papers with other texts but the same keyword counts share a remembered choice.
        for paper in seed_papers:
            twin = dataclasses.replace(paper, title=paper.title + " (a twin)")
            expected = reference_scores(matcher, reference, twin, chosen)
            assert matcher.choose(twin, chosen) == tuple(choose_topics(expected, chosen))


def term_set(text: str) -> set[str]:
    """The distinct terms of a text, as the reference `paper_terms` writes them."""
    return set(paper_terms(text))


def distinct_terms(title: str, abstract: str) -> set[str]:
    """A paper's terms, each once (what document frequencies count)."""
    return term_set(title) | term_set(abstract)


def reference_term_index(
    papers: Sequence[Paper], wanted: Sequence[Paper], max_share: float = 0.2
) -> topics.TermIndex:
    """`term_index` as it was: every frequency counted afresh."""
    import zlib

    keys = {p.key for p in wanted}
    others = [p for p in papers if p.key not in keys]
    step = max(1, math.ceil(len(others) / topics.DF_SAMPLE))
    sample = [p for p in others if zlib.crc32(p.key.encode()) % step == 0] if step > 1 else others
    scale = len(others) / len(sample) if sample else 0.0
    df: Counter[str] = Counter()
    for paper in sample:
        df.update({*paper_terms(paper.title), *paper_terms(paper.abstract)})
    estimated: dict[str, float] = {term: count * scale for term, count in df.items()}
    counts: dict[str, Counter[str]] = {}
    index = topics.TermIndex()
    for paper in wanted:
        tf = Counter(paper_terms(paper.title))
        for term in tf:
            tf[term] *= 3
        tf.update(paper_terms(paper.abstract))
        counts[paper.key] = tf
        for text in (paper.title, paper.abstract):
            for term, surface in topics.surface_forms(text):
                index.surfaces[term][surface] += 1
        for term in tf:
            estimated[term] = estimated.get(term, 0.0) + 1
    n = max(1, len(papers))
    ceiling = max(topics.MIN_COMMON, max_share * n)
    for key, tf in counts.items():
        index.vectors[key] = {
            term: (1 + math.log(c)) * math.log(n / estimated[term]) * (1.3 if " " in term else 1)
            for term, c in tf.items()
            if 2 <= estimated[term] <= ceiling
        }
    return index


def test_term_index_matches_the_reference_as_the_sample_changes(
    seed_papers: list[Paper], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(topics, "SAMPLE_FREQUENCIES", SampleFrequencies())
    monkeypatch.setattr(topics, "DF_SAMPLE", 40)  # so that a sample is drawn
    rng = random.Random(7)
    papers = list(seed_papers)
    for round_ in range(12):
        if round_ % 3 == 1:  # an edit: one abstract changes
            i = rng.randrange(len(papers))
            papers[i] = dataclasses.replace(papers[i], abstract=papers[i].abstract + " edited")
        elif round_ % 3 == 2:  # a paper leaves, another comes back twice (same texts)
            papers.pop(rng.randrange(len(papers)))
            papers.append(dataclasses.replace(papers[0], arxiv_id=f"9999.{round_:05d}"))
        wanted = rng.sample(papers, 5)
        new, old = term_index(papers, wanted), reference_term_index(papers, wanted)
        assert new.vectors == old.vectors
        assert new.surfaces == old.surfaces


def test_sample_frequencies_match_a_fresh_count(seed_papers: list[Paper]) -> None:
    frequencies = SampleFrequencies()
    rng = random.Random(3)
    texts = [(p.title, p.abstract) for p in seed_papers]
    for _ in range(10):
        sample = rng.sample(texts, len(texts) // 2) + rng.sample(texts, 3)
        terms = {t for title, abstract in texts for t in distinct_terms(title, abstract)}
        expected = Counter(t for ta in sample for t in distinct_terms(*ta))
        assert frequencies.lookup(sample, terms) == dict(expected)


# --- trending -------------------------------------------------------------------------


def test_remembered_trending_scores_match_fresh_ones(
    seed_papers: list[Paper], rebuilds: None
) -> None:
    def ranked(papers: list[Paper], site: Site) -> list[tuple[str, dict[str, Any]]]:
        papers = [dataclasses.replace(p, data={}) for p in papers]
        trending.rank_papers(papers, site, trending.TrendingSettings())
        return [(p.key, site.data["trending"][p.key]) for p in papers]

    site = Site(config=None, date=dt.date(2025, 11, 1))  # type: ignore[arg-type]
    papers = list(seed_papers)
    trending._SCORE_MEMOS.clear()
    first = ranked(papers, site)
    assert sum(map(len, trending._SCORE_MEMOS.values())) > len(papers) // 2  # (inputs recur)
    assert ranked(papers, site) == first  # from the memo
    bumped = dataclasses.replace(
        papers[5], sightings=(*papers[5].sightings, Sighting("extra", position=1, upvotes=500))
    )
    papers[5] = bumped
    remembered = ranked(papers, site)
    trending._SCORE_MEMOS.clear()
    fresh = ranked(papers, site)
    assert remembered == fresh
    assert remembered != first
    for (_, kept), (_, computed) in zip(remembered, fresh, strict=True):
        assert list(kept) == list(computed)  # the same keys in the same order
        assert list(kept["parts"]) == list(computed["parts"]) == list(trending.PARTS)


def test_a_memo_hit_gives_a_fresh_dict(seed_papers: list[Paper], rebuilds: None) -> None:
    site = Site(config=None, date=dt.date(2025, 11, 1))  # type: ignore[arg-type]
    papers = [dataclasses.replace(p, data={}) for p in seed_papers[:5]]
    trending.rank_papers(papers, site, trending.TrendingSettings())
    papers[0].data["trending"]["parts"]["base"] = -1.0
    again = [dataclasses.replace(p, data={}) for p in seed_papers[:5]]
    trending.rank_papers(again, site, trending.TrendingSettings())
    assert all(p.data["trending"]["parts"]["base"] == 1.0 for p in again)


# --- counting only some terms ---------------------------------------------------------


def test_a_term_query_finds_what_term_set_finds(seed_papers: list[Paper]) -> None:
    texts = [*texts_of(seed_papers), "", "The networks' pre-training: it's “quoted”."]
    everything = {t for text in texts for t in term_set(text)}
    rng = random.Random(5)
    some = set(rng.sample(sorted(everything), len(everything) // 10))
    odd = {"gan", "", " network", "network ", "a b c", "Graph", "the model"}
    for terms in (everything, some, some | odd):
        query = topics.TermQuery(terms)
        for text in texts:
            assert query.found(text) == term_set(text) & terms, text


def test_sample_frequencies_follow_the_terms_asked_for(seed_papers: list[Paper]) -> None:
    frequencies = SampleFrequencies()
    rng = random.Random(11)
    texts = [(p.title, p.abstract) for p in seed_papers]
    everything = sorted({t for ta in texts for t in distinct_terms(*ta)})
    sample = rng.sample(texts, len(texts) // 2)
    for round_ in range(12):
        if round_ % 2:  # a few papers change, so the counts are updated, not redone
            sample = sample[2:] + rng.sample(texts, 2)
        terms = set(rng.sample(everything, 200 if round_ % 3 else 5))
        expected = Counter(t for ta in sample for t in distinct_terms(*ta) if t in terms)
        assert frequencies.lookup(sample, terms) == dict(expected)


@pytest.mark.parametrize("phrases", [["(x)", "graph"], ["c++", "x-ray", "graph"], [".net", "net"]])
def test_counts_after_a_separator_match_the_reference(phrases: list[str]) -> None:
    numbered = numbered_phrases(phrases)
    scanner, reference = Scanner(numbered, False), Reference(numbered, False)
    for text in ["c++(x) graph", "(x)(x) .net net", "Graph-graphs x-rays", "graph", ".netgraph"]:
        expected = dict(Counter(i for _, _, i in reference.spans(text)))
        assert scanner.counts(text) == expected, text
