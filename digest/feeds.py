"""Site-wide machine-readable files: the Atom feed, sitemap.xml and robots.txt.

All links here are absolute, built from ``base_url``. Text goes through an XML
serializer, so no input can break out of its element.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from digest.model import Paper, newest_first
from digest.publish import OutputDir
from digest.richtext import plain_text
from digest.site import Site

ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
FEED_SIZE = 50


def _stamp(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def atom_feed(site: Site, papers: Sequence[Paper], title: str, feed_url: str, page_url: str) -> bytes:
    """An Atom 1.0 feed of `papers` (at most FEED_SIZE); URLs are below the site root."""
    base = site.config.base_url
    feed = ET.Element("feed", {"xmlns": ATOM})
    _sub(feed, "title", title)
    _sub(feed, "id", base + feed_url)
    _sub(feed, "link", rel="self", href=base + feed_url, type="application/atom+xml")
    _sub(feed, "link", rel="alternate", href=base + page_url, type="text/html")
    _sub(feed, "updated", _stamp(site.date))
    _sub(feed, "generator", "paper-digest")
    for paper in papers[:FEED_SIZE]:
        entry = _sub(feed, "entry")
        url = base + site.paper_url(paper)
        _sub(entry, "title", plain_text(paper.title))
        _sub(entry, "id", url)
        _sub(entry, "link", rel="alternate", href=url, type="text/html")
        _sub(entry, "updated", _stamp(paper.date or site.date))
        for name in paper.authors[:20] or ((paper.organization,) if paper.organization else ()):
            _sub(_sub(entry, "author"), "name", name)
        if not paper.authors and not paper.organization:
            _sub(_sub(entry, "author"), "name", "Unknown authors")
        if paper.abstract:
            _sub(entry, "summary", plain_text(paper.abstract))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def sitemap(site: Site) -> bytes:
    """sitemap.xml listing every page that asks to be in it."""
    urlset = ET.Element("urlset", {"xmlns": SITEMAP})
    for page in site.pages:
        if page.in_sitemap:
            url = _sub(urlset, "url")
            _sub(url, "loc", site.config.base_url + page.url)
    return ET.tostring(urlset, encoding="utf-8", xml_declaration=True)


def write_site_files(site: Site, out: OutputDir) -> None:
    """Write feed.xml, sitemap.xml and robots.txt."""
    out.write_bytes("feed.xml", atom_feed(site, newest_first(site.papers), site.config.title,
                                          "feed.xml", ""))
    out.write_bytes("sitemap.xml", sitemap(site))
    out.write_text(
        "robots.txt", f"User-agent: *\nAllow: /\nSitemap: {site.config.base_url}sitemap.xml\n"
    )
