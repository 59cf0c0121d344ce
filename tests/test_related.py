"""Related papers: similar text first, nothing for unrelated papers, linear work."""

from __future__ import annotations

import heapq
import math
import os
import random
from collections import Counter, defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest import related as related_module
from digest.model import Paper
from digest.related import (
    _PLURAL,
    _STOP_WORDS,
    _WORD,
    RelatedIndex,
    related_index,
    related_papers,
    terms,
)
from digest.richtext import MATH_SPAN
from tests.conftest import ALL_SOURCES, SEEDS, load_seed_papers


def paper(title: str, abstract: str = "") -> Paper:
    return Paper(title=title, abstract=abstract)


CORPUS = [
    paper("Diffusion models for image synthesis", "We train denoising diffusion models on images."),
    paper("Faster sampling for diffusion models", "Fewer denoising steps for image diffusion."),
    paper(
        "Scaling laws for language models", "Loss follows a power law in model size and compute."
    ),
    paper("Compute-optimal language model scaling", "Scaling laws tell how to spend compute."),
    paper("Graph neural networks for molecules", "Message passing over molecular graphs."),
    paper("Protein structure with graph networks", "Molecular graphs and message passing."),
    paper("A survey of reinforcement learning", "Agents, rewards and exploration."),
]


def titles(found: list[Paper]) -> list[str]:
    return [p.title for p in found]


def test_the_most_similar_paper_comes_first() -> None:
    related = related_papers(CORPUS, count=2)
    assert titles(related[CORPUS[0].key])[0] == "Faster sampling for diffusion models"
    assert titles(related[CORPUS[2].key])[0] == "Compute-optimal language model scaling"
    assert titles(related[CORPUS[4].key])[0] == "Protein structure with graph networks"


def test_a_paper_is_never_its_own_relative_and_unrelated_papers_get_none() -> None:
    related = related_papers(CORPUS)
    for p in CORPUS:
        assert p not in related[p.key]
    assert related[CORPUS[6].key] == []


def test_count_and_tiny_inputs() -> None:
    assert all(len(v) <= 1 for v in related_papers(CORPUS, count=1).values())
    assert related_papers([]) == {}
    assert related_papers(CORPUS[:1]) == {CORPUS[0].key: []}


def test_terms_fold_plurals_drop_stop_words_and_math() -> None:
    found = terms(paper("Scaling Laws for $\\mu$-Transfer Models", "We propose models."))
    assert found["law"] == 2 and found["model"] == 3
    assert "propose" not in found and "for" not in found and "mu" not in found
    assert "loss" in terms(paper("Loss"))  # not "los"


def test_deterministic() -> None:
    first = related_papers(CORPUS)
    assert related_papers(list(CORPUS)) == first


def test_work_grows_linearly() -> None:
    """No all-pairs comparison: a paper's candidates are the papers its own few terms lead
    to, each term's postings capped, so the scoring work (one update per candidate
    posting) is at most papers × terms_per_paper × max_postings and grows with the papers,
    not with their square. Counted, not timed, on a synthetic corpus with Zipf-like word
    frequencies (4× the papers), its vocabulary small enough for the caps to fill (until
    they do, a paper's candidates grow with the corpus, up to that bound)."""
    rng = random.Random(7)
    vocabulary = [f"term{i}x" for i in range(400)]
    weights = [1 / (i + 1) for i in range(len(vocabulary))]

    def work(n: int) -> int:
        papers = [
            paper(f"paper {i}", " ".join(rng.choices(vocabulary, weights, k=40))) for i in range(n)
        ]
        index = RelatedIndex(papers, terms_per_paper=10, max_postings=10)
        updates = sum(index.score_updates(i) for i in range(n))
        assert updates <= n * 10 * 10
        return updates

    small, large = work(600), work(2400)
    # All pairs would be 16×.
    assert large / small < 4.5, f"4x the papers did {large / small:.2f}x the work"


