"""The highlight plugin: forgiving keyword matching, marks on real seed papers, safe HTML,
exclusions, watched authors, the For-you page, and a build without the plugin."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ALL_SOURCES, DEMO_DATE, SEEDS, load_seed_papers

from digest.config import Config, load_config
from digest.model import Paper, Sighting, newest_first
from digest.richtext import render_rich_text
from digest.site import Site
from plugins import digest_highlight as highlight
from plugins.digest_highlight import (
    HighlightSettings,
    Keyword,
    KeywordMatcher,
    Pattern,
    for_you,
    highlight_paper,
)


def matcher(*keywords: str | tuple[str, str]) -> KeywordMatcher:
    """Phrases (str) and (regex, label) pairs, as the settings would compile them."""
    compiled = []
    for k in keywords:
        if isinstance(k, tuple):
            compiled.append(Keyword(k[1], Pattern.regex_keyword(k[0])))
        else:
            pattern = Pattern.phrase(k)
            assert pattern is not None
            compiled.append(Keyword(k, pattern))
    return KeywordMatcher(compiled)


def found(m: KeywordMatcher, text: str) -> list[tuple[str, str]]:
    return [(text[x.start : x.end], x.label) for x in m.find(text)]


def settings_from(site_factory: Callable[..., Path], toml: str) -> tuple[HighlightSettings, Config]:
    root = site_factory(config=toml)
    config = load_config(root / "site.toml")
    highlight.digest_configure(config)
    return config.settings_for("highlight"), config


@pytest.fixture(scope="module")
def seed_papers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Paper]:
    """Every merged seed paper by title (loaded once for the module)."""
    return {p.title: p for p in load_seed_papers(tmp_path_factory.mktemp("seeds"))}


def seed(papers: dict[str, Paper], start: str) -> Paper:
    return next(p for title, p in papers.items() if title.startswith(start))


# --- matching -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        ("scaling law", "new Scaling Laws for MoE", ["Scaling Laws"]),
        (
            "in-context",
            "learning in context, In-Context and in‑context",
            ["in context", "In-Context", "in‑context"],
        ),
        (
            "pre-training",
            "pretraining, pre training, pre-trained",
            ["pretraining", "pre training", "pre-trained"],
        ),
        ("mixture of experts", "Mixtures-of-Experts", ["Mixtures-of-Experts"]),
        ("policy", "two policies, one policy", ["policies", "policy"]),
        ("merge", "merging, merged and merges", ["merging", "merged", "merges"]),
        ("in-context learning", "in-context learners", ["in-context learners"]),
        ("diffusion", "diffusional diffusions", ["diffusions"]),
        ("LLM", "LLMs and LLM’s but not LLMOps", ["LLMs", "LLM"]),
        ("Schrödinger bridge", "SCHRÖDINGER BRIDGES", ["SCHRÖDINGER BRIDGES"]),
        ("loss", "losses", ["losses"]),
        ("GPT-4", "GPT4 and GPT-4o and GPT 4", ["GPT4", "GPT 4"]),
    ],
)
def test_forgiving_matching(keyword: str, text: str, expected: list[str]) -> None:
    assert [t for t, _ in found(matcher(keyword), text)] == expected


def test_no_match_inside_a_word() -> None:
    m = matcher("RL", "art")
    assert found(m, "CURL and partial art") == [("art", "art")]


def test_overlaps_go_to_the_longest_match() -> None:
    m = matcher(
        "deep learning", "learning rate schedule", "language model", "large language model", "model"
    )
    text = "deep learning rate schedules for large language models and deep learning"
    assert found(m, text) == [
        ("learning rate schedules", "learning rate schedule"),
        ("large language models", "large language model"),
        ("deep learning", "deep learning"),
    ]


def test_regex_keywords_are_case_insensitive_and_bounded() -> None:
    m = matcher(("LLa?MA", "LLaMA"), "llama")
    assert found(m, "LLaMA, LLAMA-2, Lama, LLaMAntis and llamas") == [
        ("LLaMA", "LLaMA"),
        ("LLAMA", "LLaMA"),
        ("llamas", "llama"),
    ]


def test_nothing_is_marked_in_latex_or_urls() -> None:
    m = matcher("transfer", "μ", "diffusion", "github")
    text = "A study of $μ$-Transfer, see https://github.com/diffusion/x or www.diffusion.org."
    assert found(m, text) == [("Transfer", "transfer")]


def test_marks_on_seed_papers(seed_papers: dict[str, Paper]) -> None:
    m = matcher(
        "language model",
        "large language model",
        "in-context learning",
        "LLM",
        "model size",
        "pre-training",
        "prune",
        "in context",
    )
    paper = seed(seed_papers, "The Cost of Scaling Down Large Language Models")
    assert found(m, paper.title) == [
        ("Large Language Models", "large language model"),
        ("Model Size", "model size"),
        ("In-context Learning", "in-context learning"),
    ]
    marks = found(m, paper.abstract)
    assert marks[:6] == [
        ("large language model", "large language model"),
        ("LLM", "LLM"),
        ("LLM", "LLM"),
        ("pruning", "prune"),
        ("model size", "model size"),
        ("LLMs", "LLM"),
    ]
    assert ("in-context", "in context") in marks
    assert sum(1 for _, label in marks if label == "prune") == 5
    assert sum(1 for _, label in marks if label == "pre-training") == 3

    m = matcher("scaling law", "neural scaling law", "model collapse", "synthetic data")
    tale = seed(seed_papers, "A Tale of Tails")
    assert found(m, tale.title) == [
        ("Model Collapse", "model collapse"),
        ("Scaling Laws", "scaling law"),
    ]
    assert found(m, tale.abstract) == [
        ("neural scaling laws", "neural scaling law"),
        ("scaling laws", "scaling law"),
        ("synthetic data", "synthetic data"),
        ("model collapse", "model collapse"),
        ("scaling laws", "scaling law"),
    ]


def test_no_mark_inside_a_url_of_a_seed_abstract(seed_papers: dict[str, Paper]) -> None:
    paper = seed(seed_papers, "SkeletonX")
    m = matcher("SkeletonX", "github", "skeleton")
    url_at = paper.abstract.index("https://github.com/zzysteve/SkeletonX")
    marks = m.find(paper.abstract)
    assert marks and all(mark.end <= url_at for mark in marks)
    html = render_rich_text(paper.abstract, marks, links=True)
    hrefs = HrefCollector()
    hrefs.feed(str(html))
    assert hrefs.hrefs == ["https://github.com/zzysteve/SkeletonX"]


class TextOf(HTMLParser):
    """The text content of an HTML fragment and the marks in it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.marked: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in {"mark", "em", "a", "span"} or tag.startswith("m"), tag
        if tag == "mark":
            self._depth += 1
            self.marked.append(dict(attrs)["data-keyword"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark":
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        self.text += data


class HrefCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            assert "<mark" not in (value or "")
            if name == "href":
                self.hrefs.append(value or "")


def test_highlighted_html_keeps_the_text(seed_papers: dict[str, Paper]) -> None:
    m = matcher(
        "language model",
        "scaling law",
        "diffusion",
        "in-context learning",
        "reinforcement learning",
        "training",
        "data",
        "model",
    )
    checked = 0
    for paper in seed_papers.values():
        for text in (paper.title, paper.abstract):
            if "$" in text or "*" in text or not text:
                continue
            marks = m.find(text)
            parsed = TextOf()
            parsed.feed(str(render_rich_text(text, marks)))
            assert parsed.text == text
            assert len(parsed.marked) == len(marks)
            checked += 1
    assert checked > 800


def test_escaping_stays_correct() -> None:
    m = matcher("PA&DA", "script")
    text = "PA&DA beats <script>alert(1)</script> & friends"
    marks = m.find(text)
    assert [text[x.start : x.end] for x in marks] == ["PA&DA", "script", "script"]
    html = str(render_rich_text(text, marks))
    assert "<script>" not in html
    assert '<mark data-keyword="PA&amp;DA">PA&amp;DA</mark>' in html
    parsed = TextOf()
    parsed.feed(html)
    assert parsed.text == text


def test_one_scan_scales_linearly() -> None:
    many = matcher(*[f"keyword number {i}" for i in range(2000)], "needle")
    text = "haystack words " * 2000 + "needle"
    start = time.perf_counter()
    for _ in range(10):
        assert many.find(text)[-1].label == "needle"
    assert time.perf_counter() - start < 5


# --- settings -------------------------------------------------------------------------


def test_settings_validation(site_factory) -> None:
    settings, config = settings_from(
        site_factory,
        """
        [plugins.highlight]
        keywords = ["scaling law", 3, {regex = "(unclosed"}, {regex = "a*"},
                    {term = "x", regex = "y"}, {term = "moe", color = "red"},
                    {term = "quant", colour = "red; x: y"}, {regex = "(?P<n>a)"}]
        exclude_mode = "bury"
        authrs = ["A"]
    """,
    )
    messages = "\n".join(str(i) for i in config.errors)
    assert "keywords[1]: expected a string or a table" in messages
    assert "regex: not a valid regular expression" in messages
    assert "regex: the regex matches the empty string" in messages
    assert "expected exactly one of term or regex" in messages
    assert "color: unknown key (did you mean 'colour'?)" in messages
    assert "colour: expected a CSS colour" in messages
    assert "named groups and back-references are not supported" in messages
    assert "exclude_mode: expected one of demote, hide" in messages
    assert "authrs: unknown key (did you mean 'authors'?)" in messages
    assert [k.label for k in settings.keywords.keywords] == ["scaling law", "moe", "quant"]


def test_labels_and_colours(site_factory) -> None:
    settings, config = settings_from(
        site_factory,
        """
        [plugins.highlight]
        keywords = [{term = "mixture of experts", label = "MoE", colour = "#ffcc00"},
                    {regex = "LLa?MA", label = "LLaMA"}]
    """,
    )
    assert not config.errors
    assert settings.colours == {"MoE": "#ffcc00"}
    assert found(settings.keywords, "Mixtures of Experts and LLaMA") == [
        ("Mixtures of Experts", "MoE"),
        ("LLaMA", "LLaMA"),
    ]
    css = str(highlight.mark_css({'a"b</style>': "red"}))
    assert (
        "</style>" not in css
        and '"' not in css[css.index('"') + 1 : -len('"] { background: red; }')]
    )


# --- papers ---------------------------------------------------------------------------


def make_site(papers: list[Paper], settings: HighlightSettings) -> Site:
    config = Config(path=Path("site.toml"), root=Path("."))
    config.set_plugin_settings("highlight", settings)
    return Site(config=config, date=DEMO_DATE, papers=papers)


def test_paper_data_and_scores(site_factory) -> None:
    settings, _ = settings_from(
        site_factory,
        """
        [plugins.highlight]
        keywords = ["diffusion", "scaling law"]
        authors = ["Ada  Lovelace"]
    """,
    )
    both = Paper("Scaling laws for diffusion", abstract="Diffusion models obey scaling laws.")
    abstract_only = Paper("A study", abstract="We use diffusion.")
    by_author = Paper("Notes", authors=("ada lovelace", "C. Babbage"))
    nothing = Paper("Nothing here", abstract="No keyword.")
    papers = [nothing, abstract_only, by_author, both]
    highlight.digest_papers(papers, make_site(papers, settings))
    assert both.data["highlight"]["matched"] == ["scaling law", "diffusion"]
    assert both.data["highlight"]["score"] == 4.0  # both in the title
    assert both.data["highlight"]["counts"] == {"scaling law": 2, "diffusion": 2}
    assert both.data["search"]["keywords"] == ["scaling law", "diffusion"]
    assert [m.label for m in both.data["marks"]["title"]] == ["scaling law", "diffusion"]
    assert abstract_only.data["highlight"]["score"] == 1.0
    assert by_author.data["highlight"]["authors"] == ["Ada  Lovelace"]
    assert by_author.data["highlight"]["score"] == 2.0
    assert "highlight" not in nothing.data and "marks" not in nothing.data
    assert [p.title for p in for_you(papers)] == ["Scaling laws for diffusion", "Notes", "A study"]


def test_for_you_ties_keep_the_sites_order() -> None:
    # The site's order is trending's when that plugin runs (which ranks every paper, while
    # only its top papers carry a rank in their data).
    a, b = Paper("a", abstract="diffusion"), Paper("b", abstract="diffusion")
    a.data["trending"] = {"rank": 1}
    settings = HighlightSettings(keywords=matcher("diffusion"))
    for p in (a, b):
        highlight_paper(p, settings)
    assert [p.title for p in for_you([b, a])] == ["b", "a"]
    assert [p.title for p in for_you([a, b])] == ["a", "b"]


@pytest.mark.parametrize("mode", ["demote", "hide"])
def test_exclusions(site_factory, mode: str) -> None:
    settings, _ = settings_from(
        site_factory,
        f"""
        [plugins.highlight]
        keywords = ["diffusion"]
        exclude = ["crypto"]
        exclude_mode = "{mode}"
    """,
    )
    bad = Paper("Diffusion for crypto", sightings=(Sighting("x"),))
    good = Paper("Diffusion for images")
    other = Paper("Unrelated")
    papers = [bad, good, other]
    highlight.digest_papers(papers, make_site(papers, settings))
    assert [p.title for p in papers] == [
        "Diffusion for images",
        "Unrelated",
        "Diffusion for crypto",
    ]
    assert bad.data["highlight"]["excluded"] == ["crypto"]
    if mode == "hide":
        assert bad.data["hidden"] is True
        assert [p.title for p in for_you(papers)] == ["Diffusion for images"]
    else:
        assert "hidden" not in bad.data
        assert [p.title for p in for_you(papers)] == [
            "Diffusion for images",
            "Diffusion for crypto",
        ]


# --- pages and builds -----------------------------------------------------------------


class ForYouPage(HTMLParser):
    """Card titles, the keyword counts and the marks of the For-you page."""

    def __init__(self) -> None:
        super().__init__()
        self.titles: list[str] = []
        self.counts: list[str] = []
        self.marks: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in {"h2", "h3"} and "card-title" in (a.get("class") or ""):
            self._in = "title"
            self.titles.append("")
        elif tag == "ul" and "keyword-counts" in (a.get("class") or ""):
            self._in = "counts"
        elif tag == "li" and self._in == "counts":
            self.counts.append("")
        elif tag == "mark":
            self.marks.append(a.get("data-keyword") or "")

    def handle_endtag(self, tag: str) -> None:
        if (self._in, tag) in {("title", "h2"), ("title", "h3"), ("counts", "ul")}:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.titles[-1] += data
        elif self._in == "counts" and self.counts:
            self.counts[-1] += data


HIGHLIGHT = """
[plugins.highlight]
keywords = ["language model", "scaling law", "diffusion", "in-context learning",
            "reinforcement learning", {regex = "LLa?MA", label = "LLaMA", colour = "gold"}]
exclude = ["quantization"]
exclude_mode = "hide"
"""


def test_for_you_page(site_factory, build_site) -> None:
    root = site_factory(config="page_size = 200\n" + ALL_SOURCES + HIGHLIGHT, seeds=SEEDS)
    result = build_site(root)
    page = ForYouPage()
    page.feed((result.outdir / "for-you" / "index.html").read_text(encoding="utf-8"))
    expected = for_you(result.site.papers)
    assert len(expected) > 100
    assert [t.strip() for t in page.titles] == [p.title for p in expected[:200]]
    scores = [p.data["highlight"]["score"] for p in expected]
    assert scores == sorted(scores, reverse=True)
    assert not any(p.data.get("hidden") for p in expected)
    assert not any("quantization" in p.title.lower() for p in expected)
    counts = {" ".join(c.split()[:-1]): int(c.split()[-1]) for c in page.counts}
    assert counts["scaling law"] == sum(
        "scaling law" in p.data["highlight"]["matched"] for p in expected
    )
    assert counts["scaling law"] > 20 and counts["LLaMA"] > 0
    assert set(page.marks) <= {
        "language model",
        "scaling law",
        "diffusion",
        "in-context learning",
        "reinforcement learning",
        "LLaMA",
    }
    assert "For you" in (result.outdir / "index.html").read_text(encoding="utf-8")
    style = (result.outdir / "for-you" / "index.html").read_text(encoding="utf-8")
    assert 'mark[data-keyword="LLaMA"] { background: gold; }' in style
    # Hidden papers still have their own page.
    hidden = next(p for p in result.site.papers if p.data.get("hidden"))
    assert (result.outdir / result.site.paper_url(hidden) / "index.html").exists()


SEARCH_A = """
[[sources]]
name = "Search: scaling"
path = "data/hf-papers-search-a.txt"
"""


def test_marks_render_on_paper_pages(site_factory, build_site) -> None:
    root = site_factory(config=SEARCH_A + HIGHLIGHT, seeds=["hf-papers-search-a.txt"])
    result = build_site(root)
    paper = next(p for p in result.site.papers if p.title.startswith("A Tale of Tails"))
    html = (result.outdir / result.site.paper_url(paper) / "index.html").read_text("utf-8")
    assert '<mark data-keyword="scaling law">Scaling Laws</mark>' in html
    hrefs = HrefCollector()
    hrefs.feed(html)


def test_build_without_highlight(site_factory, build_site) -> None:
    root = site_factory(
        config=SEARCH_A + HIGHLIGHT + '\n[plugins]\ndisabled = ["highlight"]\n',
        seeds=["hf-papers-search-a.txt"],
    )
    result = build_site(root)
    assert not (result.outdir / "for-you").exists()
    assert all("marks" not in p.data and "highlight" not in p.data for p in result.site.papers)
    home = (result.outdir / "index.html").read_text(encoding="utf-8")
    assert "<mark" not in home and 'href="for-you/"' not in home


def test_order_is_untouched_without_exclusions() -> None:
    papers = [Paper("b", date=dt.date(2024, 1, 2)), Paper("a", date=dt.date(2024, 1, 1))]
    ordered = newest_first(papers)
    settings = HighlightSettings(keywords=matcher("a"))
    highlight.digest_papers(ordered, make_site(ordered, settings))
    assert [p.title for p in ordered] == ["b", "a"]
