"""Errors a user can act on. They derive from click's so the CLI prints one clear line
(no traceback) and exits with the right code: 2 for usage/config, 1 for a failed build."""

from __future__ import annotations

import click


class DigestError(click.ClickException):
    """A failure the user can fix; its message names the file and what to do."""

    exit_code = 1


class ConfigError(DigestError):
    """site.toml (or a command's arguments) cannot be used."""

    exit_code = 2


class BuildError(DigestError):
    """The build failed; nothing was published."""

    exit_code = 1
