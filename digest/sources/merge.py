"""Merge sightings of the same paper into one record (placeholder: identity by key only)."""

from __future__ import annotations

from collections.abc import Iterable

from digest.model import Paper


def merge_papers(papers: Iterable[Paper]) -> list[Paper]:
    """One paper per identity key, every sighting kept."""
    merged: dict[str, Paper] = {}
    for paper in papers:
        merged.setdefault(paper.key, paper)
    return list(merged.values())
