"""The email edition: a reproducible .eml of the day's digest, and delivery over SMTP to a
local server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SiteFactory

from digest.build import build
from digest.cli import main
from digest.config import Config
from digest.email_edition import parse_server, read_email_settings
from digest.errors import ConfigError

MON, TUE, WED = dt.date(2025, 10, 27), dt.date(2025, 10, 28), dt.date(2025, 10, 29)
SITE = """\
title = "Morning Papers"
base_url = "https://example.org/digest/"
{history}
[[sources]]
name = "Daily papers"
path = "data/daily.txt"
year = 2025
"""


def entry(title: str, votes: int) -> str:
    return (
        f"{title}\n\nWe study {title.lower()} & more <stuff>.\n\n  • 3 authors\n·\nOct 26 {votes}\n"
    )


def listing(*titles: str) -> str:
    header = "Daily Papers\n\nOct 26\n\n"
    return header + "\n".join(entry(t, 10 + i) for i, t in enumerate(titles))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Monday: Alpha and Beta; Tuesday: Gamma is new; Wednesday: nothing new."""
    root = tmp_path_factory.mktemp("site")
    (root / "data").mkdir()
    (root / "site.toml").write_text(SITE.format(history='history = "history.sqlite"'))
    nights = {
        MON: ("Alpha rays", "Beta decay"),
        TUE: ("Alpha rays", "Beta decay", "Gamma bursts"),
        WED: ("Gamma bursts", "Beta decay"),
    }
    for day, titles in nights.items():
        (root / "data" / "daily.txt").write_text(listing(*titles), encoding="utf-8")
        build(root / "site.toml", date=day)
    return root


