"""site.toml → a typed `Config`.

Every mistake is collected as a `ConfigIssue` naming the file, the table and key, and what
was expected, so a user sees them all at once; unknown keys are reported with a
did-you-mean. Plugins validate their own ``[plugins.<name>]`` table with the same
`Options` reader the core uses.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digest.errors import ConfigError
from digest.sources.base import Source
from digest.sources.fields import is_http_url

_MISSING = object()


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem with site.toml: where (file, table, key) and what is wrong."""

    file: str
    table: str
    key: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        table = f"[{self.table}] " if self.table else ""
        key = f"{self.key}: " if self.key else ""
        return f"{self.file}: {table}{key}{self.message}"


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


class Options:
    """Typed, error-collecting access to one TOML table.

    Each getter returns the value (or the default) and records an issue when the value
    has the wrong type; `done()` reports every key nobody asked for as unknown.
    """

    def __init__(self, values: Any, table: str, file: str, issues: list[ConfigIssue]):
        self.table = table
        self.file = file
        self.issues = issues
        if not isinstance(values, dict):
            self._error("", f"expected a table, got {_describe(values)}")
            values = {}
        self.values: dict[str, Any] = values
        self._seen: set[str] = set()

    def _error(self, key: str, message: str) -> None:
        self.issues.append(ConfigIssue(self.file, self.table, key, message))

    def warn(self, key: str, message: str) -> None:
        """Record a warning about `key` (fatal only with ``--strict``)."""
        self.issues.append(ConfigIssue(self.file, self.table, key, message, "warning"))

    def error(self, key: str, message: str) -> None:
        """Record an error about `key` found by the caller's own checks."""
        self._error(key, message)

    def _get(self, key: str, default: Any) -> Any:
        self._seen.add(key)
        return self.values.get(key, default)

    def raw(self, key: str, default: Any = None) -> Any:
        """The value of `key` as TOML gave it, for settings of mixed shape that the caller
        checks itself (reporting through `error`)."""
        return self._get(key, default)

    def _typed(self, key: str, default: Any, types: tuple[type, ...], what: str) -> Any:
        value = self._get(key, _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, bool) and bool not in types:
            self._error(key, f"expected {what}, got {_describe(value)}")
            return default
        if not isinstance(value, types):
            self._error(key, f"expected {what}, got {_describe(value)}")
            return default
        return value

    def string(self, key: str, default: Any = None, choices: tuple[str, ...] = ()) -> Any:
        """A string setting; with `choices`, one of them."""
        value = self._typed(key, default, (str,), "a string")
        if choices and value is not None and value not in choices:
            self._error(key, f"expected one of {', '.join(choices)}, got {_describe(value)}")
            return default
        return value

    def number(self, key: str, default: Any = None, minimum: float | None = None) -> Any:
        """A number (int or float) setting, optionally at least `minimum`."""
        value = self._typed(key, default, (int, float), "a number")
        if minimum is not None and value is not None and value < minimum:
            self._error(key, f"expected a number >= {minimum}, got {value}")
            return default
        return float(value) if value is not None else None

    def integer(self, key: str, default: Any = None, minimum: int | None = None) -> Any:
        """An integer setting, optionally at least `minimum`."""
        value = self._typed(key, default, (int,), "an integer")
        if minimum is not None and value is not None and value < minimum:
            self._error(key, f"expected an integer >= {minimum}, got {value}")
            return default
        return value

    def boolean(self, key: str, default: Any = None) -> Any:
        """A true/false setting."""
        return self._typed(key, default, (bool,), "true or false")

    def strings(self, key: str, default: Any = ()) -> tuple[str, ...]:
        """An array of strings."""
        value = self._typed(key, _MISSING, (list,), "an array of strings")
        if value is _MISSING:
            return tuple(default)
        bad = [v for v in value if not isinstance(v, str)]
        if bad:
            self._error(key, f"expected an array of strings, got {_describe(bad[0])} in it")
            return tuple(default)
        return tuple(value)

    def table_(self, key: str) -> Options:
        """A sub-table, as its own `Options`."""
        sub = self._get(key, {})
        name = f"{self.table}.{key}" if self.table else key
        return Options(sub, name, self.file, self.issues)

    def tables(self, key: str) -> list[Options]:
        """An array of tables (``[[key]]``), one `Options` each."""
        value = self._typed(key, [], (list,), "an array of tables")
        name = f"{self.table}.{key}" if self.table else key
        return [Options(v, f"{name}[{i}]", self.file, self.issues) for i, v in enumerate(value)]

    def done(self) -> None:
        """Report every key of this table that no getter asked for."""
        for key in sorted(set(self.values) - self._seen):
            near = difflib.get_close_matches(key, sorted(self._seen), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            self._error(key, f"unknown key{hint}")


@dataclass
class Config:
    """The site's settings, typed. Paths are absolute (resolved against site.toml's folder)."""

    path: Path
    root: Path
    title: str = "Paper Digest"
    description: str = ""
    base_url: str = "/"
    language: str = "en"
    output_dir: Path = Path("_site")
    theme: str = "default"
    theme_dir: Path | None = None
    intro: Path | None = None
    about: Path | None = None
    page_size: int = 30
    history: Path | None = None
    sources: list[Source] = field(default_factory=list)
    plugins_enabled: tuple[str, ...] | None = None
    plugins_disabled: tuple[str, ...] = ()
    plugins_local: tuple[str, ...] = ()
    raw_plugin_options: dict[str, Any] = field(default_factory=dict)
    raw_email: dict[str, Any] = field(default_factory=dict)
    plugin_settings: dict[str, Any] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)

    @property
    def errors(self) -> list[ConfigIssue]:
        """The issues that stop a build."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[ConfigIssue]:
        """The issues that stop a build only with ``--strict``."""
        return [i for i in self.issues if i.severity == "warning"]

    def plugin_options(self, name: str) -> Options:
        """The ``[plugins.<name>]`` table as `Options`, for a plugin's ``digest_configure``."""
        return Options(
            self.raw_plugin_options.get(name, {}), f"plugins.{name}", self.path.name, self.issues
        )

    def set_plugin_settings(self, name: str, settings: Any) -> None:
        """Keep a plugin's parsed settings for its later hooks."""
        self.plugin_settings[name] = settings

    def settings_for(self, name: str) -> Any:
        """The parsed settings a plugin stored with `set_plugin_settings`."""
        return self.plugin_settings.get(name)

    @property
    def base_path(self) -> str:
        """The path part of base_url, with a trailing slash (``/digest/``)."""
        from urllib.parse import urlsplit

        path = urlsplit(self.base_url).path or "/"
        return path if path.endswith("/") else path + "/"


