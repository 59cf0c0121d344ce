"""The state of one build, handed to plugins and templates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from digest.config import Config
from digest.model import Paper, Problem
from digest.pages import Page


@dataclass(slots=True)
class SourceReport:
    """What one source gave: its name, format, entries read and problems."""

    name: str
    format: str | None
    path: str
    entries: int = 0
    problems: int = 0
    error: str | None = None


@dataclass
class Site:
    """Everything a build knows: config, build date, the merged papers, problems, pages.

    `papers` is sorted newest first (then by key) before plugins run. `data` is shared
    site-wide state that plugins publish for templates and each other (``data["topics"]``).
    With a build history, `archived` holds papers earlier builds saw that today's sources
    no longer list (they keep their pages) and `archive_days` maps each build date to the
    papers first seen that day; without one, `archive_days` is None and the archive groups
    papers by their own date.
    """

    config: Config
    date: dt.date
    papers: list[Paper] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sources: list[SourceReport] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    slugs: dict[str, str] = field(default_factory=dict)
    archived: list[Paper] = field(default_factory=list)
    archive_days: dict[dt.date, list[Paper]] | None = None

    def paper_url(self, paper: Paper) -> str:
        """The URL path (below the site root) of a paper's own page."""
        return f"papers/{self.slugs.get(paper.key, paper.slug)}/"
