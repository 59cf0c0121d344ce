"""Titles and abstracts → safe HTML: escaped text, ``$…$`` LaTeX as MathML, ``*emphasis*``,
and optional marked spans (e.g. keyword highlights) that never land inside math or tags.

Source text is untrusted: every character of it reaches the output escaped, or inside
MathML that latex2mathml generated from it (which escapes its own text).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Pandoc's rule for inline math: the opening $ is not followed by a space, the closing $
# is not preceded by one nor followed by a digit; so "costs $8.1 and $5" stays text.
_MATH = re.compile(r"(?<![\\$])\$(?=[^\s$])((?:\\.|[^$\\\n]){1,400}?)(?<=[^\s\\])\$(?!\d)")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]{1,300}?)(?<=[^\s*])\*(?![\w*])")


@dataclass(frozen=True, slots=True)
class Mark:
    """A span of the source text to wrap in ``<mark>``; `label` goes to ``data-keyword``."""

    start: int
    end: int
    label: str


@functools.lru_cache(maxsize=4096)
def latex_to_mathml(latex: str) -> str | None:
    """MathML for an inline LaTeX fragment, or None when it cannot be converted."""
    try:
        from latex2mathml.converter import convert

        return str(convert(latex))
    except Exception:
        # latex2mathml raises many kinds of errors on input it does not know; the caller
        # falls back to showing the source text.
        return None


def _segments(text: str, math: bool) -> list[tuple[str, int, int, str]]:
    """Split text into ("text", start, end, ""), ("math", s, e, mathml), ("em"/"/em", …)."""
    pieces: list[tuple[str, int, int, str]] = []
    pos = 0
    spans: list[tuple[int, int, str]] = []
    if math:
        for m in _MATH.finditer(text):
            mathml = latex_to_mathml(m.group(1))
            if mathml is not None:
                spans.append((m.start(), m.end(), mathml))
    for start, end, mathml in spans:
        pieces.extend(_emphasis_pieces(text, pos, start))
        pieces.append(("math", start, end, mathml))
        pos = end
    pieces.extend(_emphasis_pieces(text, pos, len(text)))
    return pieces


def _emphasis_pieces(text: str, start: int, end: int) -> list[tuple[str, int, int, str]]:
    pieces: list[tuple[str, int, int, str]] = []
    pos = start
    for m in _EMPHASIS.finditer(text, start, end):
        pieces.append(("text", pos, m.start(), ""))
        pieces.append(("em", m.start(), m.start() + 1, ""))
        pieces.append(("text", m.start() + 1, m.end() - 1, ""))
        pieces.append(("/em", m.end() - 1, m.end(), ""))
        pos = m.end()
    pieces.append(("text", pos, end, ""))
    return pieces


def _marked(text: str, start: int, end: int, marks: Sequence[Mark]) -> str:
    out: list[str] = []
    pos = start
    for mark in marks:
        a, b = max(mark.start, pos), min(mark.end, end)
        if a >= b:
            continue
        out.append(str(escape(text[pos:a])))
        out.append(f'<mark data-keyword="{escape(mark.label)}">{escape(text[a:b])}</mark>')
        pos = b
    out.append(str(escape(text[pos:end])))
    return "".join(out)


def render_rich_text(text: str, marks: Sequence[Mark] = (), math: bool = True) -> Markup:
    """Render `text` as HTML: escaped, with math, emphasis and `marks` (non-overlapping)."""
    ordered = sorted(marks, key=lambda m: (m.start, m.end))
    out: list[str] = []
    for kind, start, end, mathml in _segments(text, math):
        if kind == "text":
            if start < end:
                out.append(_marked(text, start, end, ordered))
        elif kind == "math":
            out.append(f'<span class="math" title="{escape(text[start:end])}">{mathml}</span>')
        else:
            out.append(f"<{kind}>")
    return Markup("".join(out))


def plain_text(text: str) -> str:
    """The text with emphasis markers removed (for meta descriptions, feeds, search)."""
    return _EMPHASIS.sub(r"\1", text)
