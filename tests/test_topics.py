"""The topics plugin: rule scoring on hand-made papers, the default taxonomy on the real
seed listings, automatic clusters, the home page groups, topic pages, feeds and a build
without the plugin."""

from __future__ import annotations

import collections
import shutil
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin
from xml.etree import ElementTree as ET

import pytest
from conftest import DATA, DEMO_DATE, load_seed_papers

from digest.config import Config, load_config
from digest.model import Paper, newest_first
from digest.richtext import plain_text
from digest.site import Site
from plugins import digest_topics as topics
from plugins.digest_topics import (
    DEFAULT_TOPICS,
    TaxonomyMatcher,
    Topic,
    TopicsSettings,
    assign_topics,
    choose_topics,
    cluster,
    term_index,
    topic_groups,
)

DAILY = """
[[sources]]
name = "Daily papers"
path = "data/hf-daily-papers.txt"
"""
SMALL = (
    Topic("Graphs", "graphs", ("graph neural network", "GNN"), ("graph of thoughts",)),
    Topic("Diffusion", "diffusion", ("diffusion model", "denoising")),
    Topic("Language", "language", ("language model",), (), 0.5),
)


def make_site(papers: list[Paper], settings: TopicsSettings) -> Site:
    config = Config(path=Path("site.toml"), root=Path("."))
    config.set_plugin_settings("topics", settings)
    return Site(config=config, date=DEMO_DATE, papers=papers)


def run(papers: list[Paper], settings: TopicsSettings) -> Site:
    site = make_site(papers, settings)
    topics.digest_papers(papers, site)
    return site


def slugs(paper: Paper) -> list[str]:
    return [t["slug"] for t in paper.data["topics"]["all"]]


@pytest.fixture(scope="module")
def seed_papers(tmp_path_factory: pytest.TempPathFactory) -> list[Paper]:
    """Every merged paper of the four seed listings, newest first (loaded once)."""
    return newest_first(load_seed_papers(tmp_path_factory.mktemp("seeds")))


@pytest.fixture(scope="module")
def seed_assignment(seed_papers: list[Paper]) -> topics.Assignment:
    return assign_topics(seed_papers, TopicsSettings())


# --- rules ----------------------------------------------------------------------------


def test_title_matches_weigh_more_than_abstract_matches() -> None:
    settings = TopicsSettings(topics=SMALL, min_score=0.5)
    matcher = TaxonomyMatcher(SMALL)
    p = Paper("Graph Neural Networks at scale", abstract="We train a diffusion model.")
    scores = {SMALL[t].slug: s for s, t in matcher.scores(p, settings)}
    assert scores == {"graphs": 3.0, "diffusion": 1.0}


def test_abstract_repeats_count_up_to_three_times() -> None:
    settings = TopicsSettings(topics=SMALL)
    p = Paper("A study", abstract="denoising " * 10 + "GNNs and GNN")
    scores = {SMALL[t].slug: s for s, t in TaxonomyMatcher(SMALL).scores(p, settings)}
    assert scores == {"diffusion": 3.0, "graphs": 2.0}


def test_exclusions_and_weights() -> None:
    settings = TopicsSettings(topics=SMALL)
    matcher = TaxonomyMatcher(SMALL)
    excluded = Paper("Graph of Thoughts for graph neural networks")
    assert matcher.scores(excluded, settings) == []
    weighted = Paper("Language models", abstract="language models")
    assert matcher.scores(weighted, settings) == [(2.0, 2)]  # (3 + 1) · 0.5


def test_longest_keyword_wins_an_overlap() -> None:
    taxonomy = (
        Topic("LM", "lm", ("language model",)),
        Topic("VLM", "vlm", ("vision-language model",)),
    )
    settings = TopicsSettings(topics=taxonomy)
    p = Paper("Vision-Language Models", abstract="vision language models")
    assert TaxonomyMatcher(taxonomy).scores(p, settings) == [(4.0, 1)]


def test_primary_and_secondary_topics() -> None:
    settings = TopicsSettings(topics=SMALL, max_topics=2, secondary_ratio=0.5)
    scored = [(9.0, 0), (5.0, 1), (4.0, 2)]
    assert choose_topics(scored, settings) == [0, 1]
    assert choose_topics([(9.0, 0), (4.0, 1)], settings) == [0]  # below half the primary
    assert choose_topics([(1.0, 0)], settings) == []  # below min_score
    assert choose_topics(scored, TopicsSettings(max_topics=1)) == [0]


