"""Readers for structured formats (placeholder until the readers land)."""

from digest.sources.base import Reader

READERS: list[Reader] = []
