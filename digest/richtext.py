"""Titles and abstracts → safe HTML: escaped text, ``$…$`` LaTeX as MathML, ``*emphasis*``,
and optional marked spans (e.g. keyword highlights) that never land inside math or tags.

Source text is untrusted: every character of it reaches the output escaped, or inside
MathML rebuilt here from latex2mathml's element tree (allowed elements and attributes only,
text escaped again), or as the href of a link whose scheme is http or https.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from markupsafe import Markup, escape

# Pandoc's rule for inline math: the opening $ is not followed by a space, the closing $
# is not preceded by one nor followed by a digit; so "costs $8.1 and $5" stays text. One
# more rule for prices: a $ followed by a number and then a space or the end opens no math
# (otherwise "costs $8.1. … $x$" would become one long formula).
MATH_SPAN = re.compile(
    r"(?<![\\$])\$(?=[^\s$])(?!\d[\d.,]*(?:\s|$))"
    r"((?:\\.|[^$\\\n]){1,400}?)(?<=[^\s\\])\$(?!\d)"
)
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]{1,300}?)(?<=[^\s*])\*(?![\w*])")
# latex2mathml puts character references (``&#x003BC;``) into element text and then
# un-escapes its whole output, so text from the source (``\text{<img>}``) would come out as
# markup. We rebuild the output from its element tree instead: only these elements and
# attributes, text decoded from character references and escaped again.
_CHAR_REF = re.compile(r"&#x([0-9A-Fa-f]{1,6});|&#([0-9]{1,7});")
# fmt: off
_MATHML_TAGS = frozenset({
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup",
    "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd",
    "mstyle", "mpadded", "mphantom", "menclose", "merror", "semantics",
})
_MATHML_ATTRIBUTES = frozenset({
    "display", "mathvariant", "accent", "accentunder", "stretchy", "fence", "separator",
    "form", "lspace", "rspace", "largeop", "movablelimits", "symmetric", "minsize", "maxsize",
    "width", "height", "depth", "voffset", "scriptlevel", "displaystyle", "linethickness",
    "notation", "columnalign", "rowalign", "columnlines", "rowlines", "columnspacing",
    "rowspacing", "frame", "framespacing",
})
# fmt: on
_SAFE_VALUE = re.compile(r"^[\w .%+\-#]*$")
# ``\bhttps?://…`` with the word boundary checked after the "http" (a look-behind), so the
# search skips from one "http" to the next instead of trying every position.
_URL = re.compile(r"http(?<![A-Za-z0-9_]http)s?://[^\s<>\"'`{}|\\^\[\]]+", re.ASCII)
_TRAILING = frozenset(".,;:!?'\"*")
_CLOSERS = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True, slots=True)
class Mark:
    """A span of the source text to wrap in ``<mark>``; `label` goes to ``data-keyword``."""

    start: int
    end: int
    label: str


@functools.lru_cache(maxsize=4096)
def latex_to_mathml(latex: str) -> str | None:
    """Safe MathML for an inline LaTeX fragment, or None when it cannot be converted."""
    try:
        from latex2mathml.converter import convert_to_element

        element = convert_to_element(latex)
    except Exception:
        # latex2mathml raises many kinds of errors on input it does not know; the caller
        # falls back to showing the source text.
        return None
    out: list[str] = []
    if not _serialize_mathml(element, out):
        return None
    return "".join(out)


def _decode_refs(text: str) -> str:
    def char(m: re.Match[str]) -> str:
        code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else ""

    return _CHAR_REF.sub(char, text)


def _serialize_mathml(element: ET.Element, out: list[str]) -> bool:
    """Append `element` as MathML text to `out`; False when it holds an unknown element."""
    tag = element.tag
    if tag not in _MATHML_TAGS:
        return False
    attrs = "".join(
        f' {name}="{escape(value)}"'
        for name, value in sorted(element.attrib.items())
        if name in _MATHML_ATTRIBUTES and _SAFE_VALUE.match(value)
    )
    if tag == "math":
        attrs = ' xmlns="http://www.w3.org/1998/Math/MathML"' + attrs
    out.append(f"<{tag}{attrs}>")
    if element.text:
        out.append(str(escape(_decode_refs(element.text))))
    for child in element:
        if not _serialize_mathml(child, out):
            return False
        if child.tail:
            out.append(str(escape(_decode_refs(child.tail))))
    out.append(f"</{tag}>")
    return True


def _segments(text: str, math: bool, links: bool) -> list[tuple[str, int, int, str]]:
    """Split text into ("text", start, end, ""), ("math", s, e, mathml), ("link", s, e, url)
    and ("em"/"/em", …) pieces, in order."""
    spans: list[tuple[int, int, str, str]] = []
    # Most titles and abstracts have no "$", no "://" and no "*": skip the searches then.
    if math and "$" in text:
        for m in MATH_SPAN.finditer(text):
            mathml = latex_to_mathml(m.group(1))
            if mathml is not None:
                spans.append((m.start(), m.end(), "math", mathml))
    if links:
        taken = list(spans)
        for start, end, url in find_urls(text):
            if not any(start < e and s < end for s, e, _, _ in taken):
                spans.append((start, end, "link", url))
        spans.sort()
    pieces: list[tuple[str, int, int, str]] = []
    pos = 0
    for start, end, kind, payload in spans:
        pieces.extend(_emphasis_pieces(text, pos, start))
        pieces.append((kind, start, end, payload))
        pos = end
    pieces.extend(_emphasis_pieces(text, pos, len(text)))
    return pieces


def find_urls(text: str) -> list[tuple[int, int, str]]:
    """Every http(s) URL in `text` as (start, end, url), without trailing punctuation
    (and without a closing bracket that has no opening one in the URL)."""
    found: list[tuple[int, int, str]] = []
    if "://" not in text:
        return found
    for m in _URL.finditer(text):
        url = m.group(0)
        while url:
            last = url[-1]
            if last in _TRAILING or (
                last in _CLOSERS and url.count(_CLOSERS[last]) < url.count(last)
            ):
                url = url[:-1]
            else:
                break
        if len(url) > len("https://x"):
            found.append((m.start(), m.start() + len(url), url))
    return found


def _emphasis_pieces(text: str, start: int, end: int) -> list[tuple[str, int, int, str]]:
    if text.find("*", start, end) < 0:
        return [("text", start, end, "")]
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


def render_rich_text(
    text: str, marks: Sequence[Mark] = (), math: bool = True, links: bool = False
) -> Markup:
    """Render `text` as HTML: escaped, with math, emphasis, `marks` (non-overlapping) and,
    with `links`, its http(s) URLs as links (``rel="nofollow noopener"``)."""
    ordered = sorted(marks, key=lambda m: (m.start, m.end))
    out: list[str] = []
    for kind, start, end, payload in _segments(text, math, links):
        if kind == "text":
            if start < end:
                out.append(_marked(text, start, end, ordered))
        elif kind == "math":
            out.append(f'<span class="math" title="{escape(text[start:end])}">{payload}</span>')
        elif kind == "link":
            label = _marked(text, start, end, ordered)
            out.append(f'<a href="{escape(payload)}" rel="nofollow noopener">{label}</a>')
        else:
            out.append(f"<{kind}>")
    return Markup("".join(out))


def plain_text(text: str) -> str:
    """The text with emphasis markers removed (for meta descriptions, feeds, search)."""
    if "*" not in text:
        return text
    return _EMPHASIS.sub(r"\1", text)
