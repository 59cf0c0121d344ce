"""The plugin manager: built-in and third-party plugins through the ``digest`` entry-point
group, plus site-local plugin modules named in site.toml."""

from __future__ import annotations

import difflib
import importlib.metadata
import importlib.util
import sys
from dataclasses import dataclass
from types import ModuleType

import pluggy

from digest import hookspecs
from digest.config import Config
from digest.errors import ConfigError

ENTRY_POINT_GROUP = "digest"


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A registered plugin: its name, where it came from, and the hooks it implements."""

    name: str
    origin: str
    hooks: tuple[str, ...]


def available_plugin_names() -> list[str]:
    """Names of every plugin installed through the entry-point group, sorted."""
    return sorted({ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)})


def _check_names(config: Config, names: tuple[str, ...], key: str) -> None:
    known = [*available_plugin_names(), *config.plugins_local]
    for name in names:
        if name not in known:
            near = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(
                f"{config.path.name}: [plugins] {key}: unknown plugin {name!r}{hint}; "
                f"installed: {', '.join(known) or 'none'}"
            )


def _load_local(config: Config, name: str) -> ModuleType:
    path = config.root / "plugins" / f"{name}.py"
    if not path.is_file():
        raise ConfigError(
            f"{config.path.name}: [plugins] local: no file plugins/{name}.py next to site.toml"
        )
    module_name = f"digest_local_plugins.{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"{path}: the plugin failed to load: {type(exc).__name__}: {exc}")
    sys.modules[module_name] = module
    return module


def make_plugin_manager(config: Config | None = None) -> pluggy.PluginManager:
    """A plugin manager with every enabled plugin registered and checked.

    ``[plugins] enabled`` (when given) lists the only entry-point plugins to load;
    ``disabled`` blocks plugins by name; ``local`` names modules in the site's
    ``plugins/`` folder. A hook implementation that matches no hook spec is an error.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if config is not None:
        _check_names(config, config.plugins_disabled, "disabled")
        if config.plugins_enabled is not None:
            _check_names(config, config.plugins_enabled, "enabled")
            for name in available_plugin_names():
                if name not in config.plugins_enabled:
                    pm.set_blocked(name)
        for name in config.plugins_disabled:
            pm.set_blocked(name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    if config is not None:
        for name in config.plugins_local:
            if not pm.is_blocked(name):
                pm.register(_load_local(config, name), name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigError(f"plugin {exc.plugin!r}: {exc}")
    return pm


def plugin_infos(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """What `digest plugins` lists: each plugin with its origin and hooks, sorted by name."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        dist = dists.get(id(plugin))
        if dist is not None:
            module = getattr(plugin, "__name__", repr(plugin))
            origin = f"entry point ({dist.project_name} {dist.version}): {module}"
        else:
            origin = f"site-local: {getattr(plugin, '__file__', plugin)}"
        infos.append(PluginInfo(name, origin, hooks))
    return sorted(infos, key=lambda info: info.name)
