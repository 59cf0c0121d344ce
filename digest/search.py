"""The client-side search: a lunr index built at build time (lunr.py) and a compact
documents file mapping each result to what the search page shows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lunr import lunr

from digest.errors import BuildError
from digest.model import Paper
from digest.publish import OutputDir
from digest.render import PACKAGE_DIR
from digest.richtext import plain_text
from digest.site import Site


def lunr_js_path() -> Path:
    """lunr.js as installed from npm (pinned in package.json), or as bundled in the wheel."""
    for candidate in (
        PACKAGE_DIR / "_vendor" / "lunr.min.js",
        PACKAGE_DIR.parent / "node_modules" / "lunr" / "lunr.min.js",
    ):
        if candidate.is_file():
            return candidate
    raise BuildError("lunr.js is missing: run `npm ci` in the project folder (see README)")


def runtime_files() -> dict[str, bytes]:
    """Static files the search page needs besides the theme's own."""
    return {"lunr.min.js": lunr_js_path().read_bytes()}


def documents(site: Site) -> list[dict[str, object]]:
    """One display record per paper, in site order; the index refers to them by ``id``."""
    docs = []
    for i, paper in enumerate(site.papers):
        abstract = plain_text(paper.abstract)
        docs.append(
            {
                "id": str(i),
                "title": paper.title,
                "url": site.paper_url(paper),
                "date": paper.date.isoformat() if paper.date else "",
                "authors": ", ".join(paper.authors[:6]),
                "snippet": abstract[:220],
                "topics": list(_extra(paper, "topics")),
                "keywords": list(_extra(paper, "keywords")),
            }
        )
    return docs


def _extra(paper: Paper, field: str) -> tuple[str, ...]:
    """Words a plugin asked to index for `paper` (``paper.data["search"][field]``)."""
    return tuple(paper.data.get("search", {}).get(field, ()))


def write_index(site: Site, out: OutputDir) -> None:
    """Write the lunr index and documents under content-hashed names plus a small manifest
    (``search/manifest.json``) that tells the search page which files to fetch."""
    docs = documents(site)
    fields = [
        {"field_name": "title", "boost": 10},
        {"field_name": "authors", "boost": 3},
        {"field_name": "topics", "boost": 2},
        {"field_name": "keywords", "boost": 2},
        {"field_name": "abstract"},
    ]
    corpus = [
        {
            "id": d["id"],
            "title": d["title"],
            "authors": " ".join(p.authors),
            "topics": " ".join(d["topics"]),  # type: ignore[arg-type]
            "keywords": " ".join(d["keywords"]),  # type: ignore[arg-type]
            "abstract": plain_text(p.abstract),
        }
        for d, p in zip(docs, site.papers, strict=True)
    ]
    index = lunr(ref="id", fields=fields, documents=corpus)
    manifest = {}
    for name, payload in (("index", index.serialize()), ("documents", docs)):
        data = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        raw = data.encode("utf-8")
        digest = hashlib.sha256(raw).hexdigest()[:12]
        path = f"search/{name}.{digest}.json"
        out.write_bytes(path, raw)
        manifest[name] = path
    out.write_text("search/manifest.json", json.dumps(manifest, sort_keys=True))