def test_data_contract() -> None:
    papers = [
        Paper("Diffusion models for graphs", abstract="A diffusion model with a GNN and GNNs."),
        Paper("Untitled", abstract="Nothing to see."),
    ]
    site = run(papers, TopicsSettings(topics=SMALL, auto=False))
    first = papers[0].data["topics"]
    assert first["primary"] == {
        "slug": "diffusion",
        "name": "Diffusion",
        "url": "topics/diffusion/",
    }
    assert first["all"][0] == first["primary"]
    assert [t["slug"] for t in first["all"]] == ["diffusion", "graphs"]
    assert papers[0].data["search"]["topics"] == ["Diffusion", "Graphs"]
    assert papers[1].data["topics"]["primary"]["slug"] == "other"
    assert papers[1].data["search"]["topics"] == []
    assert site.data["topics"] == [
        {"slug": "diffusion", "name": "Diffusion", "url": "topics/diffusion/", "count": 1},
        {"slug": "graphs", "name": "Graphs", "url": "topics/graphs/", "count": 1},
        {"slug": "other", "name": "Other", "url": "topics/other/", "count": 1},
    ]


def test_topic_groups_keep_order_and_never_repeat_a_paper() -> None:
    papers = [
        Paper("Denoising A"),
        Paper("GNN B"),
        Paper("Denoising C"),
        Paper("Plain D"),
        Paper("GNN and denoising E"),
    ]
    run(papers, TopicsSettings(topics=SMALL, auto=False, min_score=1))
    papers[3].data["hidden"] = True
    groups = topic_groups(papers)
    assert [g["name"] for g in groups] == ["Diffusion", "Graphs"]
    assert [[p.title for p in g["papers"]] for g in groups] == [
        ["Denoising A", "Denoising C"],
        ["GNN B", "GNN and denoising E"],
    ]
    assert groups[0]["url"] == "topics/diffusion/"


def test_settings_validation(site_factory) -> None:
    root = site_factory(
        config="""
        [plugins.topics]
        mode = "magic"
        max_topic = 2

        [[plugins.topics.topics]]
        name = "Graphs"
        keywords = ["graph"]

        [[plugins.topics.topics]]
        name = "Graphs again"
        slug = "graphs"
        keywords = ["GNN"]

        [[plugins.topics.topics]]
        name = "Misc"
        slug = "other"
        keywords = ["misc"]

        [[plugins.topics.topics]]
        name = "Empty"

        [[plugins.topics.topics]]
        name = "Bad slug"
        slug = "Bad Slug"
        keywords = ["x"]
        colour = "red"
    """
    )
    config = load_config(root / "site.toml")
    topics.digest_configure(config)
    messages = "\n".join(str(i) for i in config.errors)
    assert "mode: expected one of rules, auto" in messages
    assert "max_topic: unknown key (did you mean 'max_topics'?)" in messages
    assert 'slug: the slug "graphs" is used by another topic' in messages
    assert 'slug: "other" is reserved' in messages
    assert "[plugins.topics.topics[3]] keywords: expected at least one keyword" in messages
    assert "slug: expected lowercase letters, digits and hyphens" in messages
    assert "[plugins.topics.topics[4]] colour: unknown key" in messages
    settings = config.settings_for("topics")
    assert [t.slug for t in settings.topics] == ["graphs"]


def test_site_taxonomy_replaces_or_extends_the_default(site_factory) -> None:
    table = """
        [[plugins.topics.topics]]
        name = "Graph learning"
        slug = "graphs"
        keywords = ["graph"]
    """
    for extend, expected in ((False, 1), (True, len(DEFAULT_TOPICS))):
        root = site_factory(
            config=f"[plugins.topics]\nextend_defaults = {str(extend).lower()}\n" + table
        )
        config = load_config(root / "site.toml")
        topics.digest_configure(config)
        assert not config.errors
        taxonomy = config.settings_for("topics").topics
        assert len(taxonomy) == expected
        assert taxonomy[0].keywords == ("graph",)


# --- the default taxonomy on the seeds -------------------------------------------------


