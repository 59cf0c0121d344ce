"""Reader for arXiv listing feeds: rss.arxiv.org RSS 2.0 (2024+) and the older RSS 1.0.

RSS 2.0 items carry the versioned id in ``guid`` (``oai:arXiv.org:2604.21952v1``), all
authors in one comma-separated ``dc:creator``, and the abstract in ``description`` after an
``arXiv:… Announce Type: new`` lead. The listing is ordered, so each sighting's position
is its 1-based order; the sighting date is the item's ``pubDate`` (else the channel's).
A paper's own date is the announcement date only for new submissions: a replacement
(``announce_type`` replace / replace-cross) announces an older paper.

The pre-2024 RSS 1.0 feed (``rdf:RDF``) puts id and category in the title
(``Title. (arXiv:2107.03419v1 [hep-ex])``) and HTML in ``description`` / ``dc:creator``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from digest.model import Paper, Problem
from digest.sources.base import Source
from digest.sources.fields import (
    Entry,
    date_field,
    find_arxiv_id,
    finish,
    listing_abstract,
    parse_arxiv_id,
    split_names,
)
from digest.sources.xmlutil import (
    XmlElement,
    child_text,
    children_text,
    iter_elements,
    sniff_root,
)

ARXIV_NS = "http://arxiv.org/schemas/atom"
RSS1_NS = "http://purl.org/rss/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
ARXIV = "{" + ARXIV_NS + "}"
RSS1 = "{" + RSS1_NS + "}"
DC = "{http://purl.org/dc/elements/1.1/}"
_NOT_NEW = ("replace", "replace-cross")
_RSS1_TITLE = re.compile(
    r"^(?P<title>.*?)\.?\s*\(arXiv:(?P<id>\S+)\s*\[(?P<cat>[^\]\s]+)[^\]]*\][^)]*\)\s*$", re.S
)
_TAG = re.compile(r"<[^>]*>")


class ArxivRssReader:
    """arXiv listing RSS: one paper per ``item``, in listing order."""

    name = "arxiv-rss"
    description = "arXiv listing feeds from rss.arxiv.org (RSS 2.0; old RSS 1.0 too)"

    def sniff(self, head: str, path: Path) -> int:
        """95 for arXiv RSS 2.0, 90 for arXiv RSS 1.0, 20 for other RSS."""
        root = sniff_root(head)
        if root is None:
            return 0
        if root.local == "rss":
            return 95 if ARXIV_NS in root.namespaces.values() or _is_arxiv(head) else 20
        if root.local == "RDF" and root.namespace == RDF_NS and RSS1_NS in head:
            return 90 if _is_arxiv(head) else 15
        return 0

    def read(self, lines: Iterable[str], source: Source) -> Iterator[Paper | Problem]:
        """Papers of each item, in order; a truncated feed keeps the items before the cut."""
        position = 0
        for found in iter_elements(lines, source.label, ["item", RSS1 + "item"]):
            if isinstance(found, Problem):
                yield found
                continue
            position += 1
            entry = Entry(line=found.line, position=position)
            if found.element.tag == "item":
                _read_rss2(found, entry, source)
            else:
                _read_rss1(found, entry, source)
            entry.listed = entry.listed or source.date
            yield from finish(entry, source)


def _is_arxiv(head: str) -> bool:
    return "updates on arXiv.org" in head or "oai:arXiv.org:" in head or "arxiv.org/abs/" in head


def _read_rss2(found: XmlElement, entry: Entry, source: Source) -> None:
    item = found.element
    description = child_text(item, "description")
    entry.title = child_text(item, "title")
    entry.abstract = listing_abstract(description)
    entry.authors = split_names(child_text(item, DC + "creator"))
    entry.arxiv = (
        parse_arxiv_id(child_text(item, "guid"))
        or find_arxiv_id(description)
        or parse_arxiv_id(child_text(item, "link"))
    )
    entry.categories = children_text(item, "category")
    entry.add_link("abs", child_text(item, "link"))
    entry.add_doi(child_text(item, ARXIV + "DOI"))
    channel_date = found.parent.findtext("pubDate") if found.parent is not None else None
    raw_date = child_text(item, "pubDate") or channel_date or ""
    entry.listed = date_field(entry, source, raw_date.strip(), "pubDate")
    if child_text(item, ARXIV + "announce_type").lower() not in _NOT_NEW:
        entry.date = entry.listed


def _read_rss1(found: XmlElement, entry: Entry, source: Source) -> None:
    item = found.element
    title = child_text(item, RSS1 + "title")
    match = _RSS1_TITLE.match(title)
    entry.title = match.group("title") if match else title
    entry.arxiv = parse_arxiv_id(match.group("id")) if match else None
    entry.categories = [match.group("cat")] if match else []
    entry.abstract = _html_text(child_text(item, RSS1 + "description"))
    entry.authors = split_names(_html_text(child_text(item, DC + "creator")))
    entry.add_link("abs", child_text(item, RSS1 + "link"))
    channel = found.parent.find(RSS1 + "channel") if found.parent is not None else None
    if channel is not None:
        entry.listed = date_field(entry, source, child_text(channel, DC + "date"), "dc:date")
    if not title.rstrip().endswith("UPDATED)"):
        entry.date = entry.listed


def _html_text(text: str) -> str:
    return html.unescape(_TAG.sub(" ", text))


READER = ArxivRssReader()
