"""The machine-readable files: Atom feeds that feedparser reads without complaint, with
absolute links; sitemap.xml; robots.txt; the digest's .bib; the reading list's data."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import bibtexparser
import feedparser
import pytest

from digest.build import BuildResult
from digest.config import Config
from digest.feeds import FEED_SIZE, atom_feed, robots_txt, sitemap
from digest.model import Paper, Sighting
from digest.pages import Page
from digest.site import Site

BASE_URL = "https://example.org/digest/"


def parse_feed(data: bytes) -> feedparser.FeedParserDict:
    feed = feedparser.parse(data)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def test_the_digest_feed_is_valid_with_absolute_links(demo_site: BuildResult) -> None:
    feed = parse_feed((demo_site.outdir / "feed.xml").read_bytes())
    assert feed.version == "atom10"
    assert feed.feed.title == demo_site.site.config.title
    assert feed.feed.id == BASE_URL + "feed.xml"
    assert {link.rel: link.href for link in feed.feed.links} == {
        "self": BASE_URL + "feed.xml",
        "alternate": BASE_URL,
    }
    assert len(feed.entries) == min(FEED_SIZE, len(demo_site.site.papers))
    dates = [entry.published_parsed for entry in feed.entries]
    assert dates == sorted(dates, reverse=True), "newest first"
    for entry in feed.entries:
        assert entry.link.startswith(BASE_URL + "papers/") and entry.link.endswith("/")
        assert (demo_site.outdir / entry.link[len(BASE_URL) :] / "index.html").is_file()
        assert entry.id == entry.link
        assert entry.author
        assert entry.title and "<" not in entry.title


def test_topic_feeds_are_valid(demo_site: BuildResult) -> None:
    feeds = sorted((demo_site.outdir / "topics").glob("*/feed.xml"))
    if not feeds:
        pytest.skip("the topics plugin wrote no per-topic feeds")
    names = {t["slug"]: t["name"] for t in demo_site.site.data["topics"]}
    for path in feeds:
        feed = parse_feed(path.read_bytes())
        slug = path.parent.name
        assert feed.feed.id == f"{BASE_URL}topics/{slug}/feed.xml"
        for entry in feed.entries:
            assert entry.link.startswith(BASE_URL)
            terms = [tag.term for tag in entry.get("tags", ())]
            # "Other" collects the papers no topic placed: it is not a label of theirs.
            assert names[slug] in terms or slug == "other", (slug, entry.link)


def make_site(papers: list[Paper]) -> Site:
    config = Config(path=Path("/nowhere/site.toml"), root=Path("/nowhere"))
    config.base_url = "https://example.org/sub/"
    config.title = "Feed & <Co>"
    config.description = "Digest of \x01things"
    return Site(config=config, date=dt.date(2025, 10, 30), papers=papers)


def test_any_text_is_serialized_safely() -> None:
    paper = Paper(
        title="<script>alert(1)</script> & LeC$^2$O *fast*",
        authors=("Ann <Lee>", "Bob \x0b Ray"),
        abstract="Control \x00 characters\x1f and ]]> and </summary>",
        date=dt.date(2025, 10, 29),
        links={"abs": "https://arxiv.org/abs/2401.1", "pdf": "javascript:alert(1)"},
        sightings=(Sighting("s"),),
    )
    site = make_site([paper])
    feed = parse_feed(atom_feed(site, [paper], "Topic <X>", "topics/x/feed.xml", "topics/x/"))
    assert feed.feed.title == "Topic <X>"
    entry = feed.entries[0]
    assert entry.title == "<script>alert(1)</script> & LeC$^2$O fast"
    assert entry.summary == "Control  characters and ]]> and </summary>"
    assert [a.name for a in entry.authors] == ["Ann <Lee>", "Bob  Ray"]
    assert entry.link.startswith("https://example.org/sub/papers/")
    related = [link.href for link in entry.links if link.rel == "related"]
    assert related == ["https://arxiv.org/abs/2401.1"], "only http(s) links are copied"


def test_hidden_authors_and_undated_papers() -> None:
    paper = Paper(title="T", hidden_authors=6, sightings=(Sighting("s"),))
    entry = parse_feed(atom_feed(make_site([paper]), [paper], "T", "feed.xml", "")).entries[0]
    assert entry.author == "6 authors"
    assert entry.updated.startswith("2025-10-30"), "undated papers take the build date"


def test_robots_and_sitemap(demo_site: BuildResult) -> None:
    robots = (demo_site.outdir / "robots.txt").read_text(encoding="utf-8")
    assert robots == robots_txt(demo_site.site)
    assert f"Sitemap: {BASE_URL}sitemap.xml" in robots.splitlines()
    sitemap = (demo_site.outdir / "sitemap.xml").read_text(encoding="utf-8")
    assert sitemap.startswith("<?xml version='1.0' encoding='utf-8'?>")
    assert f"<loc>{BASE_URL}</loc>" in sitemap


def test_the_digest_bib_holds_every_paper(demo_site: BuildResult) -> None:
    library = bibtexparser.parse_string(
        (demo_site.outdir / "papers.bib").read_text(encoding="utf-8")
    )
    assert not library.failed_blocks
    keys = [entry.key for entry in library.entries]
    assert len(keys) == len(set(keys)) == len(demo_site.site.papers)


def test_the_reading_list_data_matches_the_pages(demo_site: BuildResult) -> None:
    data = json.loads((demo_site.outdir / "reading-list/papers.json").read_text(encoding="utf-8"))
    site = demo_site.site
    assert set(data) == {p.key for p in site.papers}
    bib = (demo_site.outdir / "papers.bib").read_text(encoding="utf-8")
    for paper in site.papers[:20]:
        item = data[paper.key]
        assert item["u"] == site.paper_url(paper)
        assert (demo_site.outdir / item["u"] / "index.html").is_file()
        assert f"@misc{{{item['c']}," in bib


def _sitemap_by_elementtree(site: Site) -> bytes:
    """How sitemap.xml was written before it was written out directly."""
    urlset = ET.Element("urlset", {"xmlns": "http://www.sitemaps.org/schemas/sitemap/0.9"})
    for page in site.pages:
        if page.in_sitemap:
            url = ET.SubElement(urlset, "url")
            loc = ET.SubElement(url, "loc")
            loc.text = "".join(
                ch for ch in site.config.base_url + page.url if ch not in INVALID_XML
            )
    ET.indent(urlset)
    return ET.tostring(urlset, encoding="utf-8", xml_declaration=True)


INVALID_XML = {chr(c) for c in [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]} | {
    "\ufffe",
    "\uffff",
}


@pytest.mark.parametrize(
    "urls",
    [
        [],
        [""],
        ["", "a/", "404.html"],
        ["x&y/", "<b>/", "a>b/", "a\x00\x1fb/", "caf\u00e9/", "\ud800/", "a\rb\tc/", "]]>/"],
    ],
)
def test_the_sitemap_is_what_elementtree_writes(urls: list[str]) -> None:
    for base in ("https://example.org/sub/", ""):
        site = make_site([])
        site.config.base_url = base
        site.pages = [Page(url, "t.html", "T") for url in urls]
        site.pages.append(Page("hidden/", "t.html", "T", in_sitemap=False))
        assert sitemap(site) == _sitemap_by_elementtree(site)
