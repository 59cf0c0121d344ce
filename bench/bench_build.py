"""Whole-process build benchmark: paper-digest against Hugo on the same generated corpus.

    python bench/bench_build.py                 # 1,000, 10,000 and 50,000 papers
    python bench/bench_build.py --sizes 1000    # the smoke test CI may run
    python bench/bench_build.py --write-readme  # also record the figures in bench/README.md

For each size it writes the corpus (bench/corpus.py), then measures, as medians of
--runs runs after one warm-up, wall time and peak memory (``/usr/bin/time -v``) of:

- ``digest build`` cold: no cache, the previous output in place (replacing it is part of
  the build and of the timing; the replaced folder's deletion, which the build leaves to a
  detached process, is waited for before the next run starts);
- ``hugo`` building the equivalent site (a page per paper, a paginated index, a page per
  topic), its previous output moved aside outside the timing, as in the issue's table;
- ``digest build`` after a nightly increment (1% new papers, 5% upvotes changed), as of the
  same date and as of the next day (as a nightly job builds: every score's age moves);
- ``digest build`` with nothing changed (the build sees that and skips everything, see
  ``digest/uptodate.py``), and ``digest build --force`` with nothing changed (every page
  rendered again), with how many output files each rewrote.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402
from readme import write_section  # noqa: E402

OUT = HERE / "out"
DIGEST = Path(sys.executable).parent / "digest"
TOPICS = [
    "Language models",
    "Vision",
    "Generative models",
    "Reinforcement learning",
    "Graphs",
    "Optimisation",
    "Scaling and efficiency",
    "Model merging",
    "Retrieval",
    "Speech",
    "Robotics",
    "Science and medicine",
    "Theory",
    "Datasets and benchmarks",
    "Safety",
]


def timed(cmd: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of one run of `cmd`."""
    start = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *cmd], cwd=cwd, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return seconds, rss // 1024


def settle(folder: Path, timeout: float = 300.0) -> None:
    """Wait until the replaced output a build left to its detached deletion
    (``._site.old-*``, see digest/publish.py) is gone, so that no run pays for the one
    before it: deleting 50,000 files keeps a core busy for seconds after a build exits."""
    deadline = time.monotonic() + timeout
    while any(folder.glob("._site.old-*")) and time.monotonic() < deadline:
        time.sleep(0.2)


def median_runs(runs: int, prepare, cmd: list[str], cwd: Path) -> tuple[float, int]:
    """Median wall time and memory over `runs` runs, after one warm-up run."""
    results = []
    for i in range(runs + 1):
        prepare()
        settle(cwd)
        result = timed(cmd, cwd)
        if i:
            results.append(result)
    return statistics.median(r[0] for r in results), int(statistics.median(r[1] for r in results))