def write_email(root: Path, day: dt.date, *args: str) -> EmailMessage:
    out = root / f"digest-{day}.eml"
    result = CliRunner().invoke(
        main,
        ["email", "--config", str(root / "site.toml"), "--date", day.isoformat(),
         "--out", str(out), *args],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return parse(out.read_bytes())


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None and rich is not None
    return plain.get_content(), rich.get_content()


def test_the_edition_of_a_day_holds_its_new_papers(site: Path) -> None:
    message = write_email(site, TUE)
    assert message["Subject"] == "Morning Papers, 2025-10-28: 1 new paper"
    assert message["Date"] == "Tue, 28 Oct 2025 00:00:00 +0000"
    assert re.fullmatch(r"<digest\.2025-10-28\.[0-9a-f]{24}@example\.org>", message["Message-ID"])
    assert message["From"] == "Morning Papers <digest@example.org>"
    text, html = parts(message)
    assert "Gamma bursts" in text and "Alpha rays" not in text
    assert "https://example.org/digest/papers/gamma-bursts/" in text
    assert "https://example.org/digest/archive/2025/10/28/" in text
    assert "Gamma bursts" in html and "Alpha rays" not in html
    assert "&amp; more &lt;stuff&gt;" in html  # escaped, never raw markup from a listing
    links = re.findall(r'href="([^"]+)"', html)
    assert "https://example.org/digest/papers/gamma-bursts/" in links
    assert all(link.startswith("https://example.org/digest/") for link in links)
    for banned in ("<script", "<img", "<link", "<style", 'src="'):
        assert banned not in html.lower()
    assert 'style="' in html


def test_a_day_without_new_papers_sends_the_top_of_the_digest(site: Path) -> None:
    message = write_email(site, WED, "--top", "1")
    assert message["Subject"] == "Morning Papers, 2025-10-29: top 1 paper"
    text, _html = parts(message)
    assert text.count("https://example.org/digest/papers/") == 1
    assert "archive/2025/10/29" not in text  # no day page: nothing was new


def test_the_eml_is_byte_identical_across_processes(site: Path) -> None:
    outputs = []
    for seed in ("1", "2"):
        out = site / f"run-{seed}.eml"
        subprocess.run(
            [sys.executable, "-m", "digest", "email", "--config", str(site / "site.toml"),
             "--date", TUE.isoformat(), "--out", str(out), "--to", "a@example.org"],
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    boundary = parse(outputs[0]).get_boundary()
    assert boundary is not None and boundary.startswith("=_digest_")
    assert b"\r\n" in outputs[0] and str(site).encode() not in outputs[0]


def test_without_history_the_edition_is_the_top_of_todays_digest(
    site_factory: SiteFactory,
) -> None:
    root = site_factory(
        SITE.format(history=""), files={"data/daily.txt": listing("Alpha rays", "Beta decay")}
    )
    message = write_email(root, MON)
    assert message["Subject"] == "Morning Papers, 2025-10-27: top 2 papers"
    text, _ = parts(message)
    assert "Alpha rays" in text and "Beta decay" in text
    assert not (root / "history.sqlite").exists()


# -- SMTP ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult

        self.logins.append((data.login, data.password))
        ok = (data.login, data.password) == (b"digest", b"s3cret")
        return AuthResult(success=ok, handled=False)  # unhandled: the server answers 535


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A local SMTP server that requires a login (over plain TCP: it is a test)."""
    controller_module = pytest.importorskip("aiosmtpd.controller")
    inbox = Inbox()
    port = free_port()
    controller = controller_module.Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


NO_TLS = "ignore:Requiring AUTH while not requiring TLS:UserWarning"


@pytest.mark.filterwarnings(NO_TLS)
def test_sending_through_smtp(
    site: Path, smtp_server: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp_server
    monkeypatch.setenv("DIGEST_SMTP_USER", "digest")
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "s3cret")
    monkeypatch.delenv("DIGEST_SMTP_STARTTLS", raising=False)
    written = write_email(
        site, TUE, "--smtp", f"127.0.0.1:{port}", "--from", "Digest <bot@example.org>",
        "--to", "ada@example.org", "--to", "emile@example.org",
    )  # fmt: skip
    assert inbox.logins == [(b"digest", b"s3cret")]
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "bot@example.org"
    assert envelope.rcpt_tos == ["ada@example.org", "emile@example.org"]
    received = parse(envelope.original_content)
    assert received["Subject"] == "Morning Papers, 2025-10-28: 1 new paper"
    assert received["To"] == "ada@example.org, emile@example.org"
    assert received["Message-ID"] == written["Message-ID"]
    text, html = parts(received)
    assert "https://example.org/digest/papers/gamma-bursts/" in text
    assert 'href="https://example.org/digest/papers/gamma-bursts/"' in html


@pytest.mark.filterwarnings(NO_TLS)
def test_a_wrong_password_fails_clearly(
    site: Path, smtp_server: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp_server
    monkeypatch.setenv("DIGEST_SMTP_USER", "digest")
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "wrong")
    result = CliRunner().invoke(
        main,
        ["email", "--config", str(site / "site.toml"), "--date", TUE.isoformat(),
         "--out", str(site / "x.eml"), "--smtp", f"127.0.0.1:{port}", "--to", "a@example.org"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"sending the email through 127.0.0.1:{port} failed" in result.output
    assert inbox.envelopes == []


def test_sending_needs_a_server_and_recipients(site: Path) -> None:
    args = ["email", "--config", str(site / "site.toml"), "--date", TUE.isoformat(),
            "--out", str(site / "x.eml")]  # fmt: skip
    result = CliRunner().invoke(main, [*args, "--send"])
    assert result.exit_code == 2 and "no SMTP server" in result.output
    result = CliRunner().invoke(main, [*args, "--smtp", "127.0.0.1:1"])
    assert result.exit_code == 2 and "no recipients" in result.output


def test_email_settings_table(tmp_path: Path) -> None:
    config = Config(path=tmp_path / "site.toml", root=tmp_path)
    config.raw_email = {  # type: ignore[attr-defined]
        "from": "Digest <d@example.org>",
        "to": ["a@example.org"],
        "top": 0,
        "smpt": "x:25",
    }
    settings = read_email_settings(config)
    assert settings.sender == "Digest <d@example.org>" and settings.recipients == ("a@example.org",)
    assert settings.top == 20
    messages = [str(issue) for issue in config.issues]
    assert "site.toml: [email] top: expected an integer >= 1, got 0" in messages
    assert "site.toml: [email] smpt: unknown key (did you mean 'smtp'?)" in messages


@pytest.mark.parametrize(
    ("value", "expected"),
    [("smtp.example.org:587", ("smtp.example.org", 587)), ("[::1]:25", ("::1", 25))],
)
def test_parse_server(value: str, expected: tuple[str, int]) -> None:
    assert parse_server(value) == expected


def test_parse_server_rejects_nonsense() -> None:
    with pytest.raises(ConfigError, match="expected host:port"):
        parse_server("smtp.example.org")


def test_a_title_with_line_breaks_gives_a_one_line_subject(site_factory) -> None:
    from click.testing import CliRunner

    from digest.cli import main

    root = site_factory(
        'title = "Evil\\r\\nBcc: victim@example.org"\n'
        '[[sources]]\npath = "data/hf-daily-papers.txt"\nyear = 2025\n',
        seeds=["hf-daily-papers.txt"],
    )
    out = root / "d.eml"
    result = CliRunner().invoke(
        main,
        ["email", "--config", str(root / "site.toml"), "--date", "2025-10-30", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    import email

    msg = email.message_from_bytes(out.read_bytes())
    assert msg["Bcc"] is None
    assert msg["Subject"].startswith("Evil Bcc: victim@example.org, 2025-10-30")
