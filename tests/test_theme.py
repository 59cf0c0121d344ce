"""The default theme as a reader and a validator see it: every link resolves under a
sub-path, the HTML is valid, the home page is light, text from papers is escaped, the
paper page carries its metadata, and a five-line template overrides a part of the theme."""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest

from digest.build import BuildResult
from digest.config import Config
from digest.corepages import code_url, paper_links, script_json
from digest.model import Paper, Sighting
from digest.pages import Page, pagination
from digest.render import FRAGMENT, ROOT, Assets, make_environment

REPO = Path(__file__).resolve().parent.parent
VNU_JAR = REPO / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
PREFIX = "/digest/"
BASE_URL = "https://example.org/digest/"


# --- Serving a built site under a sub-path -------------------------------------------------


@dataclass
class ServedSite:
    """A built site served over HTTP under PREFIX; `failures` lists every (path, status)
    the server answered with an error."""

    root: str
    failures: list[tuple[str, int]] = field(default_factory=list)

    def url(self, path: str = "") -> str:
        """The served URL of a path below the site root."""
        return self.root + path


@contextmanager
def serve_site(folder: Path, prefix: str = PREFIX) -> Iterator[ServedSite]:
    """Serve `folder` at http://127.0.0.1:<free port><prefix> in a thread, as a static host
    serving the site under a sub-path would; anything outside the prefix is a 404."""
    served = ServedSite(root="")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path: str) -> str:
            clean = urlsplit(path).path
            inside = clean.startswith(prefix)
            return super().translate_path("/" + clean[len(prefix) :] if inside else "/.none/")

        def send_error(self, code: int, *args: Any, **kwargs: Any) -> None:
            served.failures.append((self.path, code))
            super().send_error(code, *args, **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean; failures are recorded above

    handler = functools.partial(Handler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.root = f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class LinkCollector(HTMLParser):
    """Every URL a page refers to (href, src, action), and its <base href> if any."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "base" and values.get("href"):
            self.base = values["href"]
        for name in ("href", "src", "action"):
            value = values.get(name)
            if value is not None and (tag, name) != ("base", "href"):
                self.urls.append(value)


def page_links(html: str, page_url: str) -> list[str]:
    """The absolute URLs a page links to, resolved as a browser would (honouring <base>)."""
    collector = LinkCollector()
    collector.feed(html)
    base = urljoin(page_url, collector.base) if collector.base else page_url
    return [urldefrag(urljoin(base, url))[0] for url in collector.urls]


def fetch(url: str) -> tuple[int, bytes, str]:
    """GET `url`: (status, body, content type)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, b"", ""


def crawl(served: ServedSite) -> tuple[dict[str, int], list[str]]:
    """Visit every page reachable from the home page and check every URL any page names.

    Returns (status of each local URL, absolute base_url links seen). Links to base_url
    are checked by mapping them onto the served copy.
    """
    statuses: dict[str, int] = {}
    absolute: list[str] = []
    queue = [served.url()]
    while queue:
        url = queue.pop()
        if url in statuses:
            continue
        status, body, kind = fetch(url)
        statuses[url] = status
        if status != 200 or kind != "text/html":
            continue
        for link in page_links(body.decode("utf-8"), url):
            if link.startswith(BASE_URL):
                absolute.append(link)
                link = served.url(link[len(BASE_URL) :])
            if link.startswith(served.root) and link not in statuses:
                queue.append(link)
    return statuses, absolute


# --- The demo site as a reader sees it ----------------------------------------------------


def test_every_link_and_asset_resolves_under_a_sub_path(demo_site: BuildResult) -> None:
    with serve_site(demo_site.outdir) as served:
        statuses, absolute = crawl(served)
    broken = sorted(url for url, status in statuses.items() if status != 200)
    assert broken == [], f"{len(broken)} broken links, e.g. {broken[:5]}"
    assert served.failures == []
    pages = [u for u in statuses if u.endswith("/") or u.endswith(".html")]
    papers = [u for u in pages if "/papers/" in u]
    assert len(papers) == len(demo_site.site.papers), "every paper page is linked from a list"
    assert any("/archive/" in u for u in pages) and any("/topics/" in u for u in pages)
    assert any(u.endswith("/static/" + "") or "/static/" in u for u in statuses)
    assert absolute, "canonical and OpenGraph links are absolute"


def test_the_404_page_works_at_any_depth(demo_site: BuildResult) -> None:
    html = (demo_site.outdir / "404.html").read_text(encoding="utf-8")
    with serve_site(demo_site.outdir) as served:
        missing = served.url("no/such/deep/page/")
        assert fetch(missing)[0] == 404
        links = page_links(html, missing)
        assert links
        for link in links:
            if link.startswith(served.root):
                assert fetch(link)[0] == 200, link
    assert '<meta name="robots" content="noindex">' in html


def test_sitemap_lists_existing_pages_only(demo_site: BuildResult) -> None:
    sitemap = (demo_site.outdir / "sitemap.xml").read_text(encoding="utf-8")
    locs = re.findall(r"<loc>([^<]+)</loc>", sitemap)
    assert len(locs) > len(demo_site.site.papers)
    for loc in locs:
        assert loc.startswith(BASE_URL)
        rel = loc[len(BASE_URL) :]
        target = demo_site.outdir / (rel + "index.html" if rel == "" or rel.endswith("/") else rel)
        assert target.is_file(), loc
    assert f"{BASE_URL}search/" not in locs and f"{BASE_URL}404.html" not in locs


@pytest.mark.skipif(shutil.which("java") is None, reason="the Nu HTML checker needs Java")
@pytest.mark.skipif(not VNU_JAR.is_file(), reason="vnu.jar missing: run `npm ci` (vnu-jar)")
def test_the_nu_html_checker_finds_no_errors(demo_site: BuildResult) -> None:
    result = subprocess.run(
        ["java", "-jar", str(VNU_JAR), "--errors-only", "--skip-non-html", "--format", "json",
         str(demo_site.outdir)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    messages = json.loads(result.stderr or result.stdout or '{"messages": []}')["messages"]
    errors = [
        f"{m.get('url', '').rsplit('/_site/', 1)[-1]}:{m.get('lastLine')}: {m['message']}"
        for m in messages
        if m.get("type") == "error"
    ]
    assert errors == [], f"{len(errors)} errors, e.g.\n" + "\n".join(errors[:15])


def test_the_home_page_is_light(demo_site: BuildResult) -> None:
    html = (demo_site.outdir / "index.html").read_bytes()
    css = [
        (demo_site.outdir / href.decode()).read_bytes()
        for href in re.findall(rb'<link rel="stylesheet" href="([^"]+)"', html)
    ]
    assert len(css) == 1
    total = len(html) + sum(len(c) for c in css)
    assert total < 100_000, f"home page HTML+CSS is {total} bytes"
    scripts = re.findall(rb"<script[^>]*>", html)
    assert all(b"defer" in s for s in scripts), "scripts never block rendering"


def test_the_home_page_shows_groups_trending_and_build_health(demo_site: BuildResult) -> None:
    html = (demo_site.outdir / "index.html").read_text(encoding="utf-8")
    site = demo_site.site
    assert '<section class="group"' in html, "papers are grouped by topic"
    assert 'class="badge trending"' in html
    first_card = html[html.index('<article class="card"') :].split("</article>", 1)[0]
    assert "Trending #1</span>" in first_card, "the top trending paper comes first"
    health = re.search(r'<p class="health">(.*?)</p>', html, re.S)
    assert health
    for source in site.sources:
        assert f"{source.name}: {source.entries} entr" in health.group(1)
    assert 'Built <time datetime="2025-10-30">30 Oct 2025</time>' in health.group(1)
    assert len(re.findall(r'<article class="card"', html)) == min(
        len(site.papers), site.config.page_size
    )


def test_a_paper_page_has_metadata_citation_and_related(demo_site: BuildResult) -> None:
    site = demo_site.site
    paper = next(p for p in site.papers if "$" in p.title)
    html = (demo_site.outdir / site.paper_url(paper) / "index.html").read_text(encoding="utf-8")
    url = BASE_URL + site.paper_url(paper)
    assert f'<link rel="canonical" href="{url}">' in html
    assert f'<meta property="og:url" content="{url}">' in html
    assert '<meta property="og:type" content="article">' in html
    assert '<meta name="twitter:card" content="summary">' in html
    assert "<math" in html.split("<h1>", 1)[1].split("</h1>", 1)[0], "LaTeX title as MathML"
    script = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert script
    data = json.loads(script.group(1))
    assert data["@type"] == "ScholarlyArticle" and data["url"] == url
    assert data["name"] == paper.title
    assert '<pre id="bibtex"' in html and "@misc{" in html
    assert 'class="related"' in html
    assert "Seen in" in html


def test_json_ld_cannot_close_its_script_element() -> None:
    text = str(script_json({"name": "</script><script>alert(1)</script><!-- & \u2028"}))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text)["name"] == "</script><script>alert(1)</script><!-- & \u2028"


# --- Links, pagination ---------------------------------------------------------------------


def test_code_links_come_from_the_abstract() -> None:
    assert code_url("Code: https://github.com/zzysteve/SkeletonX.") == (
        "https://github.com/zzysteve/SkeletonX"
    )
    assert code_url("see https://huggingface.co/datasets/x/y)") == (
        "https://huggingface.co/datasets/x/y"
    )
    assert code_url("page https://vision.baai.ac.cn/see3d and https://github.com/") is None
    paper = Paper(
        title="T",
        abstract="Available at https://gitlab.com/a/b",
        arxiv_id="2401.01234",
        links={"project": "https://a.github.io/p/", "doi": "javascript:alert(1)"},
        sightings=(Sighting("Daily", url="https://huggingface.co/papers/2401.01234"),),
    )
    assert [(link["label"], link["href"]) for link in paper_links(paper)] == [
        ("arXiv", "https://arxiv.org/abs/2401.01234"),
        ("PDF", "https://arxiv.org/pdf/2401.01234"),
        ("Code", "https://gitlab.com/a/b"),
        ("Project page", "https://a.github.io/p/"),
        ("Source page", "https://huggingface.co/papers/2401.01234"),
    ]


def test_pagination_keeps_a_short_pager_for_long_listings() -> None:
    pager = pagination("page/500/", 500, 1000)
    numbers = [n for n, _ in pager["pages"]]
    assert numbers == [1, None, 498, 499, 500, 501, 502, None, 1000]
    assert pager["previous"] == "page/499/" and pager["next"] == "page/501/"
    first = pagination("topics/x/", 1, 3)
    assert first["previous"] is None and first["next"] == "topics/x/page/2/"
    assert [u for _, u in first["pages"]] == ["topics/x/", "topics/x/page/2/", "topics/x/page/3/"]
    assert pagination("topics/x/page/2/", 2, 3)["previous"] == "topics/x/"
    # A listing whose own URL says "page" (a topic named "Webpage agents", say).
    assert pagination("topics/webpage/page/2/", 2, 3)["previous"] == "topics/webpage/"
    assert pagination("topics/webpage/", 1, 2)["next"] == "topics/webpage/page/2/"


# --- Throwaway sites -----------------------------------------------------------------------


def jsonl(*papers: Paper) -> str:
    """A JSON Lines source holding `papers` (the canonical format `digest papers --json`)."""
    return "\n".join(json.dumps(p.to_json()) for p in papers) + "\n"


SMALL_SITE = """
    title = "Tiny <Digest>"
    base_url = "https://example.org/tiny/"
    page_size = 2
    {extra}

    [[sources]]
    name = "Feed"
    path = "data/papers.jsonl"
    format = "jsonl"
"""


def tiny_papers() -> list[Paper]:
    day = dt.date(2025, 10, 1)
    return [
        Paper(
            title=f"Paper {i} on $x^{i}$ scaling",
            authors=(f"Author {i}", "B. Second", "C. Third", "D. Fourth", "E. Fifth"),
            hidden_authors=i,
            abstract=f"We study *scaling* of things number {i}. Code: https://github.com/a/p{i}",
            date=day + dt.timedelta(days=i % 3),
            sightings=(Sighting("Feed", position=i + 1, upvotes=10 - i),),
        )
        for i in range(5)
    ]


def test_lists_paginate_with_stable_urls_and_archives_link_around(
    site_factory: Callable[..., Path], build_site: Callable[..., BuildResult]
) -> None:
    root = site_factory(
        SMALL_SITE.format(extra=""), files={"data/papers.jsonl": jsonl(*tiny_papers())}
    )
    out = build_site(root).outdir
    assert (out / "page/2/index.html").is_file() and (out / "page/3/index.html").is_file()
    assert not (out / "page/1").exists()

    def link(page: str, pattern: str) -> str:
        """The site path a link on `page` (matched by `pattern`, which captures the href)
        leads to, resolved as a browser would."""
        html = (out / page / "index.html").read_text(encoding="utf-8")
        found = re.search(pattern, html)
        assert found, (page, pattern)
        site_root = "http://host/tiny/"
        return urljoin(site_root + page, found.group(1))[len(site_root) :]

    assert link("page/2/", r'rel="prev" href="([^"]*)"') == ""
    assert link("page/2/", r'rel="next" href="([^"]*)"') == "page/3/"
    day = "archive/2025/10/02/"
    assert link(day, r'rel="prev" href="([^"]*)"') == "archive/2025/10/01/"
    assert link(day, r'rel="next" href="([^"]*)"') == "archive/2025/10/03/"
    assert link(day, r'href="([^"]*)">All of October 2025</a>') == "archive/2025/10/"
    assert (out / "archive/2025/10/page/3/index.html").is_file()
    assert link("archive/2025/10/", r'href="([^"]*)">1 Oct</a>') == "archive/2025/10/01/"
    assert "+1 more" in (out / "index.html").read_text(encoding="utf-8")


def test_text_from_papers_is_escaped_everywhere(
    site_factory: Callable[..., Path], build_site: Callable[..., BuildResult]
) -> None:
    evil = Paper(
        title='<script>alert(1)</script> $\\text{<img src=x onerror=alert(1)>}$ "quoted"',
        authors=("<b onmouseover=alert(1)>Mallory</b>",),
        abstract='"><img src=x onerror=alert(2)> </script><script>alert(3)</script> '
        "https://github.com/ok/repo",
        organization="<i>Org</i>",
        date=dt.date(2025, 10, 1),
        links={"pdf": "https://example.com/a.pdf?<x>"},
        sightings=(Sighting("Feed", position=1),),
    )
    root = site_factory(SMALL_SITE.format(extra=""), files={"data/papers.jsonl": jsonl(evil)})
    out = build_site(root).outdir
    pages = sorted(out.rglob("*.html"))
    assert len(pages) > 5
    for page in pages:
        html = page.read_text(encoding="utf-8")
        collector = TagCollector()
        collector.feed(html)
        for tag, attrs in collector.tags:
            assert tag not in ("img", "b", "i"), (page, tag)
            assert not any(name.startswith("on") for name in attrs), (page, tag, attrs)
            if tag == "script":
                assert attrs.get("src") or attrs.get("type") == "application/ld+json", page
        assert "alert(1)</script>" not in html.replace("&lt;/script&gt;", "")
    paper_page = next(p for p in pages if "/papers/" in p.as_posix())
    html = paper_page.read_text(encoding="utf-8")
    assert '<a class="button" href="https://github.com/ok/repo" rel="noopener">Code</a>' in html
    data = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert data and json.loads(data.group(1))["name"].startswith("<script>alert(1)</script>")


class TagCollector(HTMLParser):
    """Every start tag with its attributes, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_an_empty_source_is_named_on_the_home_page(
    site_factory: Callable[..., Path], build_site: Callable[..., BuildResult]
) -> None:
    config = SMALL_SITE.format(extra="") + (
        '\n[[sources]]\nname = "Quiet feed"\npath = "data/empty.jsonl"\nformat = "jsonl"\n'
    )
    files = {"data/papers.jsonl": jsonl(*tiny_papers()), "data/empty.jsonl": ""}
    out = build_site(site_factory(config, files=files)).outdir
    html = (out / "index.html").read_text(encoding="utf-8")
    assert '<span class="empty-source">Quiet feed: 0 entries</span>' in html
    assert "The source “Quiet feed” gave no papers this time" in html
    assert "Feed: 5 entries" in html


# --- Overriding the theme ------------------------------------------------------------------

HEADER_OVERRIDE = """\
{% extends "default:base.html" %}
{% block header %}
<header class="lab-header"><a href="{{ url('') }}">Our reading group</a></header>
{% endblock %}
"""

CARD_OVERRIDE = """\
{% extends "default:_card.html" %}
{% block card_snippet %}{% endblock %}
{% block card_authors %}<p class="first-author">{{ paper.authors[0] }}</p>{% endblock %}
"""


def test_a_five_line_template_overrides_the_header(
    site_factory: Callable[..., Path], build_site: Callable[..., BuildResult]
) -> None:
    assert len(HEADER_OVERRIDE.splitlines()) <= 5 and len(CARD_OVERRIDE.splitlines()) <= 5
    root = site_factory(
        SMALL_SITE.format(extra='theme_dir = "theme"'),
        files={
            "data/papers.jsonl": jsonl(*tiny_papers()),
            "theme/templates/base.html": HEADER_OVERRIDE,
            "theme/templates/_card.html": CARD_OVERRIDE,
            "theme/static/extra.css": "body { color: red }",
            "theme/static/digest.js": "// our own\n",
        },
    )
    out = build_site(root).outdir
    for page in ("index.html", "archive/index.html"):
        html = (out / page).read_text(encoding="utf-8")
        assert '<header class="lab-header"><a href="' in html and "Our reading group" in html
        assert 'class="site-header"' not in html
        assert "<footer" in html, "the rest of the default base template is kept"
    home = (out / "index.html").read_text(encoding="utf-8")
    assert '<p class="first-author">Author 0</p>' in home and 'class="snippet"' not in home
    assert 'class="card-title"' in home, "blocks not overridden stay as they were"
    scripts = list((out / "static").glob("digest.*.js"))
    assert [s.read_text() for s in scripts] == ["// our own\n"]
    assert list((out / "static").glob("extra.*.css"))
    assert list((out / "static").glob("style.*.css")), "other default static files remain"


def test_cards_follow_an_overridden_paper_card_or_card_fragment(
    site_factory: Callable[..., Path], build_site: Callable[..., BuildResult]
) -> None:
    default = REPO / "themes" / "default" / "templates"
    macros = (default / "_macros.html").read_text(encoding="utf-8")
    own_card = '{% macro paper_card(paper, heading="h2", show_abstract=true) %}<p class="own">'
    own_card += "{{ paper.title }} in {{ site.config.title }}</p>{% endmacro %}"
    macros = re.sub(r"{% macro paper_card.*?{% endmacro %}", lambda _: own_card, macros, flags=re.S)
    fragment = '<p class="own-fragment">{{ paper.title }} · {{ url("") }}</p>'
    own = ('<p class="own">Paper ', " scaling in Tiny &lt;Digest&gt;</p>")
    own_fragment = ('<p class="own-fragment">Paper ', " · ../../../.././</p>")
    for files, (start, end) in (
        ({"theme/templates/_macros.html": macros}, own),
        ({"theme/templates/_card_fragment.html": fragment}, own_fragment),
    ):
        root = site_factory(
            SMALL_SITE.format(extra='theme_dir = "theme"'),
            files={"data/papers.jsonl": jsonl(*tiny_papers()), **files},
        )
        out = build_site(root).outdir
        home = (out / "index.html").read_text(encoding="utf-8")
        day = (out / "archive/2025/10/03/index.html").read_text(encoding="utf-8")
        assert start in home and '<article class="card"' not in home
        assert re.search(re.escape(start) + r"[^<]*" + re.escape(end), day), day


def test_root_prefix_makes_the_links_url_makes() -> None:
    config = Config(path=Path("/nowhere/site.toml"), root=Path("/nowhere"))
    both = make_environment(config, Assets({})).from_string("{{ url(t) }}|{{ root() ~ t or './' }}")
    for url in ("", "404.html", "a/", "a/b/c/", "a/b/page.html"):
        for target in ("", "feed.xml", "topics/x/"):
            made, joined = both.render(page=Page(url, "x.html", ""), t=target).split("|")
            assert made == joined, (url, target)
    # A cached card's links start at a placeholder for the root; url("") adds "./" to it.
    assert both.render(page=FRAGMENT, t="feed.xml") == f"{ROOT}feed.xml|{ROOT}feed.xml"