def test_default_taxonomy_quality_on_the_seeds(seed_papers, seed_assignment) -> None:
    primaries = collections.Counter(seed_assignment.papers[p.key][0] for p in seed_papers)
    n = len(seed_papers)
    assert n > 500
    assert primaries["other"] / n <= 0.10
    assert max(primaries.values()) / n <= 0.35
    assert len([s for s in primaries if s != "other"]) >= 12
    for paper in seed_papers:
        assigned = seed_assignment.papers[paper.key]
        assert 1 <= len(assigned) <= 3
        assert len(set(assigned)) == len(assigned)


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Scaling Laws Under the Microscope", "scaling-laws"),
        ("Observational Scaling Laws and the Predictability", "scaling-laws"),
        ("Improved Denoising Diffusion Probabilistic Models", "generative"),
        ("Your Diffusion Model is Secretly a Zero-Shot Classifier", "generative"),
        ("OGB-LSC: A Large-Scale Challenge for Machine Learning on Graphs", "graphs"),
        ("Towards Foundation Models for Knowledge Graph Reasoning", "graphs"),
        ("The Curse of Diversity in Ensemble-Based Exploration", "reinforcement-learning"),
        ("Adaptive Rollout Length for Model-Based RL", "reinforcement-learning"),
        ("Dense Text Retrieval based on Pretrained Language Models", "retrieval"),
        ("Understanding the Impact of Post-Training Quantization", "efficiency"),
        ("Evolutionary Optimization of Model Merging Recipes", "merging-transfer"),
        ("Emergent Misalignment", "safety-alignment"),
        ("Densely Connected Convolutional Networks for Speech Recognition", "speech-audio"),
        ("Foundation Models in Robotics", "robotics"),
        ("ALWOD: Active Learning for Weakly-Supervised Object Detection", "vision"),
        ("A foundation model for atomistic materials chemistry", "science-medicine"),
        ("Simplified State Space Layers for Sequence Modeling", "architectures"),
        ("GPT-SW3: An Autoregressive Language Model", "language-models"),
    ],
)
def test_unambiguous_seed_papers(seed_papers, seed_assignment, title: str, slug: str) -> None:
    paper = next(p for p in seed_papers if p.title.startswith(title))
    assert seed_assignment.papers[paper.key][0] == slug


def test_assignment_is_deterministic(seed_papers, seed_assignment) -> None:
    again = assign_topics(list(reversed(seed_papers)), TopicsSettings())
    assert again.papers == seed_assignment.papers


# --- automatic clusters ---------------------------------------------------------------


def test_auto_mode_clusters_the_seeds_with_readable_labels(seed_papers) -> None:
    result = assign_topics(seed_papers, TopicsSettings(mode="auto"))
    primaries = collections.Counter(result.papers[p.key][0] for p in seed_papers)
    n = len(seed_papers)
    assert primaries["other"] / n <= 0.10
    assert max(primaries.values()) / n <= 0.35
    names = {result.topics[s]["name"] for s in primaries}
    assert {"Diffusion", "Quantization", "Scaling laws"} <= names
    assert all(size >= 3 for slug, size in primaries.items() if slug != "other")
    retrieval = next(p for p in seed_papers if p.title.startswith("Dense Text Retrieval based"))
    assert "retrieval" in result.topics[result.papers[retrieval.key][0]]["name"].lower()


def test_rules_place_unmatched_papers_in_clusters() -> None:
    taxonomy = (Topic("Graphs", "graphs", ("graph",)),)
    papers = [
        Paper(f"Skeleton action recognition {i}", abstract=f"skeleton action part{i}")
        for i in range(4)
    ]
    papers += [Paper("A graph paper"), Paper("Something unique entirely")]
    result = assign_topics(papers, TopicsSettings(topics=taxonomy, min_score=1))
    labels = {result.topics[result.papers[p.key][0]]["name"] for p in papers[:4]}
    assert labels == {"Skeleton action"}
    assert result.papers[papers[4].key] == ["graphs"]
    assert result.papers[papers[5].key] == ["other"]
    off = assign_topics(papers, TopicsSettings(topics=taxonomy, min_score=1, auto=False))
    assert off.papers[papers[0].key] == ["other"]


