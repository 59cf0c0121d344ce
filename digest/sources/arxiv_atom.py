"""Reader for arXiv API results (export.arxiv.org/api/query): Atom 1.0, 2016 and current.

The two generations differ in namespace placement, quoting and wrapping but not in
element names, so entries are read by name only. Entries are ranked (search order), so
each sighting's position is its 1-based order in the file. The rss.arxiv.org Atom listing
(ids ``oai:arXiv.org:…``, authors in ``dc:creator``) is read too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from xml.etree.ElementTree import Element

from digest.model import Paper, Problem
from digest.sources.base import Source
from digest.sources.fields import (
    Entry,
    date_field,
    finish,
    is_arxiv_category,
    listing_abstract,
    parse_arxiv_id,
    split_names,
    squash,
)
from digest.sources.xmlutil import XmlElement, child_text, iter_elements, sniff_root, text_of

ATOM_NS = "http://www.w3.org/2005/Atom"
ARXIV_NS = "http://arxiv.org/schemas/atom"
ATOM = "{" + ATOM_NS + "}"
ARXIV = "{" + ARXIV_NS + "}"
DC = "{http://purl.org/dc/elements/1.1/}"


class ArxivAtomReader:
    """arXiv API Atom feeds: one paper per ``entry``, API error entries as Problems."""

    name = "arxiv-atom"
    description = "arXiv API search results (Atom 1.0, legacy and current output)"

    def sniff(self, head: str, path: Path) -> int:
        """95 for an Atom feed that mentions arXiv ids or namespaces, 20 for other Atom."""
        root = sniff_root(head)
        if root is None or root.local != "feed" or root.namespace != ATOM_NS:
            return 0
        markers = ("arxiv.org/abs/", "oai:arXiv.org:", ARXIV_NS, "arxiv.org/api")
        return 95 if any(marker in head for marker in markers) else 20

    def read(self, lines: Iterable[str], source: Source) -> Iterator[Paper | Problem]:
        """Papers of each entry, in order; a truncated feed keeps the entries before the cut."""
        position = 0
        for found in iter_elements(lines, source.label, [ATOM + "entry"]):
            if isinstance(found, Problem):
                yield found
                continue
            position += 1
            yield from _read_entry(found, position, source)


def _read_entry(found: XmlElement, position: int, source: Source) -> Iterator[Paper | Problem]:
    element = found.element
    raw_id = child_text(element, ATOM + "id")
    if "/api/errors" in raw_id:
        # The API reports a bad query as a feed with one entry whose summary is the message.
        message = squash(child_text(element, ATOM + "summary")) or "unknown error"
        yield Problem(
            source.label, found.line, f"arXiv API error: {message}", "feed-error", "error"
        )
        return
    entry = Entry(line=found.line, position=position)
    entry.title = child_text(element, ATOM + "title")
    entry.abstract = listing_abstract(child_text(element, ATOM + "summary"))
    entry.authors = _authors(element)
    entry.arxiv = parse_arxiv_id(raw_id)
    entry.date = date_field(entry, source, child_text(element, ATOM + "published"), "published")
    entry.categories = _categories(element)
    _add_links(element, entry)
    yield from finish(entry, source)


def _authors(element: Element) -> list[str]:
    names = [text_of(author.find(ATOM + "name")) for author in element.findall(ATOM + "author")]
    return names or split_names(child_text(element, DC + "creator"))


def _categories(element: Element) -> list[str]:
    primary = element.find(ARXIV + "primary_category")
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [category.get("term", "") for category in element.findall(ATOM + "category")]
    return [term.strip() for term in terms if is_arxiv_category(term.strip())]


def _add_links(element: Element, entry: Entry) -> None:
    entry.add_doi(child_text(element, ARXIV + "doi"))
    for link in element.findall(ATOM + "link"):
        href, rel, title = link.get("href", ""), link.get("rel", "alternate"), link.get("title")
        if title == "doi":
            if not entry.add_doi(href):
                entry.add_link("doi", href)
        elif title == "pdf" or link.get("type") == "application/pdf":
            entry.add_link("pdf", href)
        elif rel == "alternate":
            entry.add_link("abs", href)


READER = ArxivAtomReader()
