"""`digest new`: the files of a fresh site."""

from __future__ import annotations

import json
from pathlib import Path

SITE_TOML = """\
# The site's settings; see the paper-digest README for every key.
title = "My Paper Digest"
description = "Papers worth reading, grouped by topic."
base_url = "https://example.org/"
about = "about.md"
page_size = 30

[[sources]]
name = "sample"
path = "data/sample.jsonl"
format = "jsonl"

[plugins.highlight]
keywords = ["language model", "diffusion"]
"""

ABOUT_MD = """\
# About this digest

This digest is built with **paper-digest** from the listings in `data/`.
Edit `site.toml` to add sources, keywords and topics, then run `digest build`.
"""

SAMPLE_PAPERS = [
    {
        "title": "A Sample Paper on Language Model Evaluation",
        "authors": ["Ada Example", "Grace Sample"],
        "abstract": "This placeholder abstract shows where a paper's summary appears. "
        "Replace data/sample.jsonl with your own listings.",
        "date": "2024-10-30",
        "sightings": [{"source": "sample", "position": 1, "upvotes": 3}],
    },
    {
        "title": "Another Sample Paper on Diffusion Models",
        "authors": ["Alan Placeholder"],
        "abstract": "A second placeholder, so the digest has something to group.",
        "date": "2024-10-29",
        "sightings": [{"source": "sample", "position": 2}],
    },
]


def create_site(folder: Path) -> list[Path]:
    """Write a new site into `folder` (created if needed); never overwrites a file."""
    files = {
        folder / "site.toml": SITE_TOML,
        folder / "about.md": ABOUT_MD,
        folder / "data" / "sample.jsonl": "".join(
            json.dumps(p, ensure_ascii=False, sort_keys=True) + "\n" for p in SAMPLE_PAPERS
        ),
    }
    for path in files:
        if path.exists():
            raise FileExistsError(None, "exists", str(path))
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
