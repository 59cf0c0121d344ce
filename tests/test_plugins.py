"""Plugin registration: built-ins through entry points, blocking, site-local plugins,
hook validation and ordering."""

from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

from digest.build import prepare_config
from digest.cli import main
from digest.errors import ConfigError
from digest.plugins import make_plugin_manager, plugin_infos

BUILT_INS = {"readers", "trending", "topics", "highlight"}


def test_built_in_plugins_come_from_entry_points() -> None:
    pm = make_plugin_manager()
    from_dists = {pm.get_name(plugin) for plugin, _dist in pm.list_plugin_distinfo()}
    assert from_dists >= BUILT_INS
    names = {info.name for info in plugin_infos(pm)}
    assert names >= BUILT_INS
    readers = next(i for i in plugin_infos(pm) if i.name == "readers")
    assert readers.hooks == ("digest_readers",)
    assert readers.origin.startswith("entry point (paper-digest")


def test_digest_plugins_lists_plugins_and_hooks(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    listed = [line.split()[0] for line in lines if not line.startswith(" ")]
    assert set(listed) >= BUILT_INS
    assert "    hooks: digest_readers" in lines


def _site(site_factory, plugins_table: str, local: dict[str, str] | None = None):
    files = {f"plugins/{name}.py": code for name, code in (local or {}).items()}
    return site_factory(plugins_table, files=files)


def test_disabled_plugins_are_blocked(site_factory) -> None:
    root = _site(site_factory, '[plugins]\ndisabled = ["topics", "trending"]\n')
    _config, pm = prepare_config(root / "site.toml")
    assert pm.is_blocked("topics") and pm.is_blocked("trending")
    assert pm.get_plugin("highlight") is not None


def test_enabled_list_loads_only_those(site_factory) -> None:
    root = _site(site_factory, '[plugins]\nenabled = ["readers", "highlight"]\n')
    _config, pm = prepare_config(root / "site.toml")
    loaded = {name for name, plugin in pm.list_name_plugin() if plugin is not None}
    assert loaded == {"readers", "highlight"}


def test_unknown_plugin_name_is_a_config_error(site_factory) -> None:
    root = _site(site_factory, '[plugins]\ndisabled = ["trendng"]\n')
    with pytest.raises(ConfigError) as err:
        prepare_config(root / "site.toml")
    assert "[plugins] disabled: unknown plugin 'trendng' (did you mean 'trending'?)" in str(
        err.value.message
    )
    assert err.value.exit_code == 2


LOCAL_PLUGIN = textwrap.dedent(
    """
    from digest import hookimpl
    from digest.pages import Page

    CALLS = []

    @hookimpl
    def digest_papers(papers, site):
        CALLS.append(("local", len(papers)))

    @hookimpl(tryfirst=True)
    def digest_configure(config):
        opts = config.plugin_options("mine")
        config.set_plugin_settings("mine", opts.string("greeting", "hi"))
        opts.done()
    """
)


def test_site_local_plugin_is_loaded_and_validates_its_settings(site_factory) -> None:
    root = _site(
        site_factory,
        '[plugins]\nlocal = ["mine"]\n[plugins.mine]\ngreeting = "hello"\n',
        {"mine": LOCAL_PLUGIN},
    )
    config, pm = prepare_config(root / "site.toml")
    assert config.settings_for("mine") == "hello"
    info = next(i for i in plugin_infos(pm) if i.name == "mine")
    assert info.origin.startswith("site-local")
    assert info.hooks == ("digest_configure", "digest_papers")


def test_site_local_plugin_settings_are_validated(site_factory) -> None:
    root = _site(
        site_factory,
        '[plugins]\nlocal = ["mine"]\n[plugins.mine]\ngreeting = 3\ncolour = "red"\n',
        {"mine": LOCAL_PLUGIN},
    )
    with pytest.raises(ConfigError) as err:
        prepare_config(root / "site.toml")
    assert err.value.message.splitlines() == [
        "site.toml: [plugins.mine] greeting: expected a string, got 3",
        "site.toml: [plugins.mine] colour: unknown key",
    ]


def test_misspelled_hook_is_an_error(site_factory) -> None:
    code = "from digest import hookimpl\n\n@hookimpl\ndef digest_paper(papers):\n    pass\n"
    root = _site(site_factory, '[plugins]\nlocal = ["typo"]\n', {"typo": code})
    with pytest.raises(ConfigError) as err:
        prepare_config(root / "site.toml")
    assert "digest_paper" in err.value.message


def test_missing_local_plugin_file_is_named(site_factory) -> None:
    root = _site(site_factory, '[plugins]\nlocal = ["ghost"]\n')
    with pytest.raises(ConfigError) as err:
        prepare_config(root / "site.toml")
    assert err.value.message == (
        "site.toml: [plugins] local: no file plugins/ghost.py next to site.toml"
    )


def test_hook_order_follows_tryfirst_and_trylast(site_factory) -> None:
    code = (
        "from digest import hookimpl\n"
        "@hookimpl({})\ndef digest_papers(papers):\n    papers.append({!r})\n"
    )
    first = code.format("trylast=True", "last")
    second = code.format("tryfirst=True", "first")
    root = _site(
        site_factory,
        '[plugins]\nenabled = ["readers"]\nlocal = ["a", "b"]\n',
        {"a": first, "b": second},
    )
    _config, pm = prepare_config(root / "site.toml")
    seen: list[str] = []
    pm.hook.digest_papers(papers=seen, site=None)
    assert seen == ["first", "last"]


def test_every_hook_is_documented_and_exercised() -> None:
    import inspect
    from pathlib import Path

    from digest import hookspecs

    hooks = [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("digest_")
    ]
    assert len(hooks) == 7
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    sources = "".join(
        p.read_text(encoding="utf-8") for p in (Path(__file__).parent).glob("test_*.py")
    )
    plugin_code = "".join(
        p.read_text(encoding="utf-8")
        for p in (Path(__file__).resolve().parent.parent / "plugins").glob("*.py")
    )
    for name in hooks:
        assert len((getattr(hookspecs, name).__doc__ or "").split()) > 10, name
        assert f"`{name}" in readme, f"{name} is not in the README"
        assert f"def {name}" in plugin_code + sources, f"no plugin or test implements {name}"
