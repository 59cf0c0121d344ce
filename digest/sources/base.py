"""What a format reader is: the contract between the loader and every reader plugin."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from digest.model import Paper, Problem


@dataclass(frozen=True, slots=True)
class Source:
    """One configured input: a file (or a fetched URL cached to a file) and its settings.

    `name` labels sightings and problems; `year` and `date` tell readers of listings whose
    dates omit the year which year the page was from (None: infer it).
    """

    name: str
    path: Path
    format: str | None = None
    year: int | None = None
    date: dt.date | None = None
    url: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    shown_path: str | None = None

    @property
    def label(self) -> str:
        """How problems name this source: its path as written in site.toml (or given)."""
        return self.shown_path or str(self.path)


@runtime_checkable
class Reader(Protocol):
    """A format reader, offered to the core by the ``digest_readers`` hook.

    `name` is the format's name in site.toml (``format = "hf-daily"``). `sniff` looks at the
    first lines of a file (at most 64 KiB, already decoded) and returns a confidence from
    0 (not this format) to 100 (certainly this format). `read` turns the decoded lines
    (line endings removed, numbered from 1 in order) into papers and problems: it never
    raises on bad content and never prints; every non-blank entry it skips is a Problem.
    """

    name: str
    description: str

    def sniff(self, head: str, path: Path) -> int: ...

    def read(self, lines: Iterable[str], source: Source) -> Iterator[Paper | Problem]: ...
