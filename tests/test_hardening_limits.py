"""Size and shape limits: huge listings, a 1 MB line, 100,000 authors, deeply nested JSON,
XML bombs and runaway BibTeX braces. Each input is processed, or refused with a clear
Problem, in bounded time (a subprocess with a timeout) and bounded memory (the growth of
the subprocess's peak RSS, from ``resource.getrusage``, over its baseline after imports).

The 1 GB listing is generated lazily (streamed to a temporary file, never held in memory)
and only runs with ``DIGEST_HEAVY=1``; by default the same test runs on 20 MB (100 MB
takes 7-16 s here, too much of the hardening suite's budget).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = os.environ.get("DIGEST_HEAVY") == "1"
MB = 1024 * 1024

# Runs in a fresh interpreter: loads each of the jobs (path, format, mode) given as JSON,
# and reports what came out and the peak RSS growth over the baseline after imports (a
# conservative bound for each job: the peak never goes down). With "stream", papers are
# counted and dropped as the reader yields them (what a reader costs by itself); with
# "load", the loader keeps them as a build does.
PROBE = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from digest.config import load_config
    from digest.build import readers_by_name
    from digest.plugins import make_plugin_manager
    from digest.sources.base import Source
    from digest.sources.loader import DecodedLines, choose_reader, head_text, load_source

    jobs, site = json.loads(sys.argv[1]), sys.argv[2]
    readers = readers_by_name(make_plugin_manager(load_config(Path(site))))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def run(path, fmt, mode):
        source = Source("probe", path, format=fmt)
        kinds, papers, authors, longest = {}, 0, 0, 0
        def count(kind):
            kinds[kind] = kinds.get(kind, 0) + 1
        if mode == "stream":
            head, encoding, skip = head_text(path)
            reader, problem = choose_reader(readers, source, head)
            chosen = reader.name if reader else None
            if problem:
                count(problem.kind)
            if reader:
                with path.open("rb") as stream:
                    lines = DecodedLines(stream, "probe", encoding, skip)
                    for item in reader.read(lines, source):
                        if hasattr(item, "kind"):
                            count(item.kind)
                        else:
                            papers += 1
                            authors = max(authors, len(item.authors))
                            longest = max(longest, len(item.title) + len(item.abstract))
                    for p in lines.problems:
                        count(p.kind)
            return {"format": chosen, "papers": papers, "kinds": kinds, "authors": authors,
                    "longest": longest, "messages": []}
        result = load_source(readers, source)
        for p in result.problems:
            count(p.kind)
        return {"format": result.format, "papers": len(result.papers), "kinds": kinds,
                "authors": max((len(p.authors) for p in result.papers), default=0),
                "longest": max((len(p.title) + len(p.abstract) for p in result.papers),
                               default=0),
                "messages": [str(p)[:300] for p in result.problems[:5]]}

    for path, fmt, mode in jobs:
        start = time.perf_counter()
        out = run(Path(path), fmt, mode)
        out["seconds"] = time.perf_counter() - start
        out["growth_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
        print(json.dumps(out), flush=True)
    """
)


def probe_all(
    jobs: list[tuple[Path, str | None, str]], site: Path, timeout: float
) -> list[dict[str, Any]]:
    """Load each (path, format, mode) in one subprocess, killed after `timeout` seconds (a
    hang fails the test); one result per job."""
    spec = json.dumps([(str(path), fmt, mode) for path, fmt, mode in jobs])
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROBE, spec, str(site)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        finished = (exc.stdout or b"").count(b"\n") if isinstance(exc.stdout, bytes) else 0
        stuck = jobs[finished] if finished < len(jobs) else jobs[-1]
        pytest.fail(f"loading {stuck[0].name} ({stuck[1] or 'sniffed'}) hung ({timeout} s)")
    assert done.returncode == 0, done.stderr[-3000:]
    return [dict(json.loads(line)) for line in done.stdout.strip().splitlines()]


