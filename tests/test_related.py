"""Related papers: similar text first, nothing for unrelated papers, linear work."""

from __future__ import annotations

import random
import time

from digest.model import Paper
from digest.related import related_papers, terms


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
    """Doubling the papers roughly doubles the time (an all-pairs method would quadruple
    it); measured on a synthetic corpus with Zipf-like word frequencies."""
    rng = random.Random(7)
    vocabulary = [f"term{i}x" for i in range(4000)]
    weights = [1 / (i + 1) for i in range(len(vocabulary))]

    def corpus(n: int) -> list[Paper]:
        return [
            paper(f"paper {i}", " ".join(rng.choices(vocabulary, weights, k=40))) for i in range(n)
        ]

    def seconds(papers: list[Paper]) -> float:
        start = time.perf_counter()
        related_papers(papers)
        return time.perf_counter() - start

    small, large = corpus(600), corpus(2400)
    seconds(small)  # warm caches
    ratio = min(seconds(large) for _ in range(2)) / min(seconds(small) for _ in range(2))
    assert ratio < 8, f"4x the papers took {ratio:.1f}x the time"
