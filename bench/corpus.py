"""Deterministic benchmark corpora: N unique papers made from the real seed listings.

    python bench/corpus.py 10000 bench/out/corpus-10000      # writes papers.jsonl,
                                                             # daily.txt, search.txt, site.toml

Each copy of a seed paper gets a unique title suffix, a unique abstract (its sentences
shuffled, plus one naming the copy), arXiv id, date (spread over the year before the build
date) and upvote count, so merge, topics, trending, related papers, archives and search all
have real work to do, and no cache of per-text results gets a hit a real digest would not.
The same N always gives the same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from digest.build import readers_by_name  # noqa: E402
from digest.model import Paper  # noqa: E402
from digest.plugins import make_plugin_manager  # noqa: E402
from digest.sources.loader import load_source, source_for_path  # noqa: E402
from digest.sources.merge import merge_papers  # noqa: E402

BUILD_DATE = dt.date(2025, 10, 30)
WORDS = [
    "robust",
    "sparse",
    "adaptive",
    "efficient",
    "scalable",
    "causal",
    "contrastive",
    "federated",
    "multimodal",
    "hierarchical",
    "latent",
    "implicit",
    "recurrent",
    "spectral",
    "bayesian",
    "stochastic",
    "neural",
    "graph",
]


def seed_papers() -> list[Paper]:
    """The merged papers of the repo's seed listings, with abstracts."""
    readers = readers_by_name(make_plugin_manager())
    loaded: list[Paper] = []
    for path in sorted((REPO / "data").glob("*.txt")):
        loaded.extend(load_source(readers, source_for_path(path)).papers)
    return [p for p in merge_papers(loaded) if p.abstract]


def corpus(n: int) -> list[dict[str, object]]:
    """N canonical-JSON paper records, deterministic for a given N."""
    rng = random.Random(n)
    seeds = seed_papers()
    records = []
    for i in range(n):
        base = seeds[i % len(seeds)]
        copy = i // len(seeds)
        suffix = f" ({rng.choice(WORDS)} {rng.choice(WORDS)} variant {copy})" if copy else ""
        date = BUILD_DATE - dt.timedelta(days=rng.randrange(365))
        arxiv = f"{date:%y%m}.{10000 + i:05d}"
        records.append(
            {
                "title": base.title + suffix,
                "authors": list(base.authors),
                "hidden_authors": base.hidden_authors,
                "abstract": variant_abstract(base.abstract, copy, rng),
                "date": date.isoformat(),
                "arxiv_id": arxiv,
                "arxiv_version": 1,
                "links": {"abs": f"https://arxiv.org/abs/{arxiv}"},
                "sightings": [
                    {
                        "source": "corpus",
                        "position": i + 1,
                        "upvotes": rng.randrange(0, 120),
                        "date": date.isoformat(),
                    }
                ],
            }
        )
    return records


def variant_abstract(abstract: str, copy: int, rng: random.Random) -> str:
    """The abstract of the `copy`-th copy of a paper: the original for the first, else its
    sentences in another order and one more sentence naming the copy."""
    if not copy:
        return abstract
    sentences = SENTENCE_END.split(abstract)
    rng.shuffle(sentences)
    words = " ".join(rng.choice(WORDS) for _ in range(3))
    return " ".join([*sentences, f"We also study a {words} setting (variant {copy})."])


SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def daily_listing(records: list[dict[str, object]]) -> str:
    """The records as a daily-papers listing page (the hf-daily seed format)."""
    lines = [
        "new",
        "",
        "Get trending papers in your email inbox!",
        "",
        "Subscribe",
        "",
        "Daily Papers",
        "",
        "byAK and the research community",
        "",
        f"{BUILD_DATE:%b} 30",
        "",
    ]
    for r in records:
        date = dt.date.fromisoformat(str(r["date"]))
        votes = r["sightings"][0]["upvotes"]  # type: ignore[index]
        lines += [
            str(r["title"]),
            "",
            str(r["abstract"])[:280],
            "",
            f"  • {max(1, len(r['authors']))} authors",
            "·",  # type: ignore[arg-type]
            f"{date:%b} {date.day}, {date.year} {votes}",
            "",
        ]
    return "\n".join(lines) + "\n"


def write(n: int, folder: Path) -> Path:
    """Write the corpus (JSON Lines, a daily listing) and a site.toml building it."""
    folder.mkdir(parents=True, exist_ok=True)
    records = corpus(n)
    with (folder / "papers.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
    (folder / "daily.txt").write_text(daily_listing(records), encoding="utf-8")
    (folder / "site.toml").write_text(
        f'title = "Benchmark {n}"\nbase_url = "https://example.org/bench/"\n'
        'page_size = 50\n\n[[sources]]\nname = "corpus"\npath = "papers.jsonl"\n'
        'format = "jsonl"\n',
        encoding="utf-8",
    )
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    write(args.n, args.folder)
    print(args.folder)


if __name__ == "__main__":
    main()
