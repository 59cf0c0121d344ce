"""Merge sightings of the same paper into one record.

Identity is `Paper.key`: the arXiv id when known, else the normalized title (NFKC, case,
punctuation and whitespace folded). A record known only by its title also joins the one
arXiv-identified record with the same normalized title (listings scraped from web pages
carry no ids; a structured source may): if two different arXiv ids share that title, it is
ambiguous and the title-only record stays on its own.

Every sighting is kept. Fields that disagree are resolved by these rules, none of which
depends on the order the papers come in, so a merge is the same whatever order the sources
load in. "Canonical order" of the records of one paper is by their earliest sighting
(source, line, position), then title; it breaks every tie.

* title: the title of the first record in canonical order.
* abstract: the longest complete (not truncated) abstract; a truncated one only when no
  record has a complete one; `abstract_truncated` is that abstract's flag.
* authors: the list with the most names (ties: more hidden authors, then canonical
  order); `hidden_authors` comes with the chosen list, so the two always describe one
  listing's view of the author list.
* organization: the first non-empty one in canonical order.
* date: the earliest known date.
* arxiv_id: the one the key names (else the first known); arxiv_version: the highest.
* categories: the union, in canonical order of first appearance; links: the union, the
  first record in canonical order winning a kind two records disagree on; data: the same.
* sightings: all of them, sorted by (source, line, position, date, upvotes, url).

Output: one paper per identity, sorted by key. Grouping is a dict pass, so the cost is
linear in the number of sightings apart from the sorts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from digest.model import Paper, Sighting, normalize_title

_ARXIV = "arxiv:"
_TITLE = "title:"


def merge_papers(papers: Iterable[Paper]) -> list[Paper]:
    """One paper per identity with every sighting kept, sorted by key (see the module
    docstring for how conflicting fields are resolved)."""
    groups: dict[str, list[Paper]] = {}
    for paper in papers:
        groups.setdefault(paper.key, []).append(paper)
    _fold_titles_into_arxiv(groups)
    return [merge_records(groups[key]) for key in sorted(groups)]


def _fold_titles_into_arxiv(groups: dict[str, list[Paper]]) -> None:
    """Move title-keyed records into the unique arXiv-keyed group with the same title."""
    title_keys = [k for k in groups if k.startswith(_TITLE)]
    if not title_keys:
        return  # every record has an arXiv id: no title needs normalizing
    owner: dict[str, str | None] = {}
    for key, records in groups.items():
        if key.startswith(_ARXIV):
            for title in {normalize_title(p.title) for p in records}:
                # A title claimed by two arXiv ids is ambiguous: None marks it.
                owner[title] = key if owner.get(title, key) == key else None
    for key in title_keys:
        target = owner.get(key.removeprefix(_TITLE))
        if target:
            groups[target].extend(groups.pop(key))


def merge_records(records: list[Paper]) -> Paper:
    """Fold the records of one paper into one (rules in the module docstring)."""
    if len(records) == 1:  # most papers: nothing to order or choose between
        ordered = records
        first = with_authors = with_abstract = records[0]
    else:
        ordered = sorted(records, key=_record_order)
        first = ordered[0]
        with_authors = max(ordered, key=lambda p: (len(p.authors), p.hidden_authors))
        with_abstract = max(
            ordered, key=lambda p: (bool(p.abstract), not p.abstract_truncated, len(p.abstract))
        )
    versions = [p.arxiv_version for p in ordered if p.arxiv_version is not None]
    return Paper(
        title=first.title,
        authors=with_authors.authors,
        hidden_authors=with_authors.hidden_authors,
        abstract=with_abstract.abstract,
        abstract_truncated=with_abstract.abstract_truncated,
        organization=next((p.organization for p in ordered if p.organization), None),
        date=min((p.date for p in ordered if p.date), default=None),
        arxiv_id=_arxiv_id(ordered),
        arxiv_version=max(versions, default=None),
        categories=tuple(dict.fromkeys(c for p in ordered for c in p.categories)),
        links=_first_wins(p.links for p in ordered),
        sightings=tuple(sorted((s for p in ordered for s in p.sightings), key=sighting_order)),
        data=_first_wins(p.data for p in ordered),
    )


def sighting_order(sighting: Sighting) -> tuple[Any, ...]:
    """The sort key of sightings: source, line, position, then the rest (a total order)."""
    return (
        sighting.source,
        sighting.line or 0,
        sighting.position or 0,
        sighting.date or dt.date.min,
        -1 if sighting.upvotes is None else sighting.upvotes,
        sighting.url or "",
    )


def _record_order(paper: Paper) -> tuple[Any, ...]:
    earliest = min(map(sighting_order, paper.sightings), default=None)
    # Records without sightings go last; title and abstract make the order total.
    return (earliest is None, earliest or (), paper.title, paper.abstract, paper.authors)


def _arxiv_id(ordered: list[Paper]) -> str | None:
    return next((p.arxiv_id for p in ordered if p.arxiv_id), None)


def _first_wins(mappings: Iterable[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for mapping in mappings:
        for key, value in mapping.items():
            merged.setdefault(key, value)
    return merged
