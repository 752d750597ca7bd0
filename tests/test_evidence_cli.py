"""`deliverability dmarc` and `deliverability complaints` on stores built by real ingests of data/samples.

Expected DMARC figures come from an independent reading of the sample XML (xml.etree + email), not from
the store; complaint recipients must never appear with their local part.
"""

from __future__ import annotations

import email
import gzip
import io
import json
import re
import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from analysis.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
INVENTORY = ROOT / "data" / "inventory.toml"
XSS_UA = "<script>window.__xss='ua'</script>"
XSS_ORG = "<script>window.__xss='org'</script>"
PLANTED_SOURCE = "203.0.113.99"
UNMATCHED_RCPT = "nobody.here@example.net"


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def planted_files(folder: Path) -> list[Path]:
    """A complaint whose User-Agent is a script tag, one about a message we never sent, and a DMARC
    report from a reporter whose org_name is a script tag (XML-escaped in the file, as a sender would)."""
    folder.mkdir(parents=True, exist_ok=True)
    arf = (SAMPLES / "arf" / "yahoo-abuse-globex.example.eml").read_text()
    hostile = arf.replace("User-Agent: Yahoo!-Mail-Feedback/2.0", f"User-Agent: {XSS_UA}")
    hostile = hostile.replace("arf-20261122061200.1@", "arf-20261122061200.2@")
    assert hostile != arf
    (folder / "planted-ua.eml").write_text(hostile)
    unmatched = arf.replace("sybil.smith252@yahoo.com", UNMATCHED_RCPT)
    unmatched = unmatched.replace("<179532710013.27127.18405105510212294946@globex.example>",
                                  "<never-sent-0001@globex.example>")  # fmt: skip
    unmatched = unmatched.replace("Source-IP: 192.0.2.10", "Source-IP: 198.51.100.77")
    unmatched = unmatched.replace("arf-20261122061200.1@", "arf-20261122061200.3@")
    (folder / "planted-unmatched.eml").write_text(unmatched)
    xml = (SAMPLES / "dmarc" / "yahoo.com!globex.example!1795305600!1795391999.xml").read_text()
    escaped = XSS_ORG.replace("<", "&lt;").replace(">", "&gt;")
    xml = xml.replace("<org_name>Yahoo</org_name>", f"<org_name>{escaped}</org_name>")
    xml = xml.replace("<report_id>1795391999.887766</report_id>", "<report_id>planted-1</report_id>")
    xml = xml.replace("<source_ip>198.51.100.200</source_ip>", f"<source_ip>{PLANTED_SOURCE}</source_ip>")
    (folder / "planted-dmarc.xml").write_text(xml)
    return [folder / "planted-ua.eml", folder / "planted-unmatched.eml", folder / "planted-dmarc.xml"]


def build_store(db: Path, *, inventory: bool = True, planted: Path | None = None) -> Path:
    """The demo's steps through the real CLI: inventory, `ingest data/samples`, planted files, refresh."""
    if inventory:
        res = cli("inventory", "load", "--inventory", str(INVENTORY), "--db", str(db))
        assert res.exit_code == 0, res.output
    res = cli("ingest", str(SAMPLES), "--db", str(db), "--year", "2026")
    assert res.exit_code == 0, res.output
    if planted is not None:
        res = cli("ingest", *map(str, planted_files(planted)), "--db", str(db), "--year", "2026")
        assert res.exit_code == 0, res.output
    res = cli("refresh", "--db", str(db))
    assert res.exit_code == 0, res.output
    return db


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("evidence")
    return build_store(tmp / "s.duckdb", planted=tmp / "planted")


@pytest.fixture(scope="module")
def bare_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples without the inventory: the relay's own IPs are then unknown too."""
    return build_store(tmp_path_factory.mktemp("bare") / "s.duckdb", inventory=False)


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from analysis.store import connect

    db = tmp_path_factory.mktemp("empty") / "e.duckdb"
    connect(db).close()
    return db


def _xml_documents() -> list[bytes]:
    docs = []
    for path in sorted((SAMPLES / "dmarc").iterdir()):
        data = path.read_bytes()
        if path.suffix == ".gz":
            docs.append(gzip.decompress(data))
        elif path.suffix == ".xml":
            docs.append(data)
        elif path.suffix == ".eml":
            for part in email.message_from_bytes(data).walk():
                body = part.get_payload(decode=True)
                if not isinstance(body, bytes) or part.get_content_maintype() == "text":
                    continue
                if body[:2] == b"\x1f\x8b":
                    docs.append(gzip.decompress(body))
                elif body[:2] == b"PK":
                    with zipfile.ZipFile(io.BytesIO(body)) as zf:
                        docs += [zf.read(n) for n in zf.namelist()]
                elif body.lstrip()[:1] == b"<":
                    docs.append(body)
    return docs