def hugo_site(folder: Path, records: list[dict]) -> Path:
    """Hugo content and minimal layouts for the same pages the digest renders."""
    site = folder / "hugo"
    if site.exists():
        shutil.rmtree(site)
    (site / "content" / "papers").mkdir(parents=True)
    layouts = site / "layouts" / "_default"
    layouts.mkdir(parents=True)
    (site / "config.toml").write_text(
        'baseURL = "https://example.org/bench/"\ntitle = "Benchmark"\npaginate = 50\n'
        'disableKinds = ["RSS", "sitemap", "robotsTXT"]\n[taxonomies]\ntopic = "topics"\n'
    )
    (layouts / "baseof.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{{ .Title }}</title>'
        '</head><body><header><a href="{{ "/" | relURL }}">{{ .Site.Title }}</a></header>'
        '<main>{{ block "main" . }}{{ end }}</main></body></html>\n'
    )
    (layouts / "single.html").write_text(
        '{{ define "main" }}<article><h1>{{ .Title }}</h1><p>{{ delimit .Params.authors ", " }}'
        '</p><time>{{ .Date.Format "2006-01-02" }}</time><p>{{ .Params.abstract }}</p>'
        '{{ range .Params.topics }}<a href="{{ "/topics/" | relURL }}{{ . | urlize }}/">{{ . }}</a>'
        "{{ end }}</article>{{ end }}\n"
    )
    (layouts / "list.html").write_text(
        '{{ define "main" }}<h1>{{ .Title }}</h1>{{ range .Paginator.Pages }}<article><h2>'
        '<a href="{{ .RelPermalink }}">{{ .Title }}</a></h2><p>{{ with .Params.authors }}'
        '{{ delimit . ", " }}{{ end }}</p><p>{{ with .Params.abstract }}{{ . | truncate 360 }}'
        "{{ end }}</p></article>{{ end }}"
        '{{ with .Paginator.Next }}<a href="{{ .URL }}">Older</a>{{ end }}{{ end }}\n'
    )
    for i, r in enumerate(records):
        front = {
            "title": r["title"],
            "date": r["date"],
            "authors": r["authors"],
            "abstract": r["abstract"],
            "topics": [TOPICS[i % len(TOPICS)]],
        }
        (site / "content" / "papers" / f"{r['arxiv_id']}.md").write_text(
            json.dumps(front, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return site


def increment(folder: Path, n: int, day: dt.date) -> None:
    """The nightly increment: 1% new papers, the day's (dated `day`, as a daily listing's
    new papers are), and 5% changed upvote counts."""
    records = corpus.corpus(n)
    extra = corpus.corpus(n + max(1, n // 100))[n:]
    for i, r in enumerate(extra, start=n):
        arxiv = f"{day:%y%m}.{10000 + i:05d}"
        r.update(
            date=day.isoformat(), arxiv_id=arxiv, links={"abs": f"https://arxiv.org/abs/{arxiv}"}
        )
        r["sightings"][0]["date"] = day.isoformat()  # type: ignore[index]
    for i, r in enumerate(records):
        if i % 20 == 0:
            r["sightings"][0]["upvotes"] += 7  # type: ignore[index]
    with (folder / "papers.jsonl").open("w", encoding="utf-8") as f:
        for r in records + extra:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")


def count_rewritten(site: Path, before: dict[str, tuple[int, int]]) -> int:
    """How many output files are new inodes or have a new mtime since `before`."""
    now = snapshot(site)
    return sum(1 for rel, stamp in now.items() if before.get(rel) != stamp)


def snapshot(site: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every output file."""
    return {
        str(p.relative_to(site)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in site.rglob("*")
        if p.is_file()
    }


def bench_size(n: int, runs: int, with_hugo: bool) -> dict[str, object]:
    """Every measurement for one corpus size."""
    folder = corpus.write(n, OUT / f"corpus-{n}")
    out = folder / "_site"
    cache = folder / ".digest-cache"
    build = [str(DIGEST), "build", "-q", "--date", corpus.BUILD_DATE.isoformat()]
    row: dict[str, object] = {"papers": n}

    def cold() -> None:
        corpus.write(n, folder)
        shutil.rmtree(cache, ignore_errors=True)

    row["digest_cold"] = median_runs(runs, cold, build, folder)
    if with_hugo and shutil.which("hugo"):
        hugo = hugo_site(folder, corpus.corpus(n))

        def clean_hugo() -> None:
            shutil.rmtree(hugo / "public", ignore_errors=True)
            shutil.rmtree(hugo / "resources", ignore_errors=True)

        row["hugo"] = median_runs(runs, clean_hugo, ["hugo", "--quiet"], hugo)

    def nightly(day: dt.date) -> Callable[[], None]:
        def prepare() -> None:
            cold()
            subprocess.run(build, cwd=folder, check=True)
            increment(folder, n, day)

        return prepare

    row["digest_increment"] = median_runs(runs, nightly(corpus.BUILD_DATE), build, folder)
    next_day = corpus.BUILD_DATE + dt.timedelta(days=1)
    row["digest_next_day"] = median_runs(
        runs, nightly(next_day), [*build[:-1], next_day.isoformat()], folder
    )
    cold()
    subprocess.run(build, cwd=folder, check=True)
    before = snapshot(out)
    row["digest_unchanged"] = median_runs(runs, lambda: None, build, folder)
    row["unchanged_rewritten"] = count_rewritten(out, before)
    row["digest_forced"] = median_runs(runs, lambda: None, [*build, "--force"], folder)
    row["forced_rewritten"] = count_rewritten(out, before)
    row["files"] = len(before)
    return row


def table(rows: list[dict[str, object]]) -> str:
    """The figures as a Markdown table."""
    lines = [
        "| papers | digest cold | Hugo | ratio | nightly increment (same date / next day) "
        "| unchanged (skipped) | unchanged, --force | files rewritten (skipped / --force) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cold_s, cold_mb = r["digest_cold"]  # type: ignore[misc]
        hugo = r.get("hugo")
        inc_s, _ = r["digest_increment"]  # type: ignore[misc]
        next_s, _ = r["digest_next_day"]  # type: ignore[misc]
        same_s, _ = r["digest_unchanged"]  # type: ignore[misc]
        forced_s, _ = r["digest_forced"]  # type: ignore[misc]
        hugo_cell = f"{hugo[0]:.2f} s, {hugo[1]} MB" if hugo else "–"  # type: ignore[index]
        ratio = f"{cold_s / hugo[0]:.2f}" if hugo else "–"  # type: ignore[index]
        lines.append(
            f"| {r['papers']:,} | {cold_s:.2f} s, {cold_mb} MB | {hugo_cell} | {ratio} | "
            f"{inc_s:.2f} s ({inc_s / cold_s:.0%}) / {next_s:.2f} s ({next_s / cold_s:.0%}) | "
            f"{same_s:.2f} s ({same_s / cold_s:.0%}) | "
            f"{forced_s:.2f} s ({forced_s / cold_s:.0%}) | "
            f"{r['unchanged_rewritten']} / {r['forced_rewritten']} of {r['files']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-hugo", action="store_true")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    rows = [bench_size(n, args.runs, not args.no_hugo) for n in args.sizes]
    hugo_version = (
        subprocess.run(["hugo", "version"], capture_output=True, text=True).stdout.split()[1]
        if shutil.which("hugo")
        else "not installed"
    )
    header = (
        f"Measured {dt.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, Hugo {hugo_version}; medians of {args.runs} runs "
        "after a warm-up, whole process, peak RSS."
    )
    report = f"{header}\n\n{table(rows)}\n"
    print(report)
    if args.write_readme:
        write_section("build", "Build (bench/bench_build.py)", report)


if __name__ == "__main__":
    main()
