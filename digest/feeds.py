"""Site-wide machine-readable files: the Atom feed, sitemap.xml, robots.txt, the whole
digest's BibTeX (papers.bib) and the reading list's data.

All links here are absolute, built from ``base_url``. Text goes through an XML
serializer, so no input can break out of its element.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from digest.bibtex_export import bibtex_file
from digest.corepages import READING_LIST_DATA, reading_list_data
from digest.model import Paper, newest_first
from digest.publish import OutputDir
from digest.richtext import plain_text
from digest.site import Site

ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
FEED_SIZE = 50
# XML 1.0 forbids most control characters, even escaped; a scraped abstract may hold some.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _stamp(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _xml_text(v) for k, v in attrib.items()})
    if text is not None:
        element.text = _xml_text(text)
    return element


def atom_feed(
    site: Site, papers: Sequence[Paper], title: str, feed_url: str, page_url: str
) -> bytes:
    """An Atom 1.0 feed of `papers` (the first FEED_SIZE, in the given order).

    `feed_url` (where the feed is written) and `page_url` (the HTML page it mirrors) are
    below the site root, e.g. ``"topics/vision/feed.xml"`` and ``"topics/vision/"``. The
    topics plugin calls this for one feed per topic.
    """
    base = site.config.base_url
    feed = ET.Element("feed", {"xmlns": ATOM})
    _sub(feed, "title", plain_text(title))
    if site.config.description:
        _sub(feed, "subtitle", plain_text(site.config.description))
    _sub(feed, "id", base + feed_url)
    _sub(feed, "link", rel="self", href=base + feed_url, type="application/atom+xml")
    _sub(feed, "link", rel="alternate", href=base + page_url, type="text/html")
    shown = list(papers[:FEED_SIZE])
    newest = max((p.date for p in shown if p.date), default=None)
    _sub(feed, "updated", _stamp(max(newest, site.date) if newest else site.date))
    _sub(feed, "generator", "paper-digest")
    for paper in shown:
        _entry(feed, site, paper)
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _entry(feed: ET.Element, site: Site, paper: Paper) -> None:
    base = site.config.base_url
    entry = _sub(feed, "entry")
    url = base + site.paper_url(paper)
    _sub(entry, "title", plain_text(paper.title))
    _sub(entry, "id", url)
    _sub(entry, "link", rel="alternate", href=url, type="text/html")
    for kind in ("abs", "pdf"):
        href = paper.links.get(kind)
        if href and href.startswith(("http://", "https://")):
            _sub(entry, "link", rel="related", href=href, type="text/html", title=kind)
    day = paper.date or site.date
    _sub(entry, "published", _stamp(day))
    _sub(entry, "updated", _stamp(day))
    names = paper.authors[:20] or ((paper.organization,) if paper.organization else ())
    for name in names:
        _sub(_sub(entry, "author"), "name", name)
    if not names:
        hidden = paper.hidden_authors
        label = f"{hidden} author{'s' if hidden != 1 else ''}" if hidden else "Unknown authors"
        _sub(_sub(entry, "author"), "name", label)
    for name in paper.data.get("search", {}).get("topics", ()):
        _sub(entry, "category", term=str(name))
    if paper.abstract:
        _sub(entry, "summary", plain_text(paper.abstract), type="text")


def sitemap(site: Site) -> bytes:
    """sitemap.xml listing every page that asks to be in it."""
    base = site.config.base_url
    locs = [_xml_text(base + page.url) for page in site.pages if page.in_sitemap]
    if not locs:
        empty = ET.Element("urlset", {"xmlns": SITEMAP})
        return ET.tostring(empty, encoding="utf-8", xml_declaration=True)
    # Written out directly (a big site has tens of thousands of URLs), byte for byte as
    # ElementTree writes the same tree indented: see `_sitemap_by_elementtree` in the tests.
    parts = ["<?xml version='1.0' encoding='utf-8'?>\n", f'<urlset xmlns="{SITEMAP}">']
    for loc in locs:
        element = f"<loc>{_escape_text(loc)}</loc>" if loc else "<loc />"
        parts.append(f"\n  <url>\n    {element}\n  </url>")
    parts.append("\n</urlset>")
    return "".join(parts).encode("utf-8", "xmlcharrefreplace")


def _escape_text(text: str) -> str:
    """Character data escaped as ElementTree escapes it."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def robots_txt(site: Site) -> str:
    """robots.txt: everything may be crawled; the sitemap is named with its full URL."""
    return f"User-agent: *\nAllow: /\nSitemap: {site.config.base_url}sitemap.xml\n"


def write_site_files(site: Site, out: OutputDir) -> None:
    """Write feed.xml, sitemap.xml, robots.txt, papers.bib and the reading list's data."""
    newest = newest_first(site.papers)
    out.write_bytes("feed.xml", atom_feed(site, newest, site.config.title, "feed.xml", ""))
    out.write_bytes("sitemap.xml", sitemap(site))
    out.write_text("robots.txt", robots_txt(site))
    out.write_text("papers.bib", bibtex_file(site, newest))
    data = json.dumps(
        reading_list_data(site), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    out.write_text(READING_LIST_DATA, data)