def dmarc_oracle() -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """(header_from -> (messages, passed), source_ip -> (messages, passed)) read straight from the XML."""
    by_domain: dict[str, tuple[int, int]] = {}
    by_source: dict[str, tuple[int, int]] = {}
    docs = _xml_documents()
    assert len(docs) == 3, "one aggregate report per sample file"
    for doc in docs:
        root = ET.fromstring(doc)
        for rec in root.iter():
            if not rec.tag.endswith("record"):
                continue
            text = {el.tag.split("}")[-1]: (el.text or "").strip() for el in rec.iter()}
            n = int(text["count"])
            ok = any(
                (el.text or "").strip() == "pass"
                for pe in rec.iter()
                if pe.tag.endswith("policy_evaluated")
                for el in pe
                if el.tag.split("}")[-1] in ("dkim", "spf")
            )
            for key, table in ((text["header_from"], by_domain), (text["source_ip"], by_source)):
                m, p = table.get(key, (0, 0))
                table[key] = (m + n, p + (n if ok else 0))
    return by_domain, by_source


def _json(res: Result) -> list[dict[str, object]]:
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert isinstance(rows, list)
    return rows


def test_help_names_every_option() -> None:
    for command, options in (("dmarc", ("--by", "--unknown", "--json", "--since", "--until", "--db")),
                             ("complaints", ("--unmatched", "--limit", "--json", "--since", "--until"))):  # fmt: skip
        res = cli(command, "--help")
        assert res.exit_code == 0
        for option in options:
            assert option in res.output, (command, option)


def test_dmarc_by_domain_matches_the_xml(bare_store: Path) -> None:
    expected, _ = dmarc_oracle()
    rows = _json(cli("dmarc", "--db", str(bare_store), "--json"))
    assert {r["header_from"]: (r["messages"], r["passed"]) for r in rows} == expected
    for r in rows:
        assert set(r) >= {"header_from", "messages", "passed", "failed", "pass_rate", "pass_rate_low",
                          "pass_rate_high", "dkim_aligned_pass", "spf_aligned_pass", "sources", "reports"}  # fmt: skip
        assert r["failed"] == r["messages"] - r["passed"]  # type: ignore[operator]
        assert r["pass_rate_low"] <= r["pass_rate"] <= r["pass_rate_high"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("fixture", "unknown"),
    [
        # with the inventory the relay's IPs are known; the two foreign sources remain
        ("store", {"203.0.113.66", "198.51.100.200", PLANTED_SOURCE}),
        # without it nothing says 192.0.2.10 / 127.0.0.1 are ours: they are unknown too
        ("bare_store", {"203.0.113.66", "198.51.100.200", "192.0.2.10", "127.0.0.1"}),
    ],
)
def test_dmarc_unknown_sources(fixture: str, unknown: set[str], request: pytest.FixtureRequest) -> None:
    db = request.getfixturevalue(fixture)
    rows = _json(cli("dmarc", "--db", str(db), "--unknown", "--json"))
    assert {r["source_ip"] for r in rows} == unknown
    failed = [r["failed"] for r in rows]
    assert failed == sorted(failed, reverse=True), "most failures first"  # type: ignore[type-var]


def test_dmarc_by_source_labels_the_relay(store: Path, bare_store: Path) -> None:
    _, expected = dmarc_oracle()
    bare = _json(cli("dmarc", "--db", str(bare_store), "--by", "source", "--json"))
    assert {r["source_ip"]: (r["messages"], r["passed"]) for r in bare} == expected
    rows = _json(cli("dmarc", "--db", str(store), "--by", "source", "--json"))
    labels = {r["source_ip"]: r["known_as"] for r in rows}
    assert labels["192.0.2.10"] == "relay" and labels["203.0.113.66"] is None
    table = cli("dmarc", "--db", str(store), "--by", "source")
    assert table.exit_code == 0 and "203.0.113.66" in table.output and "relay" in table.output


