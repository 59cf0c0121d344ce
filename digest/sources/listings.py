"""Readers for scraped listing pages (placeholder until the readers land)."""

from digest.sources.base import Reader

READERS: list[Reader] = []
