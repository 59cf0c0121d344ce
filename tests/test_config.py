"""site.toml loading: typed values, and every mistake named with file, table and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.build import prepare_config
from digest.cli import main
from digest.config import ConfigIssue, Options, load_config
from digest.errors import ConfigError


def test_demo_config_is_typed_and_resolved() -> None:
    root = Path(__file__).resolve().parent.parent
    config = load_config(root / "site.toml")
    assert config.issues == []
    assert config.title == "Paper Digest"
    assert config.base_url == "https://example.org/digest/"
    assert config.base_path == "/digest/"
    assert [s.name for s in config.sources] == [
        "Daily papers",
        "Search: scaling",
        "Search: training",
        "Mila publications",
    ]
    assert config.sources[0].path == root / "data" / "hf-daily-papers.txt"
    assert config.sources[0].label == "data/hf-daily-papers.txt"
    assert config.output_dir == root / "_site"


def test_every_mistake_is_reported_at_once(site_factory) -> None:
    root = site_factory(
        """
        title = 3
        base_url = "https://example.org/x"
        page_size = 0
        outptu_dir = "public"

        [[sources]]
        name = "a"

        [[sources]]
        path = "data/a.txt"
        name = "a"
        year = "2024"
        colour = "red"
        """
    )
    config = load_config(root / "site.toml")
    messages = [str(i) for i in config.errors]
    assert messages == [
        "site.toml: title: expected a string, got 3",
        "site.toml: page_size: expected an integer >= 1, got 0",
        "site.toml: [sources[0]] path: expected a file path (or a url), got nothing",
        'site.toml: [sources[1]] year: expected an integer, got "2024"',
        "site.toml: [sources[1]] colour: unknown key",
        "site.toml: outptu_dir: unknown key (did you mean 'output_dir'?)",
    ]
    assert config.base_url == "https://example.org/x/"


def test_duplicate_source_names_are_an_error(site_factory) -> None:
    root = site_factory(
        """
        [[sources]]
        path = "data/a.txt"
        [[sources]]
        path = "other/a.txt"
        """
    )
    config = load_config(root / "site.toml")
    assert [str(i) for i in config.errors] == [
        "site.toml: [sources[1]] name: the name 'a' is used by another source; names must differ"
    ]


def test_options_reader_collects_typed_errors() -> None:
    issues: list[ConfigIssue] = []
    opts = Options(
        {"gravity": "fast", "top": 5, "flag": 1, "words": ["a", 2], "mode": "x", "extra": 1},
        "plugins.trending",
        "site.toml",
        issues,
    )
    assert opts.number("gravity", 1.8) == 1.8
    assert opts.integer("top", 10) == 5
    assert opts.boolean("flag", False) is False
    assert opts.strings("words", ("z",)) == ("z",)
    assert opts.string("mode", "a", choices=("a", "b")) == "a"
    opts.done()
    assert [str(i) for i in issues] == [
        'site.toml: [plugins.trending] gravity: expected a number, got "fast"',
        "site.toml: [plugins.trending] flag: expected true or false, got 1",
        "site.toml: [plugins.trending] words: expected an array of strings, got 2 in it",
        'site.toml: [plugins.trending] mode: expected one of a, b, got "x"',
        "site.toml: [plugins.trending] extra: unknown key",
    ]


def test_bool_is_not_a_number() -> None:
    issues: list[ConfigIssue] = []
    assert Options({"n": True}, "", "site.toml", issues).number("n", 2.0) == 2.0
    assert str(issues[0]) == "site.toml: n: expected a number, got true"


def test_invalid_toml_names_the_file_and_line(site_factory) -> None:
    root = site_factory('title = "unclosed\n')
    with pytest.raises(ConfigError) as err:
        load_config(root / "site.toml")
    assert "site.toml: invalid TOML" in err.value.message
    assert "line 1" in err.value.message


def test_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["build", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "nope.toml: no such file" in result.output
    assert "Traceback" not in result.output


def test_unknown_plugin_table_is_reported(site_factory) -> None:
    root = site_factory("[plugins.trendign]\ngravity = 2\n")
    with pytest.raises(ConfigError) as err:
        prepare_config(root / "site.toml")
    assert err.value.message == (
        "site.toml: [plugins.trendign] no such plugin (did you mean [plugins.trending]?)"
    )


def test_config_errors_exit_2_with_one_line_each(site_factory) -> None:
    root = site_factory("title = 3\npage_size = 'many'\n")
    result = CliRunner().invoke(main, ["build", "--config", str(root / "site.toml")])
    assert result.exit_code == 2
    assert "site.toml: title: expected a string, got 3" in result.output
    assert 'site.toml: page_size: expected an integer, got "many"' in result.output
    assert not (root / "_site").exists()


def test_missing_about_page_is_named(site_factory) -> None:
    root = site_factory('about = "content/about.md"\n')
    config = load_config(root / "site.toml")
    assert [str(i) for i in config.errors] == ["site.toml: about: no such file: content/about.md"]
