"""paper-digest: a plugin-based static site generator for research-paper digests."""

from digest.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]
