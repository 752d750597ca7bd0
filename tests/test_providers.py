"""Mailbox provider attribution: recipient domain first, MX/relay host second, from a data table."""

from __future__ import annotations

import polars as pl
import pytest

from analysis.classify import provider_for, provider_frame
from analysis.classify.providers import parse_provider_table, provider_table

CASES = [
    # (recipient domain, relay host, provider)
    ("gmail.com", None, "google"),
    ("GMAIL.COM", None, "google"),
    ("gmail.com.", None, "google"),
    ("googlemail.com", None, "google"),
    ("acme.example", "aspmx.l.google.com", "google"),
    ("acme.example", "alt1.aspmx.l.google.com", "google"),
    ("acme.example", "gmail-smtp-in.l.google.com", "google"),
    ("acme.example", "ASPMX.L.GOOGLE.COM.", "google"),
    ("outlook.com", None, "microsoft"),
    ("hotmail.co.uk", None, "microsoft"),
    ("live.fr", None, "microsoft"),
    ("msn.com", None, "microsoft"),
    ("acme.example", "acme-example.mail.protection.outlook.com", "microsoft"),
    ("acme.example", "hotmail-com.olc.protection.outlook.com", "microsoft"),
    ("acme.example", "mx4.hotmail.com", "microsoft"),
    ("yahoo.com", None, "yahoo"),
    ("yahoo.co.uk", None, "yahoo"),
    ("aol.com", None, "yahoo"),
    ("ymail.com", None, "yahoo"),
    ("att.net", None, "yahoo"),
    ("acme.example", "mta7.am0.yahoodns.net", "yahoo"),
    ("icloud.com", None, "apple"),
    ("me.com", None, "apple"),
    ("mac.com", None, "apple"),
    ("acme.example", "mx01.mail.icloud.com", "apple"),
    ("gmx.de", None, "gmx"),
    ("gmx.net", None, "gmx"),
    ("web.de", None, "gmx"),
    ("acme.example", "mx00.gmx.com", "gmx"),
    ("orange.fr", None, "orange"),
    ("wanadoo.fr", None, "orange"),
    ("mail.ru", None, "mailru"),
    ("inbox.ru", None, "mailru"),
    ("comcast.net", None, "comcast"),
    ("yandex.ru", None, "yandex"),
    ("acme.example", "mx.yandex.net", "yandex"),
    ("zoho.com", None, "zoho"),
    ("proton.me", None, "proton"),
    ("acme.example", "mail.protonmail.ch", "proton"),
    ("fastmail.com", None, "fastmail"),
    ("acme.example", "in1-smtp.messagingengine.com", "fastmail"),
    # subdomains of a listed domain belong to it; look-alikes do not
    ("mail.yahoo.com", None, "yahoo"),
    ("notgmail.com", None, "other"),
    ("gmail.com.evil.example", None, "other"),
    ("acme.example", "google.com.evil.example", "other"),
    ("acme.example", "mx.notoutlook.com", "other"),
    # the domain wins over the relay; unknown names are other; nothing known is None
    ("gmail.com", "mx.example.net", "google"),
    ("acme.example", None, "other"),
    (None, "mx.example.net", "other"),
    (None, "aspmx.l.google.com", "google"),
    (None, None, None),
    ("", "", None),
    # MX-only rows do not attribute recipient domains: a mailbox at Fastmail's MX host name is not a thing
    ("messagingengine.com", None, "other"),
    ("yahoodns.net", None, "other"),
]


@pytest.mark.parametrize(("domain", "host", "provider"), CASES)
def test_provider_for(domain: str | None, host: str | None, provider: str | None) -> None:
    assert provider_for(domain or None, host or None) == provider


def test_provider_frame_matches_scalar() -> None:
    domains = pl.Series([c[0] for c in CASES], dtype=pl.String)
    hosts = pl.Series([c[1] for c in CASES], dtype=pl.String)
    out = provider_frame(domains, hosts)
    assert out["provider"].to_list() == [provider_for(c[0] or None, c[1] or None) for c in CASES]
    only_domains = provider_frame(pl.DataFrame({"recipient_domain": ["gmail.com", "x.example", None]}))
    assert only_domains["provider"].to_list() == ["google", "other", None]


def test_table_covers_the_required_providers() -> None:
    assert {
        "google",
        "microsoft",
        "yahoo",
        "apple",
        "gmx",
        "orange",
        "mailru",
        "comcast",
    } <= provider_table().providers


@pytest.mark.parametrize(
    "text",
    [
        "suffix\tprovider\n",
        "suffix\tprovider\tapplies\nx.example\tx\tsometimes\n",
        "suffix\tprovider\tapplies\nx.example\tx\n",
    ],
)
def test_bad_table_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_provider_table(text)
