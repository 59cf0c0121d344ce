"""The page set: every page of the site as data (URL → template + context), built before
anything is rendered, so plugins can add pages and the preview server can tell what changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Page:
    """One output page.

    `url` is the page's path below the site root: ``""`` for the home page,
    ``"topics/vision/"`` for a folder page (written as ``topics/vision/index.html``), or
    a file name such as ``"404.html"``. `context` is passed to `template` along with
    ``site`` and ``page``. A page with a `nav` label is listed in the site navigation.
    """

    url: str
    template: str
    title: str
    context: dict[str, Any] = field(default_factory=dict)
    nav: str | None = None
    nav_weight: int = 50
    in_sitemap: bool = True
    description: str = ""

    @property
    def output_path(self) -> str:
        """The file this page is written to, relative to the output folder."""
        if self.url == "" or self.url.endswith("/"):
            return self.url + "index.html"
        return self.url


def paginate(items: list[Any], url: str, page_size: int) -> list[tuple[str, list[Any], int, int]]:
    """Split `items` into pages with stable URLs: ``url``, ``url + "page/2/"`` ….

    Returns (url, items on that page, page number, number of pages) for each page; an
    empty list still gives one (empty) page so the listing URL always exists.
    """
    chunks = [items[i : i + page_size] for i in range(0, len(items), page_size)] or [[]]
    total = len(chunks)
    return [
        (url if n == 1 else f"{url}page/{n}/", chunk, n, total)
        for n, chunk in enumerate(chunks, start=1)
    ]
