"""Safe, streaming XML for the readers: entries with their line numbers, errors as Problems.

`iter_elements` feeds the decoded lines to defusedxml's parser (no entity expansion, no
external entities) one at a time and hands back each wanted element as soon as it closes,
with the line its start tag is on. A document that breaks off still yields every element
that closed before the break, then one Problem with the parser's line. `sniff_root` reads
the root element of a document head without parsing the whole head.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from digest.model import Problem
from digest.sources.fields import fix_mojibake

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_PROLOG = re.compile(r"(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)*", re.S)
_START_TAG = re.compile(r"<([A-Za-z_][\w.\-]*(?::[\w.\-]+)?)((?:\s+[^>]*?)?)/?>", re.S)
_XMLNS = re.compile(r"""xmlns(?::([\w.\-]+))?\s*=\s*["']([^"']*)["']""")


@dataclass(frozen=True, slots=True)
class XmlElement:
    """A closed element, the line its start tag is on, and its parent (None for the root)."""

    element: Element
    line: int
    parent: Element | None


@dataclass(frozen=True, slots=True)
class Root:
    """The root element of a document head: local name and declared namespaces."""

    local: str
    namespace: str
    namespaces: dict[str, str]


class _Builder:
    """An ElementTree parser target that records start lines and queues wanted elements.

    Wanted elements are detached from their parent once handed out, so memory stays flat
    however long the document is.
    """

    def __init__(self, wanted: frozenset[str]) -> None:
        self.wanted = wanted
        self.closed: list[XmlElement] = []
        self.current_line: Callable[[], int] = lambda: 0
        self._open: list[tuple[Element, int]] = []
        self._text: list[str] = []
        self._last: Element | None = None
        self._tail = False

    def start(self, tag: str, attrib: dict[str, str]) -> Element:
        """Open an element, remembering the line its start tag is on."""
        self._flush()
        element = Element(tag, attrib)
        if self._open:
            self._open[-1][0].append(element)
        self._open.append((element, self.current_line()))
        self._last, self._tail = element, False
        return element

    def end(self, tag: str) -> Element:
        """Close the innermost element; queue it (and detach it) if it is wanted."""
        self._flush()
        element, line = self._open.pop()
        self._last, self._tail = element, True
        if element.tag in self.wanted:
            parent = self._open[-1][0] if self._open else None
            self.closed.append(XmlElement(element, line, parent))
            if parent is not None:
                parent.remove(element)
        return element

    def data(self, text: str) -> None:
        """Collect character data for the current element's text or tail."""
        self._text.append(text)

    def close(self) -> None:
        """End of document: attach the last character data."""
        self._flush()

    def drain(self) -> Iterator[XmlElement]:
        """Hand out the elements closed since the last call."""
        closed, self.closed = self.closed, []
        yield from closed

    def _flush(self) -> None:
        if not self._text or self._last is None:
            self._text = []
            return
        text = "".join(self._text)
        self._text = []
        if self._tail:
            self._last.tail = (self._last.tail or "") + text
        else:
            self._last.text = (self._last.text or "") + text


def iter_elements(
    lines: Iterable[str], label: str, wanted: Iterable[str]
) -> Iterator[XmlElement | Problem]:
    """Each element whose tag (``{namespace}local``) is in `wanted`, as soon as it closes.

    Ends with a Problem (kind ``bad-xml`` or ``unsafe-xml``) if the document is malformed,
    truncated or declares entities; elements closed before that point are still yielded.
    """
    builder = _Builder(frozenset(wanted))
    parser = DefusedXMLParser(target=builder)
    builder.current_line = lambda: parser.parser.CurrentLineNumber
    in_prolog = True
    try:
        for number, text in enumerate(lines, start=1):
            if in_prolog and text.strip():
                # The declaration is dropped: the text is decoded already, and expat rejects
                # a declaration that is not at the very start (after a blank line, say).
                text, in_prolog = _XML_DECL.sub(_spaces, text), False
            parser.feed(text if number == 1 else "\n" + text)
            yield from builder.drain()
        parser.close()
    except ParseError as err:
        yield from builder.drain()
        line = err.position[0] if err.position else 0
        yield Problem(label, line, f"malformed XML: {_reason(err)}", "bad-xml", "error")
        return
    except DefusedXmlException as err:
        yield from builder.drain()
        line = parser.parser.CurrentLineNumber
        yield Problem(
            label, line, f"unsafe XML refused ({type(err).__name__})", "unsafe-xml", "error"
        )
        return
    yield from builder.drain()


def _spaces(match: re.Match[str]) -> str:
    return " " * len(match.group())


def _reason(err: ParseError) -> str:
    return re.sub(r":\s*line \d+, column \d+$", "", str(err))


def local(tag: str) -> str:
    """The local part of a ``{namespace}local`` tag."""
    return tag.rsplit("}", 1)[-1]


def text_of(element: Element | None) -> str:
    """All text inside `element` (mojibake repaired), stripped; "" for None."""
    if element is None:
        return ""
    return fix_mojibake("".join(element.itertext())).strip()


def child_text(element: Element, tag: str) -> str:
    """`text_of` the first child with `tag` (``{namespace}local``); "" when absent."""
    return text_of(element.find(tag))


def children_text(element: Element, tag: str) -> list[str]:
    """`text_of` every child with `tag`, empty ones left out."""
    return [t for t in (text_of(child) for child in element.findall(tag)) if t]


def sniff_root(head: str) -> Root | None:
    """The root element of an XML document head, or None if `head` is not XML."""
    text = head.lstrip("\ufeff")
    prolog = _PROLOG.match(text)
    match = _START_TAG.match(text, prolog.end() if prolog else 0)
    if not match:
        return None
    namespaces = {prefix or "": uri for prefix, uri in _XMLNS.findall(match.group(2))}
    prefix, _, name = match.group(1).rpartition(":")
    return Root(name, namespaces.get(prefix, ""), namespaces)
