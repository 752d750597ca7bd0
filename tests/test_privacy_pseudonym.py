"""The pseudonymiser and the audit's address hashing, value by value."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analysis.errors import InputError
from analysis.privacy.address import parse_address
from analysis.privacy.audit import address_hash, hash_addresses
from analysis.privacy.config import load_config, load_key
from analysis.privacy.pseudonym import Pseudonymizer, resolve

KEY = b"unit-test-key-0123456789abcdef"
Z = Pseudonymizer(KEY)


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        ("550 5.1.1 <bob@Example.com>: user unknown", ["bob@"], ["@example.com", "550 5.1.1"]),
        ('to=<"john doe"@example.com>', ["john doe"], ["@example.com"]),
        ("client [203.0.113.9] blocked using zen.spamhaus.org", ["203.0.113.9"], ["zen.spamhaus.org"]),
        ("host mx[2001:db8::25] said", ["2001:db8::25"], ["host mx["]),
        ("at 2026-11-22T05:00:01+00:00 dsn 4.7.28", [], ["2026-11-22T05:00:01+00:00", "4.7.28"]),
    ],
)
def test_text(text: str, gone: list[str], kept: list[str]) -> None:
    out = Z.text(text)
    assert out is not None
    assert all(g not in out for g in gone) and all(k in out for k in kept)


def test_tokens_are_keyed_consistent_and_kind_separated() -> None:
    assert Z.address("bob@Example.com") == Z.address("bob@example.com") == Z.text("bob@example.com")
    assert Z.address("bob@example.com") != Z.address("Bob@example.com")  # local parts are case-sensitive
    assert Z.user("10.0.0.1") != Z.ip("10.0.0.1")
    assert Pseudonymizer(b"other-key-0123456789abcdef").ip("10.0.0.1") != Z.ip("10.0.0.1")
    assert Pseudonymizer(None).address("bob@example.com") == "bob@example.com"


def test_frame_and_figures() -> None:
    df = pl.DataFrame(
        {
            "sasl_username": ["alice@acme.example", None],
            "client_ip": ["192.0.2.1", "192.0.2.2"],
            "recipient": ["bob@gmail.com", "carl@gmail.com"],
            "example": ["<***@gmail.com> from 192.0.2.1", "ok"],
            "attempted": [1, 2],
        }
    )
    out = Z.frame(df)
    dumped = json.dumps(out.to_dicts())
    for personal in ("alice@", "192.0.2.1", "192.0.2.2", "bob@", "carl@"):
        assert personal not in dumped
    assert out["attempted"].to_list() == [1, 2] and out["sasl_username"][1] is None
    assert out["example"][0] == f"<***@gmail.com> from {Z.ip('192.0.2.1')}"
    figures = {
        "breaches": [
            {"dimension": "sasl_username", "value": "alice@acme.example", "n": 3},
            {"dimension": "sender_domain", "value": "acme.example", "n": 3},
        ],
        "filters": {"sasl_username": "alice@acme.example"},
    }
    done = Z.figures(figures)
    assert "alice" not in json.dumps(done)
    assert done["breaches"][1]["value"] == "acme.example" and done["breaches"][0]["n"] == 3


def test_audit_hashes_every_address_in_parameters() -> None:
    params = {"address": '"john doe"@Example.com', "paths": ["/logs/bob@example.com/mail.log"], "n": 3}
    hashed = hash_addresses(params, lambda: KEY)
    assert "john" not in json.dumps(hashed) and "bob@" not in json.dumps(hashed)
    assert hashed["address"] == address_hash(parse_address('"john doe"@example.com'), KEY)
    assert hashed["n"] == 3


def test_key_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DELIVERABILITY_PRIVACY_KEY", raising=False)
    key_file = tmp_path / "k"
    monkeypatch.setenv("DELIVERABILITY_PRIVACY_KEY_FILE", str(key_file))
    with pytest.raises(InputError, match="no privacy key"):
        load_key()
    key_file.write_text("short\n")
    with pytest.raises(InputError, match="shorter than 16"):
        load_key()
    key_file.write_text("a-long-enough-key-from-a-file\n")
    assert load_key() == b"a-long-enough-key-from-a-file"
    monkeypatch.setenv("DELIVERABILITY_PRIVACY_KEY", "from-the-environment-wins")
    assert load_key() == b"from-the-environment-wins"
    monkeypatch.setenv("DELIVERABILITY_PRIVACY_KEY", "short")
    with pytest.raises(InputError, match="shorter than 16"):
        load_key()
    monkeypatch.setenv(
        "DELIVERABILITY_PRIVACY_KEY_FILE", str(Path(__file__).resolve().parent / "privacy.key")
    )
    monkeypatch.delenv("DELIVERABILITY_PRIVACY_KEY")
    with pytest.raises(InputError, match="inside the repository"):
        load_key()
    monkeypatch.setenv("DELIVERABILITY_PRIVACY_KEY_FILE", str(key_file))
    # The configured default file is created (0600) when nothing else gives a key.
    monkeypatch.delenv("DELIVERABILITY_PRIVACY_KEY", raising=False)
    monkeypatch.delenv("DELIVERABILITY_PRIVACY_KEY_FILE")
    site = tmp_path / "privacy.toml"
    site.write_text(f'[pseudonymise]\ndefault = true\nkey_file = "{tmp_path / "made" / "privacy.key"}"\n')
    config = load_config(site)
    first = load_key(config)
    assert load_key(config) == first and len(first) == 64
    assert oct((tmp_path / "made" / "privacy.key").stat().st_mode & 0o777) == "0o600"
    assert resolve(None, config) is True and resolve(False, config) is False
