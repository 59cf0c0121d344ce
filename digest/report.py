"""The build report (``digest build --report build.json``): what a build read, made and
hit, for CI dashboards.

It is written whether the build succeeds or not (``"ok": false`` with the error when not),
with sorted keys so two reports diff cleanly. Only the phase timings vary between two
builds of the same inputs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digest.history import History

if TYPE_CHECKING:
    from digest.build import BuildResult

REPORT_VERSION = 1


def build_report(
    result: BuildResult | None, error: BaseException | None, date: dt.date | None = None
) -> dict[str, Any]:
    """The report of a build: `result` as far as the build got (None when it stopped
    before reading anything), `error` when it failed, `date` the date it was built as of."""
    site = result.site if result is not None else None
    problems = site.problems if site is not None else []
    sources = site.sources if site is not None else []
    history = site.data.get("history") if site is not None else None
    new_today = None
    if isinstance(history, History) and site is not None:
        new_today = len(history.papers_first_seen(site.date))
    day = site.date if site is not None else date
    return {
        "version": REPORT_VERSION,
        "ok": error is None,
        "error": _error(error),
        "date": day.isoformat() if day else None,
        "counts": {
            "sources": len(sources),
            "entries": sum(s.entries for s in sources),
            "papers": len(site.papers) if site is not None else 0,
            "new_today": new_today,
            "problems": len(problems),
            "problems_by_kind": dict(sorted(Counter(p.kind for p in problems).items())),
            "pages": result.pages if result is not None else 0,
            "files": result.files if result is not None else 0,
            "reused_pages": result.reused if result is not None else 0,
        },
        "sources": [
            {
                "name": s.name,
                "format": s.format,
                "path": s.path,
                "entries": s.entries,
                "problems": s.problems,
                "error": s.error,
            }
            for s in sources
        ],
        "problems": [p.to_json() for p in problems],
        "phases": dict(result.phases) if result is not None else {},
        "seconds": round(result.seconds, 4) if result is not None else None,
    }


def _error(error: BaseException | None) -> dict[str, Any] | None:
    if error is None:
        return None
    message = error.format_message() if hasattr(error, "format_message") else str(error)
    return {
        "type": type(error).__name__,
        "message": message,
        "exit_code": getattr(error, "exit_code", 1),
    }


def write_report(
    path: Path,
    result: BuildResult | None,
    error: BaseException | None,
    date: dt.date | None = None,
) -> None:
    """Write the report as JSON (sorted keys), atomically: a reader never sees half of it."""
    text = json.dumps(build_report(result, error, date), indent=2, sort_keys=True) + "\n"
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
