"""Whether this process builds the site again, so what a build works out is worth keeping.

The preview server builds after every edit in one process: the lines of a JSON Lines
source, the papers' term bags and the plugins' per-text results (keyword counts, marks,
trending scores) are kept for its next build, which then works out only what changed. It
calls `expect_rebuilds` when it starts. A `digest build` builds once: anything kept would
be memory no one reads again (over 100 MB at 50,000 papers), so by default nothing is.
"""

from __future__ import annotations

_EXPECTED = False


def expect_rebuilds(on: bool = True) -> None:
    """From now on, keep what a build works out for the next build (off: keep nothing
    more; what was kept is not used again)."""
    global _EXPECTED
    _EXPECTED = on


def rebuilds_expected() -> bool:
    """True when this process will build again (see `expect_rebuilds`). Code that keeps a
    result for a later build asks this first."""
    return _EXPECTED
