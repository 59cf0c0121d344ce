"""The built-in format readers, offered through the ``digest_readers`` hook.

This module is registered through the ``digest`` entry-point group like any plugin.
"""

from __future__ import annotations

from digest.hookspecs import hookimpl
from digest.sources import listings, structured
from digest.sources.base import Reader


@hookimpl
def digest_readers() -> list[Reader]:
    """The scraped listing readers and the structured-format readers."""
    return [*listings.READERS, *structured.READERS]