def _path(root: Path, value: str | None) -> Path | None:
    return (root / value).resolve() if value else None


def _existing_file(opts: Options, root: Path, key: str) -> Path | None:
    path = _path(root, opts.string(key))
    if path is not None and not path.is_file():
        opts.error(
            key, f"no such file: {path.relative_to(root) if path.is_relative_to(root) else path}"
        )
        return None
    return path


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (use --config to name the site's site.toml)")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}")
    try:
        return tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}")


def load_config(path: Path) -> Config:
    """Read site.toml into a `Config`; type errors are collected in ``config.issues``.

    Raises `ConfigError` only when the file cannot be read or is not TOML at all.
    """
    path = path.resolve()
    root = path.parent
    raw = _read_toml(path)
    config = Config(path=path, root=root)
    top = Options(raw, "", path.name, config.issues)
    config.title = top.string("title", config.title)
    config.description = top.string("description", "")
    base_url = _base_url(top)
    config.base_url = base_url if base_url.endswith("/") else base_url + "/"
    config.language = top.string("language", "en")
    config.output_dir = _path(root, top.string("output_dir", "_site")) or root / "_site"
    config.theme = top.string("theme", "default")
    config.theme_dir = _path(root, top.string("theme_dir"))
    config.intro = _existing_file(top, root, "intro")
    config.about = _existing_file(top, root, "about")
    config.page_size = top.integer("page_size", 30, minimum=1)
    config.history = _path(root, top.string("history"))
    for opts in top.tables("sources"):
        source = _source(opts, root)
        if source:
            config.sources.append(source)
        opts.done()
    _check_source_names(config)
    # The email edition validates its own table (digest.email_edition.read_email_settings).
    config.raw_email = top.table_("email").values
    plugins = top.table_("plugins")
    enabled = plugins.strings("enabled", ())
    config.plugins_enabled = enabled if "enabled" in plugins.values else None
    config.plugins_disabled = plugins.strings("disabled", ())
    config.plugins_local = plugins.strings("local", ())
    for key, value in plugins.values.items():
        if isinstance(value, dict):
            config.raw_plugin_options[key] = plugins.raw(key)
    plugins.done()
    top.done()
    return config


def _base_url(opts: Options) -> str:
    """base_url: an http(s) URL or a path; it starts every absolute link, so a script URL
    (``javascript:``, ``data:``) would make every canonical and feed link one."""
    value: str = opts.string("base_url", "/")
    path = value.startswith("/") and not value.startswith("//")
    if (path or is_http_url(value)) and not any(ch.isspace() or ord(ch) < 32 for ch in value):
        return value
    opts.error("base_url", f"expected an http(s) URL or a path starting with /, got {value!r}")
    return "/"


def _source(opts: Options, root: Path) -> Source | None:
    path = opts.string("path")
    url = opts.string("url")
    name = opts.string("name")
    fmt = opts.string("format")
    year = opts.integer("year")
    date = _date(opts, "date")
    options = opts.table_("options").values
    fetching = _fetch_options(opts)
    if not path and not url and not fetching.get("kind"):
        opts.error("path", "expected a file path (or a url), got nothing")
        return None
    name = name or Path(path or url or fetching["kind"]).stem
    file = (root / path).resolve() if path else root / ".digest-cache" / "sources" / name
    return Source(
        name=name,
        path=file,
        format=fmt,
        year=year,
        date=date,
        url=url,
        options={**options, **fetching},
        shown_path=path,
    )


def _fetch_options(opts: Options) -> dict[str, Any]:
    """The settings of a url source (see `digest.fetch`): only the keys given."""
    values = {
        "kind": opts.string("kind", choices=("arxiv", "hf-daily", "url")),
        "query": opts.string("query"),
        "categories": opts.strings("categories") or None,
        "max_results": opts.integer("max_results", minimum=1),
        "page_size": opts.integer("page_size", minimum=1),
        "days": opts.integer("days", minimum=1),
        "min_interval": opts.number("min_interval", minimum=0),
        "timeout": opts.number("timeout", minimum=0.001),
        "retries": opts.integer("retries", minimum=0),
        "backoff": opts.number("backoff", minimum=0),
        "cache_hours": opts.number("cache_hours", minimum=0),
    }
    return {key: value for key, value in values.items() if value is not None}


def _date(opts: Options, key: str) -> dt.date | None:
    value = opts.raw(key)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    if value is not None:
        opts.error(key, f"expected a date like 2024-10-30, got {_describe(value)}")
    return None


def _check_source_names(config: Config) -> None:
    seen: set[str] = set()
    for i, source in enumerate(config.sources):
        if source.name in seen:
            config.issues.append(
                ConfigIssue(
                    config.path.name,
                    f"sources[{i}]",
                    "name",
                    f"the name {source.name!r} is used by another source; names must differ",
                )
            )
        seen.add(source.name)