def reference_related(
    papers: list[Paper], count: int = 5, terms_per_paper: int = 10, max_postings: int = 50
) -> dict[str, list[Paper]]:
    """The method as first written, plainly (no caches, no shortcuts): the fast one must
    give exactly this."""
    n = len(papers)
    if n < 2:
        return {p.key: [] for p in papers}
    bags = [terms(p) for p in papers]
    df: Counter[str] = Counter()
    for bag in bags:
        df.update(bag.keys())
    idf = {term: math.log(n / c) for term, c in df.items() if 1 < c < n}
    vectors = []
    for bag in bags:
        top = heapq.nlargest(
            terms_per_paper,
            ((idf[term] * (1 + math.log(tf)), term) for term, tf in bag.items() if term in idf),
        )
        norm = math.sqrt(sum(w * w for w, _ in top)) or 1.0
        vectors.append({term: w / norm for w, term in top})
    postings: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for i, vector in enumerate(vectors):
        for term, weight in vector.items():
            postings[term].append((weight, i))
    capped = {
        term: heapq.nlargest(max_postings, plist, key=lambda e: (e[0], -e[1]))
        for term, plist in postings.items()
    }
    result = {}
    for i, vector in enumerate(vectors):
        scores: dict[int, float] = {}
        for term, weight in vector.items():
            for other_weight, j in capped[term]:
                scores[j] = scores.get(j, 0.0) + weight * other_weight
        scores.pop(i, None)
        best = heapq.nlargest(count, scores.items(), key=lambda item: item[1])
        result[papers[i].key] = [papers[j] for j, _ in best]
    return result


def keys_of(related: dict[str, list[Paper]]) -> dict[str, list[str]]:
    return {key: [p.key for p in found] for key, found in related.items()}


def test_the_same_as_the_plain_method_also_after_edits(rebuilds: None) -> None:
    """Terms and weights are remembered between runs (a preview server builds again after
    each edit): an edited, added or removed paper must give what a first run gives."""
    rng = random.Random(3)
    vocabulary = [f"word{i}x" for i in range(300)] + ["models", "model", "loss", "$x^2$"]

    def text(k: int) -> str:
        return " ".join(rng.choices(vocabulary, k=k))

    for count, per_paper, postings in ((5, 10, 50), (3, 4, 7)):
        papers = [paper(f"{text(4)} {i}", text(30)) for i in range(400)]
        for _ in range(12):
            expected = keys_of(reference_related(papers, count, per_paper, postings))
            assert keys_of(related_papers(papers, count, per_paper, postings)) == expected
            assert related_module._last_terms is not None  # what the next run starts from
            change = rng.choice(["edit", "edit", "edit", "replace", "remove", "shuffle", "none"])
            at = rng.randrange(len(papers))
            if change == "edit":
                papers[at] = paper(papers[at].title, papers[at].abstract + " " + text(3))
                papers[-at] = paper(papers[-at].title, text(25))
            elif change == "replace":
                papers[at] = paper(f"new {text(3)}", text(20))
            elif change == "remove":
                papers.pop(at)
            elif change == "shuffle":
                rng.shuffle(papers)


def test_a_paper_can_ask_for_its_own_related_papers_only() -> None:
    index = RelatedIndex(CORPUS)
    everything = related_papers(CORPUS)
    for p in reversed(CORPUS):
        found = index.lazy(p.key, 5)
        assert found == everything[p.key] and list(found) == everything[p.key]
        assert len(found) == len(everything[p.key]) and bool(found) == bool(everything[p.key])
    assert index.lazy("arxiv:none", 5) == [] and not index.lazy("arxiv:none", 5)
    assert index.lazy(CORPUS[0].key, 1)[0].title == "Faster sampling for diffusion models"


def test_score_updates_are_what_related_walks() -> None:
    index = RelatedIndex(CORPUS)
    for i in range(len(CORPUS)):
        kept = index.kept_terms(i)
        assert list(kept.values()) == sorted(kept.values(), reverse=True)
        assert index.score_updates(i) >= len(index.related(i, 100))
    assert index.score_updates(6) == 0 and index.kept_terms(6) == {}


# Characters that matter to words, to the plural rule (which looks three back) and to
# word boundaries: letters, s/u/i, digits, hyphens, word characters that are not letters,
# spaces of several kinds, and the dollar of inline math.
_TRICKY = st.text(alphabet="abcsuiS-_0é ΣK \t\n.$x", max_size=60)


def _tokens(text: str) -> list[str]:
    """The words of `text` found in the whole text at once: what the pieces must give."""
    if "$" in text:
        text = MATH_SPAN.sub(" ", text)
    return _WORD.findall(_PLURAL.sub("", text.lower()))


@given(title=_TRICKY, abstract=_TRICKY)
def test_terms_counted_piecewise_are_the_words_of_the_whole_text(title: str, abstract: str) -> None:
    expected: Counter[str] = Counter()
    for text, times in ((abstract, 1), (title, 2)):
        for word in _tokens(text):
            expected[word] += times
    for word in list(expected):
        if word in _STOP_WORDS:
            del expected[word]
    assert terms(paper(title, abstract)) == expected