def test_clustering_is_linear_ish() -> None:
    words = [f"w{i}x" for i in range(400)]

    def corpus(n: int) -> list[Paper]:
        return [
            Paper(
                f"paper {i} {words[i % 400]}term {words[(i * 7) % 400]}term",
                abstract=" ".join(f"{words[(i * k) % 400]}term" for k in range(1, 30)),
            )
            for i in range(n)
        ]

    def timed(n: int) -> float:
        papers = corpus(n)
        start = time.perf_counter()
        clusters = cluster(papers, term_index(papers, papers), 3)
        assert clusters
        return time.perf_counter() - start

    small, large = timed(500), timed(4000)
    assert large < small * 8 * 3  # far from the 64x of a pairwise method


# --- pages, feeds and builds ----------------------------------------------------------


class Parsed(HTMLParser):
    """Headings, table rows, chips, card titles and SVGs of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.cards: list[str] = []
        self.chips: list[list[str]] = []
        self.svgs = 0
        self.groups: list[str] = []
        self.links: list[str] = []
        self._cell: str | None = None
        self._title = False
        self._group = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        cls = a.get("class") or ""
        if tag == "tr":
            self.rows.append([])
        elif tag in {"td", "th"} and self.rows:
            self.rows[-1].append("")
            self._cell = tag
        elif tag == "svg":
            self.svgs += 1
        elif tag == "article":
            self.chips.append([])
        elif tag in {"h2", "h3"} and "card-title" in cls:
            self.cards.append("")
            self._title = True
        elif tag == "h2" and (a.get("id") or "").startswith("group-"):
            self.groups.append("")
            self._group = True
        elif tag == "a" and "chip" in cls:
            self.chips[-1].append(a.get("href") or "")
        if tag == "a":
            self.links.append(a.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"}:
            self._cell = None
        elif tag in {"h2", "h3"}:
            self._title = self._group = False

    def handle_data(self, data: str) -> None:
        if self._cell and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data
        if self._title:
            self.cards[-1] += data
        if self._group:
            self.groups[-1] += data


def parse(path: Path) -> Parsed:
    page = Parsed()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def daily_build(tmp_path_factory: pytest.TempPathFactory):
    """The daily papers seed built with small pages (once for the module)."""
    from digest.build import build

    root = tmp_path_factory.mktemp("daily")
    (root / "data").mkdir()
    shutil.copy(DATA / "hf-daily-papers.txt", root / "data")
    (root / "site.toml").write_text("page_size = 10\n" + DAILY, encoding="utf-8")
    return build(root / "site.toml", date=DEMO_DATE)


def test_topics_index_page(daily_build) -> None:
    site, out = daily_build.site, daily_build.outdir
    page = parse(out / "topics" / "index.html")
    body = page.rows[1:]
    assert [row[0].strip() for row in body] == [t["name"] for t in site.data["topics"]]
    assert [int(row[1]) for row in body] == [t["count"] for t in site.data["topics"]]
    assert page.svgs >= 3  # a sparkline for each topic with recent papers
    svg = (out / "topics" / "index.html").read_text(encoding="utf-8")
    start = svg.index("<svg")
    ET.fromstring(svg[start : svg.index("</svg>", start) + 6])  # well-formed
    assert '<a href="topics/"' in (out / "index.html").read_text(encoding="utf-8")


def test_topic_pages_are_paginated_with_chips(daily_build) -> None:
    site, out = daily_build.site, daily_build.outdir
    biggest = max(site.data["topics"], key=lambda t: t["count"])
    assert biggest["count"] > 10
    first = parse(out / "topics" / biggest["slug"] / "index.html")
    second = parse(out / "topics" / biggest["slug"] / "page" / "2" / "index.html")
    members = [p for p in site.papers if biggest["slug"] in slugs(p)]
    assert [t.strip() for t in first.cards + second.cards][:20] == [p.title for p in members][:20]
    assert len(first.cards) == 10
    assert all(chips for chips in first.chips)
    assert all(href.startswith(("../", "./")) for chips in first.chips for href in chips)


def pager_items(path: Path) -> list[tuple[str, str | None]]:
    """(text, href) of each item of a page's pager, in order."""

    class Pager(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.depth = 0
            self.items: list[tuple[str, str | None]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found = dict(attrs)
            if tag == "nav" and found.get("class") == "pager":
                self.depth = 1
            elif self.depth and tag in ("a", "span"):
                self.items.append(("", found.get("href")))

        def handle_endtag(self, tag: str) -> None:
            if tag == "nav":
                self.depth = 0

        def handle_data(self, data: str) -> None:
            if self.depth and self.items and data.strip():
                text, href = self.items[-1]
                self.items[-1] = (text + data.strip(), href)

    parser = Pager()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.items


def test_a_long_topic_listing_has_a_short_pager(tmp_path: Path) -> None:
    # Every page of a listing of P pages linking all P would make its pagers grow as P².
    from digest.build import build

    (tmp_path / "data").mkdir()
    shutil.copy(DATA / "hf-daily-papers.txt", tmp_path / "data")
    (tmp_path / "site.toml").write_text("page_size = 2\n" + DAILY, encoding="utf-8")
    result = build(tmp_path / "site.toml", date=DEMO_DATE)
    biggest = max(result.site.data["topics"], key=lambda t: t["count"])
    total = -(-biggest["count"] // 2)
    assert total >= 9
    folder = result.outdir / "topics" / biggest["slug"]
    items = pager_items(folder / "page" / "5" / "index.html")
    assert [text for text, _ in items] == [
        "← Newer", "1", "…", "3", "4", "5", "6", "7", "…", str(total), "Older →"
    ]  # fmt: skip
    here = f"https://example.org/d/topics/{biggest['slug']}/page/5/"
    targets = {text: href and urljoin(here, href) for text, href in items}
    listing = f"https://example.org/d/topics/{biggest['slug']}/"
    assert targets["1"] == listing and targets["5"] is None
    assert targets["4"] == targets["← Newer"] == f"{listing}page/4/"
    assert targets[str(total)] == f"{listing}page/{total}/"
    assert (folder / "page" / "4" / "index.html").is_file()
    assert [text for text, _ in pager_items(folder / "index.html")][:4] == ["1", "2", "3", "…"]


def test_topic_feeds(daily_build) -> None:
    site, out = daily_build.site, daily_build.outdir
    atom = "{http://www.w3.org/2005/Atom}"
    for topic in site.data["topics"]:
        feed = ET.parse(out / "topics" / topic["slug"] / "feed.xml").getroot()
        entries = feed.findall(f"{atom}entry")
        assert len(entries) == min(topic["count"], 50)
        assert feed.find(f"{atom}title").text.endswith(topic["name"])  # type: ignore[union-attr]
        members = newest_first(p for p in site.papers if topic["slug"] in slugs(p))
        titles = [e.find(f"{atom}title").text for e in entries]  # type: ignore[union-attr]
        assert titles == [plain_text(p.title) for p in members[:50]]


def test_home_page_groups_by_topic(daily_build) -> None:
    site, out = daily_build.site, daily_build.outdir
    home = parse(out / "index.html")
    first_page = site.papers[:10]
    expected = topic_groups(first_page)
    assert [g.split()[0] for g in home.groups] == [g["name"].split()[0] for g in expected]
    assert sorted(home.cards) == sorted(p.title for p in first_page)
    assert len(home.cards) == len(set(home.cards))


def test_build_without_topics(site_factory, build_site) -> None:
    root = site_factory(
        config=DAILY + '\n[plugins]\ndisabled = ["topics"]\n', seeds=["hf-daily-papers.txt"]
    )
    result = build_site(root)
    assert not (result.outdir / "topics").exists()
    assert all("topics" not in p.data for p in result.site.papers)
    home = parse(result.outdir / "index.html")
    assert home.groups == [] and all(chips == [] for chips in home.chips)
    assert "topics/" not in home.links


def test_auto_mode_builds(site_factory: Callable[..., Path], build_site) -> None:
    root = site_factory(
        config=DAILY + '\n[plugins.topics]\nmode = "auto"\n', seeds=["hf-daily-papers.txt"]
    )
    result = build_site(root)
    names = [t["name"] for t in result.site.data["topics"]]
    assert names and all(
        (result.outdir / t["url"] / "index.html").exists() for t in result.site.data["topics"]
    )
    assert "Other" in names


def test_each_topic_has_a_bibtex_file_linked_from_its_page(demo_site) -> None:
    out = demo_site.outdir
    topics = demo_site.site.data["topics"]
    assert topics
    for topic in topics:
        bib = (out / topic["url"] / "papers.bib").read_text(encoding="utf-8")
        assert bib.count("\n@") + bib.startswith("@") == topic["count"], topic["slug"]
        page = (out / topic["url"] / "index.html").read_text(encoding="utf-8")
        assert 'href="../../topics/' + topic["slug"] + '/papers.bib"' in page
