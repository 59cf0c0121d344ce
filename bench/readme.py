"""Record a benchmark's figures in bench/README.md, between that benchmark's markers."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def write_section(name: str, heading: str, report: str, intro: str = "") -> None:
    """Replace the text between ``<!-- name:start -->`` and ``<!-- name:end -->`` with
    `report`; the first time, append a section titled `heading` (then `intro`) holding it."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{report.rstrip()}\n{end}"
    text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    if start in text and end in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        body = f"{intro.strip()}\n\n" if intro.strip() else ""
        text = f"{text.rstrip()}\n\n## {heading}\n\n{body}{block}\n"
    README.write_text(text, encoding="utf-8")
