"""Search: the index the build writes is the one lunr.js would build, lunr.js answers queries
on it (run in Node, as the search page runs it), and the shard cache is deterministic and
reused only for unchanged papers."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from conftest import REPO, SiteFactory

from digest import search
from digest.build import BuildResult
from digest.publish import OutputDir

SCRIPT = REPO / "tests" / "search_query.js"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (REPO / "node_modules" / "lunr").is_dir(),
    reason="needs Node and `npm ci` (lunr.js in node_modules)",
)


def node(*args: str | Path) -> Any:
    """Run tests/search_query.js and parse what it prints."""
    done = subprocess.run(
        ["node", str(SCRIPT), *map(str, args)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def query(manifest: Path, *queries: str, first_only: bool = False) -> list[dict[str, Any]]:
    """lunr.js's answers for `queries` over a built site's index."""
    flags = ["--first-only"] if first_only else []
    out = node(*flags, manifest, *queries)
    assert out["complete"] is not first_only
    return list(out["answers"])


def urls(answer: dict[str, Any]) -> list[str]:
    return [r["url"] for r in answer["results"]]


def record(title: str, abstract: str, date: str, authors: tuple[str, ...] = (), n: int = 0) -> str:
    """One line of canonical paper JSON."""
    return json.dumps(
        {
            "title": title,
            "abstract": abstract,
            "authors": list(authors),
            "date": date,
            "arxiv_id": f"{date[2:4]}{date[5:7]}.{10000 + n}",
        }
    )


CONFIG = """\
    title = "Search test"
    base_url = "https://example.org/sub/path/"
    [[sources]]
    name = "papers"
    path = "papers.jsonl"
    format = "jsonl"
    [plugins]
    local = ["searchwords"]
    """

# A site-local plugin: topics and keywords the index must carry (paper.data["search"]).
PLUGIN = """\
    from digest import hookimpl

    @hookimpl(trylast=True)
    def digest_papers(papers, site):
        for paper in papers:
            if "Quokka" in paper.title:
                paper.data["search"] = {"topics": ["Marsupial studies"], "keywords": ["wallaby"]}
    """

PAPERS = [
    ("Quokka Transformers Scale Gracefully", "We study how marsupial networks scale.",
     "2024-03-02", ("Ada Lovelace", "Grace Hopper")),
    ("Diffusion Models for Weather", "Forecasting storms with denoising diffusion.",
     "2024-07-19", ("Grace Hopper",)),
    ("Scaling Laws Revisited", "Larger models, more data: the displays of scaling behaviour.",
     "2023-11-05", ("Alan Turing",)),
    ("Vision Transformers at Scale", "Images as patches; scaling vision backbones.",
     "2023-02-14", ("Edsger Dijkstra",)),
    ("Tricky Tokens: (Parentheses), Hyphen-ated—Dashes & Ünïcödé",
     "Edge cases: a.b, don't; __init__ —  ÜBER ﻿zero-width İstanbul ΣΟΦΟΣ 𝒜ed ba𝒜ing yelling",
     "2023-02-20", ("Zoë Ölçer",)),
]  # fmt: skip


def make_site(site_factory: SiteFactory, papers: list[tuple[Any, ...]] = PAPERS) -> Path:
    lines = [record(t, a, d, au, n) for n, (t, a, d, au) in enumerate(papers)]
    return site_factory(
        config=CONFIG,
        files={"papers.jsonl": "\n".join(lines) + "\n", "plugins/searchwords.py": PLUGIN},
    )


def search_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in (out / "search").iterdir()}


# ---------------------------------------------------------------------------------------------
# The text pipeline and the index are lunr.js's


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("scaling", "scale"),
        ("scale", "scale"),
        ("display", "display"),  # lunr.py would say "displai"
        ("fly", "fli"),
        ("yelling", "yell"),
        ("generalization", "gener"),
        ("𝒜s", "𝒜"),  # lengths count UTF-16 code units, as in JavaScript
    ],
)
def test_porter_stem_is_lunr_js(word: str, stem: str) -> None:
    assert search.porter_stem(word) == stem


def test_tokenize_splits_like_lunr_js() -> None:
    words = ["pre", "training", "big", "models"]
    assert search.tokenize("Pre-training\u2003BIG\ufeffmodels") == words
    # \x1c is whitespace to Python but not to JavaScript
    assert search.tokenize("a\x1cb c") == ["a\x1cb", "c"]
    assert search.field_terms("The models, and (the) model.") == ({"model": 2}, 2)


def normalize(serialized: dict[str, Any]) -> dict[str, Any]:
    """A serialized lunr index with term numbers replaced by terms (lunr numbers terms in the
    order it meets them, the engine in sorted order) and empty field vectors dropped."""
    term_of = {posting["_index"]: term for term, posting in serialized["invertedIndex"]}
    vectors = {}
    for ref, elements in serialized["fieldVectors"]:
        indexes = elements[0::2]
        assert indexes == sorted(indexes), ref
        if elements:
            vectors[ref] = {
                term_of[i]: score for i, score in zip(indexes, elements[1::2], strict=True)
            }
    inverted = {
        term: {f: list(docs) for f, docs in posting.items() if f != "_index"}
        for term, posting in serialized["invertedIndex"]
    }
    assert [term for term, _ in serialized["invertedIndex"]] == sorted(inverted)
    return {
        "version": serialized["version"],
        "fields": serialized["fields"],
        "pipeline": serialized["pipeline"],
        "invertedIndex": inverted,
        "fieldVectors": vectors,
    }


def reference_index(site: BuildResult, tmp_path: Path) -> dict[str, Any]:
    """What lunr.js's own Builder makes of the site's papers."""
    docs = search.site_docs(site.site)
    spec = {
        "fields": [{"name": n, "boost": b} for n, b in search.FIELDS],
        "docs": [{"ref": d.ref, **{n: d.field_text(n) for n, _ in search.FIELDS}} for d in docs],
    }
    path = tmp_path / "docs.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return dict(node("--reference", path))


def test_index_is_what_lunr_js_builds(
    site_factory: SiteFactory, build_site: Callable[..., BuildResult], tmp_path: Path
) -> None:
    result = build_site(make_site(site_factory))
    ours = node("--dump", result.outdir / "search" / "manifest.json")
    expected = normalize(reference_index(result, tmp_path))
    assert normalize(ours) == expected
    # the tricky tokens made it through the same way (trimmed to "" included, as lunr.js does)
    assert {"", "parenthes", "a.b", "don't", "__init__"} <= expected["invertedIndex"].keys()


def test_numbers_past_the_surrogates_survive(tmp_path: Path) -> None:
    """Term numbers and frequencies travel as characters (`encode_numbers`): numbers that
    need the characters above the surrogates, or a surrogate pair, decode right too."""
    values = [0, 1, 95, 96, 55_263, 55_264, 63_455, 63_456, 70_000, 1_000_000]
    encoded = search.encode_numbers(values)
    assert len(encoded) == len(values)
    assert not any("\ud800" <= c <= "\udfff" for c in encoded)
    assert search.encode_numbers([1, 2]) == '!"'
    # An abstract with 64,000 distinct terms and one said 56,000 times; a paper whose only
    # term sorts after all of them (its first gap is 64,000).
    letters = "bcdfghjklmnpqrtvwxz"
    words = [a + b + c + d for a in letters for b in letters for c in letters for d in letters]
    docs = [
        search.SearchDoc("papers/a/", "Alpha", "2024-01-02", (), (), (),
                         " ".join(words[:64_000]) + " bbbb" * 55_999),
        search.SearchDoc("papers/z/", "Omega", "2024-01-01", (), (), (), "zzzz"),
    ]  # fmt: skip
    search.write_search_files(docs, OutputDir(tmp_path / "site"), search.ShardCache(None), 1)
    manifest = tmp_path / "site" / "search" / "manifest.json"
    ours = normalize(node("--dump", manifest))
    spec = {
        "fields": [{"name": n, "boost": b} for n, b in search.FIELDS],
        "docs": [{"ref": d.ref, **{n: d.field_text(n) for n, _ in search.FIELDS}} for d in docs],
    }
    (tmp_path / "docs.json").write_text(json.dumps(spec), encoding="utf-8")
    assert ours == normalize(node("--reference", tmp_path / "docs.json"))
    assert len(ours["invertedIndex"]) > 64_000


def test_demo_index_is_what_lunr_js_builds(demo_site: BuildResult, tmp_path: Path) -> None:
    ours = node("--dump", demo_site.outdir / "search" / "manifest.json")
    assert normalize(ours) == normalize(reference_index(demo_site, tmp_path))


def test_results_match_an_index_lunr_py_builds(
    site_factory: SiteFactory, build_site: Callable[..., BuildResult], tmp_path: Path
) -> None:
    """lunr.py's index, queried by lunr.js, finds the same papers in the same order, except
    where lunr.py's stemmer departs from lunr.js's (words ending in a consonant and "y")."""
    from lunr import lunr

    papers = [p for p in PAPERS if "Tricky" not in p[0]]
    result = build_site(make_site(site_factory, papers))
    docs = search.site_docs(result.site)
    index = lunr(
        ref="ref",
        fields=[{"field_name": n, "boost": b} for n, b in search.FIELDS],
        documents=[{"ref": d.ref, **{n: d.field_text(n) for n, _ in search.FIELDS}} for d in docs],
    )
    path = tmp_path / "lunr-py.json"
    path.write_text(json.dumps(index.serialize()), encoding="utf-8")
    queries = ["scaling", "scale", "title:diffusion", "+scaling -vision", "scal*", "hopper",
               "transformers marsupial", "wallaby", "topics:marsupial"]  # fmt: skip
    theirs = node("--lunr-index", path, *queries)["answers"]
    ours = query(result.outdir / "search" / "manifest.json", *queries)
    for q, their, our in zip(queries, theirs, ours, strict=True):
        assert [r["ref"] for r in their] == urls(our), q
        assert [round(r["score"], 3) for r in their] == [r["score"] for r in our["results"]], q
    # "displays" is in one abstract: lunr.py indexes "displai", which lunr.js never asks for.
    assert node("--lunr-index", path, "displays")["answers"] == [[]]
    assert len(query(result.outdir / "search" / "manifest.json", "displays")[0]["results"]) == 1


# Every kind of clause lunr's query language has, alone and mixed: plain, stemmed, fielded,
# boosted, required, prohibited (also alone: lunr then returns everything else), wildcards,
# fuzzy terms, a required term no document has, a repeated term, common and rare words.
EQUIVALENCE_QUERIES = [
    "scaling", "scaling laws", "language models", "model", "training", "diffusion models",
    "title:scaling", "authors:tian", "topics:marsupial", "abstract:hypercloning", "wallaby",
    "scaling^10 laws", "title:transformer^3 vision", "+scaling -vision", "+scaling +laws",
    "-vision", "-scaling -vision", "+zzzq scaling", "scaling scaling", "scal*", "*ing",
    "tr*ing", "+title:scal* +abstract:law*", "a*", "1*", "2*", "*", "__*", "scalng~1",
    "lanuage~2 model", "transformers", "the of and", "hypercl*", "jin tian",
    "low-rank adaptation", "ünïcödé", "a.b don't",
]  # fmt: skip


@pytest.mark.parametrize("first_only", [False, True])
def test_the_engine_answers_exactly_as_lunr_js(
    demo_site: BuildResult,
    site_factory: SiteFactory,
    build_site: Callable[..., BuildResult],
    first_only: bool,
) -> None:
    """The engine answers lunr.Index#query itself, from typed arrays: the same documents,
    in the same order, with the same scores (bit for bit) and match data as lunr.js's own
    query on the same index."""
    tricky = build_site(make_site(site_factory))
    for site in (demo_site, tricky):
        flags = ["--first-only"] if first_only else []
        manifest = site.outdir / "search" / "manifest.json"
        out = node("--check", *flags, manifest, *EQUIVALENCE_QUERIES)
        assert out["differences"] == []
        assert out["checked"] == len(EQUIVALENCE_QUERIES)


# ---------------------------------------------------------------------------------------------
# lunr.js answers queries on the demo digest


def paper_url(demo: BuildResult, title_start: str) -> str:
    matches = [p for p in demo.site.papers if p.title.startswith(title_start)]
    assert len(matches) == 1, title_start
    return demo.site.paper_url(matches[0])


def marked(text: str, ranges: list[int]) -> list[str]:
    return [text[start:end] for start, end in zip(ranges[::2], ranges[1::2], strict=True)]


def test_title_query_finds_the_paper_first(demo_site: BuildResult) -> None:
    manifest = demo_site.outdir / "search" / "manifest.json"
    title = "Unit Scaling: Out-of-the-Box Low-Precision Training"
    for answer in query(manifest, title, first_only=True) + query(manifest, title):
        assert urls(answer)[0] == paper_url(demo_site, title)
        first = answer["results"][0]
        assert first["title"] == title
        assert marked(title, first["marks"]["title"]) == [
            "Unit", "Scaling", "Out", "Box", "Low", "Precision", "Training"
        ]  # fmt: skip


def test_author_query_finds_the_authors_papers(demo_site: BuildResult) -> None:
    theirs = {demo_site.site.paper_url(p) for p in demo_site.site.papers if "Tian Jin" in p.authors}
    assert theirs
    (answer,) = query(demo_site.outdir / "search" / "manifest.json", "+authors:tian +authors:jin")
    assert set(urls(answer)) == theirs
    (answer,) = query(demo_site.outdir / "search" / "manifest.json", "Tian Jin")
    assert set(urls(answer)[: len(theirs)]) == theirs


def test_prefix_and_stemmed_queries(demo_site: BuildResult) -> None:
    manifest = demo_site.outdir / "search" / "manifest.json"
    scaling, scale, prefix = query(manifest, "title:scaling", "title:scale", "title:scal*")
    assert urls(scaling) == urls(scale)
    assert len(urls(scaling)) > 5
    assert set(urls(scaling)) < set(urls(prefix))
    assert any(r["title"].startswith("ScaLearn") for r in prefix["results"])


def test_abstract_words_are_found_once_the_abstracts_are_loaded(demo_site: BuildResult) -> None:
    manifest = demo_site.outdir / "search" / "manifest.json"
    url = paper_url(demo_site, "Scaling Smart: Accelerating Large Language Model Pre-training")
    (first_tier,) = query(manifest, "HyperCloning", first_only=True)
    assert first_tier["results"] == []
    (everything,) = query(manifest, "HyperCloning")
    assert urls(everything) == [url]
    (answer,) = query(manifest, "introduce HyperCloning")
    assert urls(answer)[0] == url


def test_presence_and_field_queries(demo_site: BuildResult) -> None:
    manifest = demo_site.outdir / "search" / "manifest.json"
    docs = {d.ref: d for d in search.site_docs(demo_site.site)}

    def terms(url: str, fields: tuple[str, ...]) -> set[str]:
        return {t for f in fields for t in search.field_terms(docs[url].field_text(f))[0]}

    everything = tuple(name for name, _ in search.FIELDS)
    required, titled = query(manifest, "+scaling -vision", "title:diffusion")
    assert required["results"]
    for url in urls(required):
        assert "scale" in terms(url, everything)
        assert "vision" not in terms(url, everything)
    assert titled["results"]
    assert all("diffus" in terms(url, ("title",)) for url in urls(titled))


def test_syntax_errors_fall_back_to_the_plain_words(demo_site: BuildResult) -> None:
    manifest = demo_site.outdir / "search" / "manifest.json"
    broken, plain, tilde, lone = query(manifest, "diffusion: models", "diffusion models",
                                       "diffusion~ models", ":")  # fmt: skip
    assert broken["fallback"] and tilde["fallback"] and lone["fallback"]
    assert not plain["fallback"]
    assert urls(broken) == urls(plain) == urls(tilde)
    assert lone["results"] == []


def test_a_word_being_typed_is_searched_as_a_prefix(demo_site: BuildResult) -> None:
    (typed,) = query(demo_site.outdir / "search" / "manifest.json", "hypercl")
    assert typed["prefix"]
    assert urls(typed) == [paper_url(demo_site, "Scaling Smart: Accelerating Large")]


# ---------------------------------------------------------------------------------------------
# Output, determinism and the shard cache


def test_search_page_and_files(demo_site: BuildResult) -> None:
    out = demo_site.outdir
    html = (out / "search" / "index.html").read_text(encoding="utf-8")
    box = re.search(r'<div id="search" hidden([^>]*)>', html)
    assert box
    attributes = dict(re.findall(r'(data-[a-z]+)="([^"]*)"', box.group(1)))
    page = "https://example.org/sub/path/search/"
    # relative, so the site works under any sub-path
    assert urljoin(page, attributes["data-root"]) == "https://example.org/sub/path/"
    manifest_url = urljoin(page, attributes["data-manifest"])
    assert manifest_url == "https://example.org/sub/path/search/manifest.json"
    for name in ("data-worker", "data-lunr"):
        assert (out / "search" / attributes[name]).resolve().is_file()
    assert "Search needs JavaScript" in html
    manifest = json.loads((out / "search" / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest) == {"first", "rest"}
    for path in [manifest["first"], *manifest["rest"]]:
        assert not path.startswith("/")
        assert (out / path).is_file()
    first = json.loads((out / manifest["first"]).read_text(encoding="utf-8"))
    assert sum(len(part["refs"]) for part in first["parts"]) == len(demo_site.site.papers)
    # the first tier carries no abstracts
    assert all(set(p["fields"]) == set(search.FIRST_TIER_FIELDS) for p in first["parts"])


def test_index_files_are_deterministic(
    site_factory: SiteFactory, build_site: Callable[..., BuildResult], tmp_path: Path
) -> None:
    root = make_site(site_factory)
    cold = search_files(build_site(root).outdir)
    warm = search_files(build_site(root).outdir)  # from the cache
    shutil.rmtree(root / search.CACHE_DIR)
    again = search_files(build_site(root, outdir=tmp_path / "elsewhere").outdir)
    assert cold == warm == again
    assert len([n for n in cold if n.startswith("search/rest-")]) == 2  # 2023 and 2024


def test_cached_shards_are_reused_only_for_unchanged_papers(
    site_factory: SiteFactory,
    build_site: Callable[..., BuildResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoded: list[list[str]] = []
    real = search.encode_shard

    def counting(name: str, docs: list[search.SearchDoc], key: str) -> search.EncodedShard:
        encoded.append([d.title for d in docs])
        return real(name, docs, key)

    monkeypatch.setattr(search, "encode_shard", counting)
    root = make_site(site_factory)
    before = search_files(build_site(root).outdir)
    assert len(encoded) == 2

    encoded.clear()
    assert search_files(build_site(root).outdir) == before
    assert encoded == []

    # One 2024 abstract changes: only the 2024 shard is encoded again.
    changed = [(t, a + " Koalas too." if t.startswith("Diffusion") else a, d, au)
               for t, a, d, au in PAPERS]  # fmt: skip
    make_site(site_factory, changed)
    after = search_files(build_site(root).outdir)
    assert [sorted(titles) for titles in encoded] == [
        ["Diffusion Models for Weather", "Quokka Transformers Scale Gracefully"]
    ]
    rest_2023 = [n for n in before if n.startswith("search/rest-2023.")]
    assert rest_2023 and all(n in after and after[n] == before[n] for n in rest_2023)
    assert not any(n.startswith("search/rest-2024.") and n in before for n in after)
    (answer,) = query(root / "_site" / "search" / "manifest.json", "koalas")
    assert [r["title"] for r in answer["results"]] == ["Diffusion Models for Weather"]
    # the replaced shard's cache entry is gone
    assert len(list((root / search.CACHE_DIR).glob("*.shard"))) == 2


def test_a_damaged_cache_entry_is_rebuilt(
    site_factory: SiteFactory, build_site: Callable[..., BuildResult]
) -> None:
    root = make_site(site_factory)
    before = search_files(build_site(root).outdir)
    for entry in (root / search.CACHE_DIR).glob("*.shard"):
        entry.write_text(entry.read_text(encoding="utf-8")[:-40], encoding="utf-8")
    broken = next((root / search.CACHE_DIR).glob("*.shard"))
    broken.write_text("digest-search 1 not-this-key\n{}\n{}", encoding="utf-8")
    assert search_files(build_site(root).outdir) == before


def test_shards_encoded_in_worker_processes_are_the_same(
    site_factory: SiteFactory,
    build_site: Callable[..., BuildResult],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    result = build_site(make_site(site_factory))
    docs = search.site_docs(result.site)
    serial = OutputDir(tmp_path / "serial")
    search.write_search_files(docs, serial, search.ShardCache(None), workers=1)
    monkeypatch.setattr(search, "PARALLEL_MIN_PAPERS", 0)
    parallel = OutputDir(tmp_path / "parallel")
    search.write_search_files(docs, parallel, search.ShardCache(None), workers=2)
    assert search_files(serial.path) == search_files(parallel.path)


def test_shards_follow_the_calendar() -> None:
    def docs(date: str, n: int = 1) -> list[search.SearchDoc]:
        return [search.SearchDoc("papers/x/", "t", date, (), (), (), "")] * n

    big = search.SHARD_LIMIT + 1
    corpus = [
        *docs("2025-03-08", big), *docs("2025-03-09"), *docs("2025-03-31"), *docs("2025-02-01"),
        *docs("2024-05-01", big // 2), *docs("2024-06-30", big // 2 + 1), *docs("2023-01-02"),
        *docs(""),
    ]  # fmt: skip
    assert search.shard_names(corpus) == [
        *["2025-03-01"] * big, "2025-03-09", "2025-03-25", "2025-02",
        *["2024-05"] * (big // 2), *["2024-06"] * (big // 2 + 1), "2023", "undated",
    ]  # fmt: skip


def test_the_engine_reads_the_format_the_build_writes() -> None:
    engine = (REPO / "themes" / "default" / "static" / "search-worker.js").read_text("utf-8")
    assert f"var FORMAT = {search.FORMAT_VERSION};" in engine


def test_a_wildcard_needs_two_letters(demo_site: BuildResult) -> None:
    """ "*" or "a*" would expand to much of the vocabulary: such terms are left out."""
    manifest = demo_site.outdir / "search" / "manifest.json"
    star, one, two, leading = query(manifest, "*", "a*", "sc*", "*ing")
    assert star["results"] == one["results"] == []
    assert two["total"] > 100
    assert leading["total"] > 10
    (mixed,) = query(manifest, "a* title:hypercl*")
    assert mixed["total"] == 0  # "hypercl" is in no title
    (mixed,) = query(manifest, "a* hypercl*")
    assert urls(mixed) == [paper_url(demo_site, "Scaling Smart: Accelerating Large")]