def probe(
    path: Path, site: Path, fmt: str | None = None, mode: str = "load", timeout: float = 60
) -> dict[str, Any]:
    """Load one file in a subprocess (see `probe_all`)."""
    return probe_all([(path, fmt, mode)], site, timeout)[0]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty site.toml: the probes need only the built-in readers."""
    path = tmp_path_factory.mktemp("limits") / "site.toml"
    path.write_text("", "utf-8")
    return path


# -- a huge listing, streamed -------------------------------------------------------------


def search_listing_entries() -> Iterator[bytes]:
    """An endless Hugging Face search listing: the page's header, then title and abstract
    lines (made up, numbered, about 700 bytes an entry)."""
    yield b"Get trending papers in your email inbox once a day!\n"
    yield b"Get trending papers in your email inbox!\n"
    n = 0
    sentence = b"We study how scaling laws for language models change with data quality. "
    while True:
        n += 1
        title = b"Subscribe" if n == 1 else b""
        yield (
            title + b"Scaling Study Number %d: Data, Compute and Everything Else\n" % n
            + sentence * 8 + b"Results hold for %d models.\n" % n
        )  # fmt: skip


def write_lazily(path: Path, chunks: Iterator[bytes], size: int) -> int:
    """Stream `chunks` into `path` until it holds at least `size` bytes; never more than
    about 1 MB is in memory at a time. Returns the number of bytes written."""
    written = 0
    buffer: list[bytes] = []
    buffered = 0
    with path.open("wb") as f:
        for chunk in chunks:
            buffer.append(chunk)
            buffered += len(chunk)
            if buffered >= MB:
                f.write(b"".join(buffer))
                written += buffered
                buffer, buffered = [], 0
                if written >= size:
                    break
    return written


@pytest.mark.parametrize(
    "size_mb",
    [
        pytest.param(1024, marks=pytest.mark.skipif(not HEAVY, reason="DIGEST_HEAVY=1 only")),
        pytest.param(20, marks=pytest.mark.skipif(HEAVY, reason="the 1 GB case runs instead")),
    ],
)
def test_a_huge_listing_streams_in_bounded_memory(size_mb: int, site: Path, tmp_path: Path) -> None:
    """A listing of 20 MB (1 GB with DIGEST_HEAVY=1): the sniffed reader yields every
    entry while memory stays flat (the file is never read whole: that alone would grow the
    peak by the file's size)."""
    path = tmp_path / "huge.txt"
    written = write_lazily(path, search_listing_entries(), size_mb * MB)
    try:
        result = probe(path, site, mode="stream", timeout=60 * size_mb / 100 + 30)
    finally:
        path.unlink()
    assert result["format"] == "hf-search"
    assert result["papers"] > written // 800
    assert result["growth_mb"] < min(40, size_mb / 2), result
    print(f"{size_mb} MB: {result['papers']} papers in {result['seconds']:.1f} s")


# -- one long line, many authors ----------------------------------------------------------


def test_a_one_megabyte_line_is_read(site: Path, tmp_path: Path) -> None:
    """A 1 MB abstract on one line of each line-based format: read whole, quickly."""
    word = "overparameterization "
    abstract = (word * (MB // len(word))).strip() + "."
    jsonl = tmp_path / "long.jsonl"
    jsonl.write_text(json.dumps({"title": "A long one", "abstract": abstract, "key": "x"}) + "\n")
    listing = tmp_path / "long.txt"
    listing.write_text(
        "Get trending papers in your email inbox once a day!\n"
        f"SubscribeA long one\n{abstract}\nA short one\nShort abstract.\n"
    )
    cases = ((jsonl, "jsonl"), (listing, "hf-search"))
    results = probe_all([(path, None, "load") for path, _ in cases], site, timeout=60)
    for (_, fmt), result in zip(cases, results, strict=True):
        assert result["format"] == fmt and result["papers"] >= 1, result
        assert result["longest"] >= MB - 100, result
        assert result["seconds"] < 10 and result["growth_mb"] < 60, result


def test_a_line_of_one_megabyte_without_newline_in_xml(site: Path, tmp_path: Path) -> None:
    """A whole Atom feed on one 1 MB line (as some servers send it)."""
    entry = (
        "<entry><id>http://arxiv.org/abs/2401.{n:05d}v1</id><title>Paper {n}</title>"
        "<summary>An abstract.</summary><author><name>A. Author</name></author></entry>"
    )
    entries = "".join(entry.format(n=n) for n in range(MB // len(entry) + 1))
    path = tmp_path / "feed.xml"
    path.write_text(f'<feed xmlns="http://www.w3.org/2005/Atom">{entries}</feed>')
    result = probe(path, site, timeout=30)
    assert result["format"] == "arxiv-atom" and result["papers"] > 5000, result
    assert result["seconds"] < 10, result


def test_one_hundred_thousand_authors(site: Path, tmp_path: Path) -> None:
    authors = [f"Author Number{n}" for n in range(100_000)]
    path = tmp_path / "authors.jsonl"
    path.write_text(json.dumps({"title": "Big collaboration", "authors": authors, "key": "k"}))
    result = probe(path, site, timeout=30)
    assert result["papers"] == 1 and result["authors"] == 100_000, result
    assert result["seconds"] < 10 and result["growth_mb"] < 150, result


def test_a_site_with_one_hundred_thousand_authors_builds(tmp_path: Path) -> None:
    """The paper is built into a site in bounded time; its page shows the first authors,
    not all of them."""
    root = tmp_path / "site"
    (root / "data").mkdir(parents=True)
    authors = [f"Author Number{n}" for n in range(100_000)]
    record = {"title": "Big collaboration", "authors": authors, "abstract": "We did it.",
              "date": "2025-10-01", "key": "k"}  # fmt: skip
    (root / "data" / "big.jsonl").write_text(json.dumps(record) + "\n")
    (root / "site.toml").write_text('[[sources]]\npath = "data/big.jsonl"\n')
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "digest", "build", "--config", str(root / "site.toml"),
         "--date", "2025-10-30", "-q"],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    page = next((root / "_site" / "papers").glob("*/index.html")).read_text("utf-8")
    assert "Author Number99999" not in page.split("application/ld+json")[0]
    assert len(page) < 10 * MB
    assert seconds < 60


# -- nesting and bombs -----------------------------------------------------------------------


JSON_FORMATS = [None, "jsonl", "hf-api", "csl-json", "bbt-json"]
SHAPES = ["lines", "array"]


def deep_json(shape: str) -> str:
    """A valid first entry, then one nested 200,000 levels deep."""
    deep = "[" * 200_000 + "]" * 200_000
    if shape == "lines":
        return json.dumps({"title": "ok", "key": "a"}) + "\n" + '{"title": ' + deep + "}\n"
    return '[{"title": "ok", "key": "a"}, {"title": ' + deep + "}]"


@pytest.fixture(scope="module")
def nested_results(site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[Any, Any]:
    folder = tmp_path_factory.mktemp("nested")
    jobs = []
    for shape in SHAPES:
        path = folder / f"deep-{shape}.json"
        path.write_text(deep_json(shape))
        jobs.extend((path, fmt, "load") for fmt in JSON_FORMATS)
    results = probe_all(jobs, site, timeout=60)
    return {(path.stem, fmt): result for (path, fmt, _), result in zip(jobs, results, strict=True)}


@pytest.mark.parametrize("fmt", JSON_FORMATS)
@pytest.mark.parametrize("shape", SHAPES)
def test_deeply_nested_json_is_refused(
    fmt: str | None, shape: str, nested_results: dict[Any, Any]
) -> None:
    """200,000 levels of nesting: a Problem (never a RecursionError, a crash or a hang)."""
    result = nested_results[(f"deep-{shape}", fmt)]
    assert "reader-crash" not in result["kinds"], result
    assert result["kinds"], result  # refused, and said so
    assert result["seconds"] < 10 and result["growth_mb"] < 100, result


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE feed [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<feed xmlns="http://www.w3.org/2005/Atom">
<entry><id>http://arxiv.org/abs/2401.00001v1</id><title>&lol9;</title></entry>
</feed>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE feed [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<feed xmlns="http://www.w3.org/2005/Atom">
<entry><id>http://arxiv.org/abs/2401.00001v1</id><title>&xxe;</title></entry>
</feed>
"""
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE feed SYSTEM "http://127.0.0.1:9/evil.dtd">
<feed xmlns="http://www.w3.org/2005/Atom">
<entry><id>http://arxiv.org/abs/2401.00001v1</id><title>&ext;</title></entry>
</feed>
"""
QUADRATIC = (
    '<?xml version="1.0"?>\n<!DOCTYPE feed [ <!ENTITY a "' + "x" * 50_000 + '"> ]>\n'
    '<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>' + "&a;" * 50_000
    + "</title></entry></feed>\n"
)  # fmt: skip


XML_FORMATS = [None, "arxiv-atom", "arxiv-rss", "oai-pmh"]
BOMBS = {
    "billion-laughs": BILLION_LAUGHS,
    "external-entity": EXTERNAL_ENTITY,
    "external-dtd": EXTERNAL_DTD,
    "quadratic-blowup": QUADRATIC,
}


@pytest.fixture(scope="module")
def bomb_results(site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[Any, Any]:
    folder = tmp_path_factory.mktemp("bombs")
    jobs = []
    for name, bomb in BOMBS.items():
        path = folder / f"{name}.xml"
        path.write_text(bomb)
        jobs.extend((path, fmt, "load") for fmt in XML_FORMATS)
    results = probe_all(jobs, site, timeout=60)
    return {(path.stem, fmt): result for (path, fmt, _), result in zip(jobs, results, strict=True)}


@pytest.mark.parametrize("fmt", XML_FORMATS)
@pytest.mark.parametrize("name", sorted(BOMBS))
def test_xml_bombs_are_refused(fmt: str | None, name: str, bomb_results: dict[Any, Any]) -> None:
    """Entity expansion and external entities: refused as unsafe (or malformed) XML, with
    no expansion: fast, in little memory, and /etc/passwd never read into a paper."""
    result = bomb_results[(name, fmt)]
    assert result["kinds"].keys() & {"unsafe-xml", "bad-xml", "unknown-format"}, result
    if fmt is None:
        assert result["format"] == "arxiv-atom", result
    assert "unsafe-xml" in result["kinds"] or fmt == "oai-pmh" or name == "external-dtd", result
    assert result["longest"] < 1000, result  # nothing expanded
    assert "root:" not in json.dumps(result)
    assert result["seconds"] < 5 and result["growth_mb"] < 50, result


RUNAWAY_BIBTEX = {
    "unclosed": "@article{key,\n  title = {" + "{" * 100_000 + "x\n",
    "nested": "@article{key,\n  title = {" + "{" * 50_000 + "x" + "}" * 50_000 + "},\n}\n",
    "many-unclosed": "@article{a, title = {x\n" * 20_000,
    "closers": "@article{key, title = {x}" + "}" * 100_000 + "\n@article{b, title={ok}}\n",
    "huge-field": "@article{key, title = {" + "word " * 200_000 + "}}\n",
}


@pytest.fixture(scope="module")
def bibtex_results(site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("bibtex")
    jobs = []
    for name, text in RUNAWAY_BIBTEX.items():
        path = folder / f"{name}.bib"
        path.write_text(text)
        jobs.append((path, "bibtex", "load"))
    results = probe_all(jobs, site, timeout=90)
    return {path.stem: result for (path, _, _), result in zip(jobs, results, strict=True)}


@pytest.mark.parametrize("name", sorted(RUNAWAY_BIBTEX))
def test_runaway_bibtex_braces_are_refused_or_read(
    name: str, bibtex_results: dict[str, Any]
) -> None:
    """Runaway braces: problems (or the entries that are whole), in bounded time."""
    result = bibtex_results[name]
    assert "reader-crash" not in result["kinds"], result
    assert result["papers"] or result["kinds"], result
    assert result["seconds"] < 20 and result["growth_mb"] < 200, result
