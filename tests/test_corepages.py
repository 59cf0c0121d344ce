"""The core pages' helpers: what they give must not depend on the shortcuts they take."""

from __future__ import annotations

import gc
import weakref
from urllib.parse import urlsplit

import pytest
from conftest import DEMO_DATE, REPO
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape

from digest.bibtex_export import citation_keys, paper_bibtex
from digest.build import prepare_config
from digest.corepages import PaperContext, is_http_url, paper_links
from digest.pages import Page
from digest.richtext import plain_text
from digest.serve import SourceCache, make_site


def by_urlsplit(url: str | None) -> bool:
    """`is_http_url` as first written: whatever urlsplit makes of the URL."""
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "https://arxiv.org/abs/2401.00001",
        "http://x",
        "HTTPS://Example.org/",
        "https:///path",
        "https://?q",
        "https://#f",
        "https:// x.org/",
        " https://x.org/",
        "\x00https://x.org/",
        "https://\nx.org/",
        "https://x.org/a\tb",
        "https://[::1]/",
        "https://caf\u00e9.org/",
        "javascript:alert(1)",
        "data:text/html,x",
        "//x.org/",
        "http:x.org",
        "https://x.org:99999/",
        "https://user@x.org/",
    ],
)
def test_is_http_url_agrees_with_urlsplit(url: str | None) -> None:
    assert is_http_url(url) == by_urlsplit(url)


def test_is_http_url_raises_where_urlsplit_does() -> None:
    for url in ("https://[::1/", "https://x]/"):
        with pytest.raises(ValueError):
            by_urlsplit(url)
        with pytest.raises(ValueError):
            is_http_url(url)


URL_PIECES = (
    *("http", "https", "HTTP", "://", ":", "/", "?", "#", "[", "]", "@", "%", "a", "x.org"),
    *("é", "\u2100", " ", "\t", "\n", "\x00", "\x7f"),
)


@given(st.builds("".join, st.lists(st.sampled_from(URL_PIECES), max_size=8)))
def test_is_http_url_agrees_with_urlsplit_on_odd_input(url: str) -> None:
    try:
        expected = by_urlsplit(url)
    except ValueError:
        with pytest.raises(ValueError):
            is_http_url(url)
        return
    assert is_http_url(url) == expected


def test_a_site_and_its_pages_make_no_reference_cycle() -> None:
    """A site is freed as soon as it is dropped, not at the next full garbage collection:
    the preview server replaces its site after every edit (one left for the collector
    was 45 MB at 10,000 papers)."""
    config, pm = prepare_config(REPO / "site.toml")
    site = make_site(config, pm, DEMO_DATE, SourceCache())
    assert len(site.pages) > len(site.papers) > 500
    rendered = next(p for p in site.pages if "bibtex" in p.context).context
    assert "@" in str(rendered["bibtex"]) and "ScholarlyArticle" in str(rendered["jsonld"])
    gone = weakref.ref(site)
    gc.disable()
    try:
        del site, rendered
        assert gone() is None
    finally:
        gc.enable()


def test_a_paper_page_makes_its_context_and_description_when_read() -> None:
    """A paper page keeps only its paper (`PaperContext`); what its template is given is
    made on reading, the same each time, and is what the eager page set used to hold."""
    config, pm = prepare_config(REPO / "site.toml")
    site = make_site(config, pm, DEMO_DATE, SourceCache())
    page = next(p for p in site.pages if p.template == "paper.html" and p.context["links"])
    context, paper = page.context, page.context["paper"]
    assert isinstance(context, PaperContext) and not hasattr(context, "__dict__")
    assert list(context) == [
        "paper",
        "links",
        "sightings",
        "related",
        "citation_key",
        "bibtex",
        "abstract_html",
        "jsonld",
    ]
    assert "paper" in context and "papers" not in context and context.get("papers") is None
    assert context["links"] == paper_links(paper) != []
    assert context["links"] is not context["links"]
    assert context["sightings"] == [
        {
            "source": s.source,
            "position": s.position,
            "date": s.date,
            "upvotes": s.upvotes,
            "url": s.url if is_http_url(s.url) else None,
        }
        for s in paper.sightings
    ]
    assert context["citation_key"] == citation_keys(site)[paper.key]
    assert list(context["related"]) == list(context["related"])
    assert str(context["bibtex"]) == str(escape(paper_bibtex(site, paper)))
    assert page.description == plain_text(paper.abstract[:400]) != ""


def test_a_page_description_may_be_text_or_a_function() -> None:
    page = Page("a/", "t.html", "A", description="Fixed")
    assert page.description == "Fixed"
    page.description = lambda: "Made"
    assert page.description == "Made"
    assert Page("b/", "t.html", "B").description == ""
