"""Reader throughput and memory on big generated listings.

    python bench/bench_readers.py                  # 10 MB and 100 MB daily-papers listings
    python bench/bench_readers.py --mb 10 100 1000 --write-readme

Each listing is the daily-papers format (bench/corpus.py: papers made from the seed
listings) repeated with unique titles until it reaches the size. Every reader run is a
fresh process that streams the file through the loader's decoding and the hf-daily reader,
counting papers without keeping them, and reports wall time and peak RSS: if the reader
streams, memory stays flat as the file grows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402
from readme import write_section  # noqa: E402

MEASURE = """
import json, resource, sys, time
from pathlib import Path
from digest.build import readers_by_name
from digest.plugins import make_plugin_manager
from digest.sources.base import Source
from digest.sources.loader import DecodedLines
from digest.model import Paper

path = Path(sys.argv[1])
reader = readers_by_name(make_plugin_manager())["hf-daily"]
source = Source(name="big", path=path, year=2025)
start = time.perf_counter()
papers = problems = 0
with path.open("rb") as stream:
    for item in reader.read(DecodedLines(stream, str(path)), source):
        if isinstance(item, Paper):
            papers += 1
        else:
            problems += 1
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps({"papers": papers, "problems": problems, "seconds": seconds, "rss_mb": rss}))
"""


def make_listing(megabytes: int) -> Path:
    """A daily-papers listing of about `megabytes` MB (made once, then reused)."""
    path = OUT / f"daily-{megabytes}mb.txt"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    records = corpus.corpus(2000)
    target = megabytes * 1024 * 1024
    with path.open("w", encoding="utf-8") as f:
        f.write(corpus.daily_listing([]))
        written, copy = 0, 0
        while written < target:
            for r in records:
                r["title"] = f"{str(r['title']).split(' [copy')[0]} [copy {copy}]"
            body = corpus.daily_listing(records).split("Oct 30\n\n", 1)[1]
            f.write(body)
            written += len(body.encode("utf-8"))
            copy += 1
    return path


def measure(path: Path) -> dict[str, float]:
    """One fresh process streaming `path` through the reader."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    result = json.loads(proc.stdout)
    result["process_seconds"] = time.perf_counter() - started
    result["mb"] = path.stat().st_size / 1024 / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    rows = ["| listing | papers | reader time | throughput | peak RSS |", "|---|---|---|---|---|"]
    for mb in args.mb:
        r = measure(make_listing(mb))
        rows.append(
            f"| {r['mb']:.0f} MB | {r['papers']:,} | {r['seconds']:.1f} s | "
            f"{r['mb'] / r['seconds']:.1f} MB/s ({r['papers'] / r['seconds']:,.0f} papers/s) | "
            f"{r['rss_mb']} MB |"
        )
    report = (
        f"Measured {time.strftime('%Y-%m-%d')}, 2 cores; `python bench/bench_readers.py "
        f"--mb {' '.join(map(str, args.mb))}`.\n\n" + "\n".join(rows) + "\n"
    )
    print(report)
    if args.write_readme:
        write_section("readers", "Readers (bench/bench_readers.py)", report)


if __name__ == "__main__":
    main()