def test_complaints_list_masks_recipients_and_gives_match_methods(store: Path) -> None:
    rows = _json(cli("complaints", "--db", str(store), "--json"))
    assert len(rows) == 9  # 7 in the samples (the mbox's second message is quarantined) + 2 planted
    assert set(rows[0]) >= {"received_at", "feedback_type", "source", "provider", "user_agent", "recipient",
                            "account", "sender_domain", "match_method"}  # fmt: skip
    for r in rows:
        assert re.fullmatch(r"\*\*\*@[a-z0-9.-]+", str(r["recipient"])), r["recipient"]
    methods = [r["match_method"] for r in rows]
    assert methods.count("unmatched") == 1
    assert set(methods) <= {"message_id", "rcpt_time_ip", "rcpt_time", "unmatched"}
    assert {r["source"] for r in rows} == {"arf", "ses", "sendgrid", "mailgun", "postmark"} - {"mailgun"}
    times = [r["received_at"] for r in rows]
    assert times == sorted(times, reverse=True), "newest first"  # type: ignore[type-var]


def test_no_local_part_is_ever_printed(store: Path) -> None:
    arf_rcpts = re.findall(r"Original-Rcpt-To:\s*<?([^@\s>]+)@", "".join(
        p.read_text(errors="replace") for p in (SAMPLES / "arf").iterdir()))  # fmt: skip
    locals_ = {*arf_rcpts, UNMATCHED_RCPT.split("@")[0], "henry.demo", "kate.demo", "noah.demo"}
    assert len(locals_) >= 5
    for args in ((), ("--json",), ("--unmatched",)):
        res = cli("complaints", "--db", str(store), *args)
        assert res.exit_code == 0
        for local in locals_:
            assert local not in res.output, (args, local)


def test_unmatched_only(store: Path) -> None:
    rows = _json(cli("complaints", "--db", str(store), "--unmatched", "--json"))
    assert [(r["recipient"], r["match_method"], r["account"]) for r in rows] == [
        ("***@example.net", "unmatched", None)
    ]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # the three Yahoo/AOL ARF reports, the planted copy, and the unmatched one (Yahoo's own loop)
        ("provider=yahoo", {("arf", "message_id"): 3, ("arf", "rcpt_time_ip"): 1, ("arf", "unmatched"): 1}),
        ("account=acme", {("arf", "message_id"): 1, ("arf", "rcpt_time_ip"): 1}),
        (
            "account=globex",
            {("arf", "message_id"): 2, ("ses", "message_id"): 1},
        ),  # ARF sample + planted copy; the SES complaint (ESP sends carry the account of their verified domain)
        ("recipient_domain=example.net", {("arf", "unmatched"): 1}),
        ("sender_domain=initech.example", {("postmark", "message_id"): 1}),
    ],
)
def test_where_filters_on_the_matched_send(
    store: Path, where: str, expected: dict[tuple[str, str], int]
) -> None:
    rows = _json(cli("complaints", "--db", str(store), "--json", "--where", where))
    got: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (str(r["source"]), str(r["match_method"]))
        got[key] = got.get(key, 0) + 1
    assert got == expected


def test_window_and_limit(store: Path) -> None:
    rows = _json(cli("complaints", "--db", str(store), "--json", "--limit", "2"))
    assert len(rows) == 2
    late = _json(cli("complaints", "--db", str(store), "--json", "--since", "2026-11-22T08:00:00Z"))
    assert sorted(str(r["source"]) for r in late) == ["postmark", "ses"]  # reports written at 08:00 and 09:14
    assert _json(cli("dmarc", "--db", str(store), "--json", "--since", "2026-11-23")) == []


@pytest.mark.parametrize(
    "args",
    [
        ("dmarc", "--since", "2026-11-23", "--until", "2026-11-22"),
        ("complaints", "--since", "not-a-date"),
        ("complaints", "--limit", "0"),
        ("complaints", "--where", "bogus=1"),
        ("dmarc", "--by", "relay"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: tuple[str, ...], empty_store: Path) -> None:
    res = CliRunner().invoke(main, [*args, "--db", str(empty_store)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output


def test_empty_database(empty_store: Path) -> None:
    assert _json(cli("dmarc", "--db", str(empty_store), "--json")) == []
    assert _json(cli("dmarc", "--db", str(empty_store), "--unknown", "--json")) == []
    assert _json(cli("complaints", "--db", str(empty_store), "--json")) == []
    res = cli("complaints", "--db", str(empty_store))
    assert res.exit_code == 0 and "(no rows)" in res.output


def test_table_output_escapes_control_characters(store: Path, tmp_path: Path) -> None:
    db = tmp_path / "ua.duckdb"
    shutil.copy(store, db)
    from analysis.store import connect

    con = connect(db)
    con.execute("UPDATE complaints SET user_agent = 'evil\x1b[2J agent' WHERE source = 'ses'")
    con.close()
    res = cli("complaints", "--db", str(db))
    assert res.exit_code == 0
    assert "\x1b" not in res.output and "evil\\x1b[2J agent" in res.output
