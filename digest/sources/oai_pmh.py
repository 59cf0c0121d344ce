"""Reader for arXiv's OAI-PMH harvest (export.arxiv.org/oai2, ``ListRecords``).

Made for ``metadataPrefix=arXiv``; the ``arXivRaw`` and ``oai_dc`` payloads are read too.
A harvest is not ranked, so sightings have no position; the sighting date is the header
``datestamp``. ``arXiv`` records carry no version number, so ``arxiv_version`` stays None
for them. Deleted records and OAI errors other than ``noRecordsMatch`` are Problems.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from xml.etree.ElementTree import Element

from digest.model import Paper, Problem
from digest.sources.base import Source
from digest.sources.fields import (
    Entry,
    date_field,
    find_arxiv_id,
    finish,
    parse_arxiv_id,
    split_names,
    squash,
)
from digest.sources.xmlutil import (
    XmlElement,
    child_text,
    children_text,
    iter_elements,
    sniff_root,
    text_of,
)

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
ARXIV_NS = "http://arxiv.org/OAI/arXiv/"
ARXIV_RAW_NS = "http://arxiv.org/OAI/arXivRaw/"
OAI = "{" + OAI_NS + "}"
ARXIV = "{" + ARXIV_NS + "}"
RAW = "{" + ARXIV_RAW_NS + "}"
OAI_DC = "{http://www.openarchives.org/OAI/2.0/oai_dc/}"
DC = "{http://purl.org/dc/elements/1.1/}"

PayloadReader = Callable[[Element, Entry, Source], None]


class OaiPmhReader:
    """OAI-PMH responses: one paper per ``record``."""

    name = "oai-pmh"
    description = "arXiv OAI-PMH ListRecords (metadataPrefix arXiv; arXivRaw, oai_dc too)"

    def sniff(self, head: str, path: Path) -> int:
        """95 for arXiv metadata, 90 for arXivRaw, 40 for any other OAI-PMH response."""
        root = sniff_root(head)
        if root is None or root.local != "OAI-PMH" or root.namespace != OAI_NS:
            return 0
        if ARXIV_NS in head:
            return 95
        return 90 if ARXIV_RAW_NS in head else 40

    def read(self, lines: Iterable[str], source: Source) -> Iterator[Paper | Problem]:
        """Papers of each record, in order; a truncated response keeps the records before it."""
        for found in iter_elements(lines, source.label, [OAI + "record", OAI + "error"]):
            if isinstance(found, Problem):
                yield found
            elif found.element.tag == OAI + "error":
                yield from _oai_error(found, source)
            else:
                yield from _read_record(found, source)


def _oai_error(found: XmlElement, source: Source) -> Iterator[Problem]:
    code = found.element.get("code", "")
    if code != "noRecordsMatch":  # an empty harvest is an answer, not a problem
        message = squash(text_of(found.element)) or code
        yield Problem(
            source.label, found.line, f"OAI-PMH error {code}: {message}", "feed-error", "error"
        )


def _read_record(found: XmlElement, source: Source) -> Iterator[Paper | Problem]:
    header = found.element.find(OAI + "header")
    if header is not None and header.get("status") == "deleted":
        identifier = child_text(header, OAI + "identifier")
        yield Problem(
            source.label,
            found.line,
            f"record {identifier} was deleted at the source",
            "deleted-record",
        )
        return
    metadata = found.element.find(OAI + "metadata")
    payload = metadata[0] if metadata is not None and len(metadata) else None
    read_payload = _PAYLOADS.get(payload.tag) if payload is not None else None
    if payload is None or read_payload is None:
        what = payload.tag if payload is not None else "no metadata"
        yield Problem(
            source.label, found.line, f"unsupported record payload: {what}", "unsupported-record"
        )
        return
    entry = Entry(line=found.line)
    if header is not None:
        datestamp = child_text(header, OAI + "datestamp")
        entry.listed = date_field(entry, source, datestamp, "datestamp")
    read_payload(payload, entry, source)
    yield from finish(entry, source)


def _read_arxiv(payload: Element, entry: Entry, source: Source) -> None:
    entry.arxiv = parse_arxiv_id(child_text(payload, ARXIV + "id"))
    entry.title = child_text(payload, ARXIV + "title")
    entry.abstract = child_text(payload, ARXIV + "abstract")
    entry.authors = [_arxiv_author(a) for a in payload.iterfind(f"{ARXIV}authors/{ARXIV}author")]
    entry.categories = child_text(payload, ARXIV + "categories").split()
    entry.date = date_field(entry, source, child_text(payload, ARXIV + "created"), "created")
    entry.add_doi(child_text(payload, ARXIV + "doi"))


def _arxiv_author(author: Element) -> str:
    parts = (child_text(author, ARXIV + name) for name in ("forenames", "keyname", "suffix"))
    return " ".join(part for part in parts if part)


def _read_arxiv_raw(payload: Element, entry: Entry, source: Source) -> None:
    found = parse_arxiv_id(child_text(payload, RAW + "id"))
    versions = payload.findall(RAW + "version")
    numbers = [int(v.get("version", "v0")[1:] or 0) for v in versions if _is_version(v)]
    if found:
        entry.arxiv = (found[0], max(numbers) if numbers else found[1])
    entry.title = child_text(payload, RAW + "title")
    entry.abstract = child_text(payload, RAW + "abstract")
    entry.authors = split_names(child_text(payload, RAW + "authors"))
    entry.categories = child_text(payload, RAW + "categories").split()
    if versions:
        entry.date = date_field(entry, source, child_text(versions[0], RAW + "date"), "date")
    entry.add_doi(child_text(payload, RAW + "doi"))


def _is_version(version: Element) -> bool:
    label = version.get("version", "")
    return label[:1] == "v" and label[1:].isdigit()


def _read_oai_dc(payload: Element, entry: Entry, source: Source) -> None:
    identifiers = children_text(payload, DC + "identifier")
    entry.arxiv = find_arxiv_id(*identifiers)
    entry.title = child_text(payload, DC + "title")
    descriptions = children_text(payload, DC + "description")
    entry.abstract = descriptions[0] if descriptions else ""
    entry.authors = [_first_last(name) for name in children_text(payload, DC + "creator")]
    dates = children_text(payload, DC + "date")
    entry.date = date_field(entry, source, dates[0] if dates else "", "date")
    for identifier in identifiers:
        entry.add_doi(identifier)


def _first_last(name: str) -> str:
    last, comma, first = name.partition(",")
    return f"{first.strip()} {last.strip()}" if comma and first.strip() else name


_PAYLOADS: dict[str, PayloadReader] = {
    ARXIV + "arXiv": _read_arxiv,
    RAW + "arXivRaw": _read_arxiv_raw,
    OAI_DC + "dc": _read_oai_dc,
}

READER = OaiPmhReader()
