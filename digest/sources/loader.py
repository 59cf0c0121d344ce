"""Load sources: decode the bytes, pick the reader (named or sniffed), collect papers and
problems. Files are streamed line by line so memory does not grow with file size."""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from digest.model import Paper, Problem
from digest.sources.base import Reader, Source

SNIFF_BYTES = 64 * 1024

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass
class LoadResult:
    """What loading one source gave."""

    source: Source
    format: str | None
    papers: list[Paper] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _encoding_of(head: bytes) -> tuple[str, int]:
    """The encoding a file announces by its byte-order mark, and the mark's length."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    return "utf-8", 0


class DecodedLines:
    """The lines of a binary stream, decoded, line endings removed, problems recorded.

    Invalid bytes are replaced (U+FFFD) and reported once per line; NUL bytes are dropped
    and reported. Iterating yields each line exactly once, in order.
    """

    def __init__(self, stream: BinaryIO, label: str, encoding: str = "utf-8", skip: int = 0):
        self.stream = stream
        self.label = label
        self.encoding = encoding
        self.skip = skip
        self.problems: list[Problem] = []

    def __iter__(self) -> Iterator[str]:
        self.stream.read(self.skip)
        if self.encoding == "utf-8":
            # Split on bytes first so a bad byte is reported on the line it is on.
            for number, raw in enumerate(self.stream, start=1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    text = raw.decode("utf-8", errors="replace")
                    self.problems.append(
                        Problem(
                            self.label, number, "bytes that are not UTF-8 were replaced", "not-utf8"
                        )
                    )
                yield self._clean(text.removesuffix("\n"), number)
            return
        wrapper = io.TextIOWrapper(self.stream, self.encoding, errors="replace", newline="\n")
        for number, text in enumerate(wrapper, start=1):
            yield self._clean(text.removesuffix("\n"), number)
        wrapper.detach()

    def _clean(self, raw: str, number: int) -> str:
        line = raw.removesuffix("\r")
        if "\x00" in line:
            self.problems.append(Problem(self.label, number, "NUL bytes removed", "nul-bytes"))
            line = line.replace("\x00", "")
        return line


def head_text(path: Path) -> tuple[str, str, int]:
    """The first bytes of a file, decoded for sniffing; plus its encoding and BOM length."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    encoding, skip = _encoding_of(head)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head[skip:])
    return text, encoding, skip


def choose_reader(
    readers: dict[str, Reader], source: Source, head: str
) -> tuple[Reader | None, Problem | None]:
    """The reader a source names, else the one most confident that it can read `head`."""
    if source.format:
        reader = readers.get(source.format)
        if reader is None:
            known = ", ".join(sorted(readers))
            return None, Problem(
                source.label,
                0,
                f"unknown format {source.format!r} (known: {known})",
                "unknown-format",
                "error",
                "format",
            )
        return reader, None
    if not head.strip():
        return None, Problem(source.label, 0, "the file is empty", "empty-file")
    scored = sorted(
        ((_safe_sniff(r, head, source.path), name) for name, r in readers.items()),
        key=lambda pair: (-pair[0], pair[1]),
    )
    if not scored or scored[0][0] <= 0:
        return None, Problem(
            source.label,
            1,
            "no reader recognises this file; name its format in site.toml "
            f"(format = one of: {', '.join(sorted(readers))})",
            "unknown-format",
            "error",
            "format",
        )
    return readers[scored[0][1]], None


def _safe_sniff(reader: Reader, head: str, path: Path) -> int:
    try:
        return int(reader.sniff(head, path))
    except Exception:
        # A reader's sniff bug must not stop other formats from being recognised.
        return 0


def load_source(readers: dict[str, Reader], source: Source) -> LoadResult:
    """Read one source into papers and problems; never raises for bad content."""
    result = LoadResult(source, source.format)
    path = source.path
    try:
        if path.is_dir():
            result.problems.append(
                Problem(source.label, 0, "is a folder, not a file", "unreadable", "error")
            )
            return result
        head, encoding, skip = head_text(path)
    except FileNotFoundError:
        result.problems.append(
            Problem(source.label, 0, "no such file", "missing-file", "error", "path")
        )
        return result
    except OSError as exc:
        result.problems.append(
            Problem(source.label, 0, f"cannot read: {exc.strerror}", "unreadable", "error")
        )
        return result
    if "\x00" in head and encoding == "utf-8" and head.count("\x00") > len(head) // 8:
        result.problems.append(
            Problem(source.label, 0, "binary file, not a paper listing", "binary-file", "error")
        )
        return result
    # The lines reach the reader without NUL bytes (see DecodedLines): sniff them so too.
    reader, problem = choose_reader(readers, source, head.replace("\x00", ""))
    if problem:
        result.problems.append(problem)
    if reader is None:
        return result
    result.format = reader.name
    with path.open("rb") as stream:
        lines = DecodedLines(stream, source.label, encoding, skip)
        collect(reader.read(lines, source), result, reader)
        result.problems.extend(lines.problems)
    return result


def collect(items: Iterable[Paper | Problem], result: LoadResult, reader: Reader) -> None:
    """Sort a reader's output into papers and problems, turning a reader crash into a problem."""
    try:
        for item in items:
            if isinstance(item, Paper):
                result.papers.append(item)
            else:
                result.problems.append(item)
    except Exception as exc:  # a reader bug is reported, the rest of the build goes on
        result.problems.append(
            Problem(
                result.source.label,
                0,
                f"the {reader.name} reader failed: {type(exc).__name__}: {exc}",
                "reader-crash",
                "error",
            )
        )


def source_for_path(path: Path, fmt: str | None = None) -> Source:
    """A `Source` for a file named on the command line (format sniffed unless given)."""
    return Source(name=path.stem, path=path, format=fmt, shown_path=str(path))
