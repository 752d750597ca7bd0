"""DMARC aggregate reports: the public parsedmarc samples field by field, reports built here in every
container (.xml, .xml.gz, .zip, .eml), duplicates stored once, bad rows quarantined, and the metrics."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re
import zipfile
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot

from analysis import metrics_dmarc
from analysis.errors import InputError
from analysis.ingest import dmarc
from analysis.ingest.detect import detect_format
from analysis.ingest.evidence import LoadResult, load_evidence_file
from analysis.store import connect

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
AGG = CORPORA / "dmarc" / "aggregate"
needs_corpus = pytest.mark.skipif(not AGG.is_dir(), reason=f"public DMARC samples not found at {AGG}")
UTC = dt.UTC


def T(*a: int) -> dt.datetime:
    return dt.datetime(*a, tzinfo=UTC)


# file -> (report fields, first row fields, rows, messages)
SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any], int, int]] = {
    "rfc9990-sample.xml": (
        dict(
            org_name="Sample Reporter",
            report_id="3v98abbp8ya9n3va8yr8oa3ya",
            begin=T(1979, 8, 7),
            namespace="urn:ietf:params:xml:ns:dmarc-2.0",
            generator="Example DMARC Aggregate Reporter v1.2",
            domain="example.com",
            p="quarantine",
            sp="none",
            np="none",
            testing="n",
            discovery_method="treewalk",
        ),
        dict(
            source_ip="192.0.2.123",
            count=123,
            disposition="pass",
            dkim_aligned="pass",
            spf_aligned="fail",
            header_from="example.com",
            envelope_from="example.com",
        ),
        1,
        123,
    ),
    "rfc9990-example.net!example.com!1700000000!1700086399.xml": (
        dict(
            org_name="example.net",
            version="2.0",
            adkim="s",
            aspf="s",
            p="reject",
            np="reject",
            testing="y",
            fo="1",
            begin=T(2023, 11, 14, 22, 13, 20),
            end=T(2023, 11, 15, 22, 13, 19),
        ),
        dict(source_ip="198.51.100.1", count=5, dkim_aligned="pass", spf_aligned="pass"),
        2,
        7,
    ),
    "empty_reason.xml": (
        dict(
            org_name="example.org",
            extra_contact_info="https://support.example.org/dmarc",
            p="quarantine",
            pct=100,
            fo="1",
        ),
        dict(
            source_ip="198.51.100.123",
            count=2,
            envelope_to="example.net",
            envelope_from="example.edu",
            override_types=[],
            override_comments=[],
        ),
        1,
        2,
    ),
    "old_draft_from_wiki.xml": (
        dict(org_name="acme.com", report_id="9391651994964116463", p="none"),
        dict(source_ip="72.150.241.94", count=2, dkim_aligned="fail", spf_aligned="pass"),
        1,
        2,
    ),
    "fastmail.com!example.com!1516060800!1516147199!102675056.xml.gz": (
        dict(org_name="FastMail Pty Ltd", report_id="102675056", domain="indemed.com"),
        {},
        1,
        1,
    ),
    "estadocuenta1.infonacot.gob.mx!example.com!1536853302!1536939702!2940.xml.zip": (
        dict(org_name="XYZ Corporation", report_id="2940"),
        {},
        1,
        1,
    ),
    "Report domain- borschow.com Submitter- google.com Report-ID- 949348866075514174.eml": (
        dict(org_name="google.com", report_id="949348866075514174", domain="borschow.com", p="reject"),
        {},
        1,
        1,
    ),
    "mimecast-weird-gzip.eml": (dict(domain="ab.id.au"), {}, 1, 1),  # base64 gzip with a trailing CRLF
    "twilight.eml": (dict(org_name="google.com", domain="twlnet.com"), {}, 1, 1),
    "ikea.com!example.de!1538690400!1538776800.xml": (  # wrapped in an <xs:schema> start tag never closed
        dict(org_name="ikea.com", domain="example.de"),
        dict(source_ip="234.234.234.234"),
        1,
        1,
    ),
    "!large-example.com!1711897200!1711983600.xml": (dict(org_name=""), {}, 2286, 2286),
    "usssa.com!example.com!1538784000!1538870399.xml": (dict(org_name="usssa.com"), {}, 2, 2),
}


@needs_corpus
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_public_samples(name: str) -> None:
    want_report, want_row, n_rows, n_msgs = SAMPLES[name]
    data = (AGG / name).read_bytes()
    assert detect_format(data[:65536], name) == "dmarc"
    (rep,) = dmarc.read_reports(data, name)
    assert {k: getattr(rep, k) for k in want_report} == want_report
    assert {k: getattr(rep.rows[0], k) for k in want_row} == want_row
    assert (len(rep.rows), sum(r.count for r in rep.rows), rep.bad) == (n_rows, n_msgs, [])


@needs_corpus
def test_upper_cased_results_are_normalised() -> None:
    path = CORPORA / "dmarc" / "aggregate_invalid" / "report_with_upper_cased_pass.xml"
    (rep,) = dmarc.read_reports(path.read_bytes(), path.name)
    row = rep.rows[0]
    assert (row.disposition, row.dkim_aligned, row.spf_aligned) == ("none", "pass", "pass")
    assert [(a.method, a.result) for a in row.auth] == [("dkim", "pass"), ("spf", "pass")]


@needs_corpus
@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("aggregate/invalid_xml.xml", r"invalid XML \(not well-formed \(invalid token\): line 5"),
        ("aggregate/invalid_utf_8.xml", r"invalid UTF-8 at byte 706 \(0x91\)"),
        ("empty.xml", "empty file"),
        ("smtp_tls/google.com_smtp_tls_report.eml", "invalid XML"),  # a TLS-RPT JSON is no DMARC report
    ],
)
def test_public_invalid_files_are_refused(path: str, message: str) -> None:
    p = CORPORA / "dmarc" / path
    with pytest.raises(InputError, match=message):
        dmarc.read_reports(p.read_bytes(), p.name)


def report_xml(
    *,
    org: str = "google.com",
    report_id: str = "r-1",
    rows: list[tuple[str, int, str, str, str]] | None = None,
    ns: bool = False,
    domain: str = "news.acme.example",
) -> bytes:
    """An aggregate report; rows are (source_ip, count, dkim, spf, header_from)."""
    rows = rows if rows is not None else [("192.0.2.10", 10, "pass", "pass", domain)]
    recs = "".join(
        f"<record><row><source_ip>{ip}</source_ip><count>{n}</count><policy_evaluated>"
        f"<disposition>none</disposition><dkim>{dk}</dkim><spf>{sp}</spf>"
        f"<reason><type>forwarded</type><comment>list</comment></reason></policy_evaluated></row>"
        f"<identifiers><header_from>{hf}</header_from><envelope_from>bounce.{hf}</envelope_from></identifiers>"
        f"<auth_results><dkim><domain>{hf}</domain><selector>s1</selector><result>{dk}</result></dkim>"
        f"<dkim><domain>relay.example</domain><selector>r2</selector><result>pass</result></dkim>"
        f"<spf><domain>bounce.{hf}</domain><scope>mfrom</scope><result>{sp}</result></spf></auth_results></record>"
        for ip, n, dk, sp, hf in rows
    )
    xmlns = ' xmlns="urn:ietf:params:xml:ns:dmarc-2.0"' if ns else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><feedback{xmlns}><report_metadata><org_name>{org}</org_name>'
        f"<email>noreply@{org}</email><report_id>{report_id}</report_id><date_range><begin>1795305600</begin>"
        f"<end>1795391999</end></date_range></report_metadata><policy_published><domain>{domain}</domain>"
        f"<adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>{recs}</feedback>"
    ).encode()


def as_eml(payload: bytes, filename: str, ctype: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "noreply-dmarc-support@google.com"
    msg["To"] = "dmarc@news.acme.example"
    msg["Subject"] = "Report domain: news.acme.example Submitter: google.com Report-ID: r-1"
    msg.set_content("DMARC aggregate report attached.")
    maintype, subtype = ctype.split("/")
    msg.add_attachment(payload, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def zipped(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


XML = report_xml()
CONTAINERS = [
    ("google.com!news.acme.example!1795305600!1795391999.xml", XML),
    ("google.com!news.acme.example!1795305600!1795391999.xml.gz", gzip.compress(XML)),
    ("google.com!news.acme.example!1795305600!1795391999.zip", zipped("report.xml", XML)),
    (
        "report.eml",
        as_eml(
            zipped("r.xml", XML), "google.com!news.acme.example!1795305600!1795391999.zip", "application/zip"
        ),
    ),
    ("report2.eml", as_eml(gzip.compress(XML), "r.xml.gz", "application/gzip")),
    ("report3.eml", as_eml(XML, "r.xml", "text/xml")),
]


@pytest.mark.parametrize(("name", "data"), CONTAINERS, ids=[c[0] for c in CONTAINERS])
def test_containers(name: str, data: bytes) -> None:
    assert detect_format(data[:4096], name) == "dmarc"
    (rep,) = dmarc.read_reports(data, name)
    row = rep.rows[0]
    assert (rep.org_name, rep.report_id, rep.begin, rep.end) == (
        "google.com",
        "r-1",
        T(2026, 11, 22),
        T(2026, 11, 22, 23, 59, 59),
    )
    assert (row.source_ip, row.count, row.header_from, row.envelope_from) == (
        "192.0.2.10",
        10,
        "news.acme.example",
        "bounce.news.acme.example",
    )
    assert (row.override_types, row.override_comments) == (["forwarded"], ["list"])
    assert [(a.method, a.domain, a.selector, a.scope, a.result) for a in row.auth] == [
        ("dkim", "news.acme.example", "s1", None, "pass"),
        ("dkim", "relay.example", "r2", None, "pass"),
        ("spf", "bounce.news.acme.example", None, "mfrom", "pass"),
    ]


def test_namespaced_report() -> None:
    (rep,) = dmarc.read_reports(report_xml(ns=True), "r.xml")
    assert rep.namespace == "urn:ietf:params:xml:ns:dmarc-2.0" and rep.rows[0].count == 10


def test_bad_rows_are_records_not_files() -> None:
    data = report_xml(
        rows=[("192.0.2.10", 3, "pass", "fail", "a.example"), ("999.1.1.1", 1, "fail", "fail", "a.example")]
    )
    data = data.replace(b"<count>3</count>", b"<count>three</count>", 1)
    (rep,) = dmarc.read_reports(data, "r.xml")
    assert rep.rows == []
    assert [(b.record_no, b.reason) for b in rep.bad] == [
        (1, "record count 'three' is not a non-negative integer"),
        (2, "record source_ip '999.1.1.1' is not an IP address"),
    ]
    assert rep.bad[0].raw.startswith("<record>")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<other/>", r"not a DMARC aggregate report \(root element <other>\)"),
        (
            b"<feedback><report_metadata><org_name>x</org_name></report_metadata></feedback>",
            "no report_metadata/report_id",
        ),
        (b"From: a@b.example\nSubject: hi\n\nno attachment\n", "no DMARC aggregate report"),
    ],
)
def test_not_reports(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        dmarc.read_reports(data, "x")


# --- store + metrics ------------------------------------------------------------------------------


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    c = connect(tmp_path / "x.duckdb")
    yield c
    c.close()


def ingest(con: duckdb.DuckDBPyConnection, file_id: int, data: bytes, name: str = "r.xml") -> LoadResult:
    return load_evidence_file(con, file_id, data, "dmarc", name=name)


def test_store_and_duplicates(con: duckdb.DuckDBPyConnection) -> None:
    first = ingest(con, 1, CONTAINERS[0][1])
    assert first.tables["dmarc_reports"] == 1 and first.tables["dmarc_records"] == 1
    assert first.tables["dmarc_auth_results"] == 3
    assert (first.first_ts, first.last_ts) == (T(2026, 11, 22), T(2026, 11, 22, 23, 59, 59))
    # the same report again, zipped and mailed to a second rua address: stored once
    again = ingest(con, 2, CONTAINERS[3][1], "report.eml")
    assert again.tables["dmarc_reports"] == 0 and again.tables["dmarc_duplicate_reports"] == 1
    assert (again.records_read, again.records_parsed) == (1, 1)
    row = con.execute(
        "SELECT org_name, report_id, domain, p, record_count, message_count, file_id FROM dmarc_reports"
    ).fetchall()
    assert row == [("google.com", "r-1", "news.acme.example", "none", 1, 10, 1)]
    rec = con.execute(
        "SELECT source_ip, message_count, dmarc_pass, dkim_domains, dkim_selectors, dkim_results, spf_domains, "
        "spf_scopes, spf_results, override_reasons, override_comments FROM dmarc_records"
    ).fetchone()
    assert rec == (
        "192.0.2.10",
        10,
        True,
        "news.acme.example relay.example",
        "s1 r2",
        "pass pass",
        "bounce.news.acme.example",
        "mfrom",
        "pass",
        "forwarded",
        "list",
    )


def test_store_quarantine_numbers_records_across_reports(con: duckdb.DuckDBPyConnection) -> None:
    bad = report_xml(
        report_id="r-2",
        rows=[("192.0.2.10", 1, "pass", "pass", "a.example"), ("nope", 1, "fail", "fail", "a.example")],
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("one.xml", report_xml(report_id="r-1"))
        zf.writestr("two.xml", bad)
    res = ingest(con, 3, buf.getvalue(), "two.zip")
    assert (res.records_read, res.records_parsed, res.records_quarantined) == (3, 2, 1)
    assert con.execute("SELECT file_id, line_no FROM quarantine").fetchall() == [(3, 3)]


def test_refused_file_stores_nothing(con: duckdb.DuckDBPyConnection) -> None:
    good_then_bad = zipped("a.xml", report_xml())[:-40]  # truncated archive
    with pytest.raises(InputError):
        ingest(con, 1, good_then_bad, "a.zip")
    assert con.execute("SELECT COUNT(*) FROM dmarc_reports").fetchone() == (0,)


@needs_corpus
def test_public_samples_into_store(con: duckdb.DuckDBPyConnection) -> None:
    stored = refused = 0
    for i, p in enumerate(sorted(AGG.iterdir()), start=1):
        try:
            ingest(con, i, p.read_bytes(), p.name)
            stored += 1
        except InputError:
            refused += 1
    assert (stored, refused) == (17, 2)
    assert con.execute("SELECT COUNT(*), SUM(record_count) FROM dmarc_reports").fetchone() == (17, 2304)


def test_metrics(con: duckdb.DuckDBPyConnection) -> None:
    ingest(
        con,
        1,
        report_xml(
            report_id="a",
            rows=[
                ("192.0.2.10", 90, "pass", "pass", "news.acme.example"),  # our relay
                ("198.51.100.7", 5, "fail", "fail", "news.acme.example"),  # unknown, failing: spoofing?
                ("203.0.113.5", 5, "pass", "fail", "news.acme.example"),  # ESP sending IP
            ],
        ),
    )
    ingest(
        con,
        2,
        report_xml(
            org="yahoo.com",
            report_id="b",
            rows=[
                ("192.0.2.10", 20, "fail", "pass", "globex.example"),
                ("198.51.100.7", 30, "fail", "fail", "globex.example"),
                ("198.51.100.8", 1, "pass", "pass", "globex.example"),
            ],
            domain="globex.example",
        ),
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS inventory_relay_ips (ip VARCHAR PRIMARY KEY, ip_version INTEGER NOT NULL)"
    )
    con.execute("INSERT INTO inventory_relay_ips (ip, ip_version) VALUES ('192.0.2.10', 4)")
    con.execute(
        "INSERT INTO esp_events (file_id, event_no, record_no, source, event_type, kind, event_time, ip, raw_json, "
        "event_key) VALUES (9, 1, 1, 'sendgrid', 'delivered', 'delivery', now(), '203.0.113.5', '{}', 'k')"
    )
    by_domain = metrics_dmarc.pass_rate_by_domain(con)
    assert by_domain.select("header_from", "messages", "passed", "failed", "pass_rate").rows() == [
        ("news.acme.example", 100, 95, 5, 0.95),
        ("globex.example", 51, 21, 30, 21 / 51),
    ]
    assert by_domain.select("quarantined", "rejected").sum().row(0) == (
        0,
        0,
    )  # every row says disposition none
    low, high = by_domain.row(1, named=True)["pass_rate_low"], by_domain.row(1, named=True)["pass_rate_high"]
    assert 0.28 < low < 21 / 51 < high < 0.56  # Wilson 95 % for 21 of 51
    by_source = metrics_dmarc.pass_rate_by_source(con)
    assert by_source.select("source_ip", "known", "known_as", "messages", "failed", "domains").rows() == [
        ("192.0.2.10", True, "relay", 110, 0, 2),
        ("198.51.100.7", False, None, 35, 35, 2),
        ("203.0.113.5", True, "esp:sendgrid", 5, 0, 1),
        ("198.51.100.8", False, None, 1, 0, 1),
    ]
    unknown = metrics_dmarc.unknown_sources(con)
    assert unknown.select("source_ip", "messages", "failed", "reporters").rows() == [
        ("198.51.100.7", 35, 35, 2),
        ("198.51.100.8", 1, 0, 1),
    ]
    selectors = metrics_dmarc.dkim_by_selector(con)
    assert selectors.select("domain", "selector", "messages", "passed", "failed").rows() == [
        ("relay.example", "r2", 151, 151, 0),  # report_xml adds a passing relay signature to every row
        ("news.acme.example", "s1", 100, 95, 5),
        ("globex.example", "s1", 51, 1, 50),
    ]
    # a sender the caller vouches for is not unknown; the window filters by report period
    assert metrics_dmarc.unknown_sources(con, known=["198.51.100.8"])["source_ip"].to_list() == [
        "198.51.100.7"
    ]
    assert metrics_dmarc.pass_rate_by_domain(con, since=T(2026, 11, 23)).height == 0
    with pytest.raises(InputError, match="not an IP address"):
        metrics_dmarc.unknown_sources(con, known=["bogus"])


def test_metrics_without_inventory(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DROP TABLE IF EXISTS inventory_relay_ips")
    ingest(con, 1, report_xml())
    assert metrics_dmarc.unknown_sources(con)["source_ip"].to_list() == ["192.0.2.10"]


SQL_DIR = Path(__file__).resolve().parents[1] / "src" / "analysis" / "ingest" / "sql"


@pytest.mark.parametrize("path", sorted(SQL_DIR.glob("*.sql")), ids=lambda p: p.name)
def test_evidence_sql_is_portable(path: Path) -> None:
    """The evidence SQL keeps to the portable subset and transpiles to Spark SQL."""
    text = path.read_text()
    for pattern in (r"\bGROUP\s+BY\s+ALL\b", r"::", r"\bQUALIFY\b", r"\bHUGEINT\b", r"\bON\s+CONFLICT\b"):
        assert not re.search(pattern, text, re.I), pattern
    out = sqlglot.transpile(text, read="duckdb", write="spark")
    assert out and all(s.strip() for s in out)
    if path.name.startswith("dmarc_"):
        assert re.search(r"CAST\(SUM\(", text) and "SUM(" not in text.replace("CAST(SUM(", "")