def test_a_word_said_hundreds_of_times_weighs_as_the_plain_method_says() -> None:
    many = " ".join(["gradient"] * 300 + ["descent"] * 2)
    papers = [*CORPUS, paper("Gradient noise", many), paper("Descent of gradient", "noise")]
    assert terms(papers[-2])["gradient"] == 302
    expected = keys_of(reference_related(papers, 3, 2, 2))
    assert keys_of(related_papers(papers, 3, 2, 2)) == expected


# --- the index a build makes beside its plugins --------------------------------------------


@pytest.fixture
def background(monkeypatch: pytest.MonkeyPatch, one_off: None) -> None:
    """Make indexes in the background as a one-off build does, for any number of papers,
    also while threads that earlier tests started (the preview server's) wind down."""
    monkeypatch.setattr(related_module, "BACKGROUND_MIN_PAPERS", 1)
    monkeypatch.setattr(related_module.threading, "active_count", lambda: 1)


@pytest.fixture(scope="module")
def seed_corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Paper]:
    """The merged seed papers (553 of them), in the order the listings give them."""
    return load_seed_papers(tmp_path_factory.mktemp("seeds"))


def _all_related(index: RelatedIndex, papers: list[Paper]) -> dict[str, list[str]]:
    return {p.key: [q.key for q in index.lazy(p.key, 5)] for p in papers}


def test_the_index_does_not_depend_on_the_order_papers_come_in(seed_corpus) -> None:
    shuffled = list(seed_corpus)
    random.Random(5).shuffle(shuffled)
    expected = _all_related(related_index(seed_corpus), seed_corpus)
    assert _all_related(related_index(shuffled), seed_corpus) == expected
    assert sum(map(bool, expected.values())) > len(seed_corpus) // 2


def test_an_index_made_in_the_background_is_the_one_made_here(seed_corpus, background) -> None:
    here = related_index(seed_corpus)
    reordered = sorted(seed_corpus, key=lambda p: p.title)  # (as plugins may reorder them)
    with related_module.prepared(seed_corpus):
        pending = related_module._PENDING
        assert pending is not None and pending.pid > 0
        made = related_index(reordered)
    assert related_module._PENDING is None
    assert _all_related(made, seed_corpus) == _all_related(here, seed_corpus)
    assert [made.kept_terms(i) for i in range(len(seed_corpus))] == [
        here.kept_terms(i) for i in range(len(seed_corpus))
    ]
    with pytest.raises(ChildProcessError):
        os.waitpid(pending.pid, os.WNOHANG)  # (collected)


def test_papers_that_changed_meanwhile_are_indexed_afresh(seed_corpus, background) -> None:
    fewer = seed_corpus[:-1]
    with related_module.prepared(seed_corpus):
        made = related_index(fewer)
    assert len(made.papers) == len(fewer)
    assert _all_related(made, fewer) == _all_related(RelatedIndex(sorted(fewer, key=_key)), fewer)


def test_a_build_that_fails_meanwhile_leaves_no_process_behind(seed_corpus, background) -> None:
    with pytest.raises(RuntimeError), related_module.prepared(seed_corpus):
        pending = related_module._PENDING
        assert pending is not None
        raise RuntimeError("a plugin failed")
    assert related_module._PENDING is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pending.pid, os.WNOHANG)


def test_a_process_that_builds_again_makes_its_index_itself(
    seed_corpus, background, rebuilds
) -> None:
    with related_module.prepared(seed_corpus):
        assert related_module._PENDING is None  # (it updates its last index instead)


def _key(paper: Paper) -> str:
    return paper.key


def test_a_build_with_its_index_made_in_the_background_makes_the_same_site(
    site_factory, build_site, background, monkeypatch
) -> None:
    root = site_factory(config=ALL_SOURCES, seeds=SEEDS)
    used: list[bool] = []
    result = related_module._Pending.result

    def spy(self, ordered):
        made = result(self, ordered)
        used.append(made is not None)
        return made

    monkeypatch.setattr(related_module._Pending, "result", spy)
    beside = build_site(root, outdir=root / "beside")
    assert used == [True]
    monkeypatch.setattr(related_module, "BACKGROUND_MIN_PAPERS", 10**9)
    here = build_site(root, outdir=root / "here")
    assert used == [True]
    files = sorted(p.relative_to(here.outdir) for p in here.outdir.rglob("*") if p.is_file())
    assert files == sorted(
        p.relative_to(beside.outdir) for p in beside.outdir.rglob("*") if p.is_file()
    )
    assert all((here.outdir / f).read_bytes() == (beside.outdir / f).read_bytes() for f in files)
