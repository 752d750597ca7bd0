"""Hostile evidence files, built here: XML entity tricks, decompression bombs, nested and truncated
archives, invalid UTF-8 and broken MIME each end in one clear line, and nothing partial is stored."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import zstandard

from analysis.errors import InputError
from analysis.ingest import dmarc, safeio
from analysis.ingest.evidence import load_evidence_file
from analysis.store import connect

REPORT = (
    b'<?xml version="1.0" encoding="UTF-8"?><feedback><report_metadata><org_name>x.example</org_name>'
    b"<report_id>h-1</report_id><date_range><begin>1795305600</begin><end>1795391999</end></date_range>"
    b"</report_metadata><policy_published><domain>news.acme.example</domain><p>none</p></policy_published>"
    b"<record><row><source_ip>192.0.2.10</source_ip><count>1</count><policy_evaluated><disposition>none"
    b"</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row><identifiers><header_from>"
    b"news.acme.example</header_from></identifiers></record></feedback>"
)

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<feedback><report_metadata><org_name>&lol3;</org_name><report_id>b</report_id></report_metadata></feedback>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<feedback><report_metadata><org_name>&xxe;</org_name><report_id>x</report_id></report_metadata></feedback>"
)
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>'
    b"<feedback/>"
)


def zip_of(*members: tuple[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect(tmp_path / "x.duckdb")
    yield c
    c.close()


def refused(con: duckdb.DuckDBPyConnection, data: bytes, fmt: str, name: str) -> str:
    """Load in a transaction as the caller does; return the one-line message; check nothing was kept."""
    with pytest.raises(InputError) as info:
        load_evidence_file(con, 1, data, fmt, name=name)
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg
    for table in (
        "dmarc_reports",
        "dmarc_records",
        "complaints",
        "esp_events",
        "deliveries",
        "messages",
        "quarantine",
    ):
        assert con.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,), table
    return msg


XML_CASES = [
    ("billion-laughs.xml", BILLION_LAUGHS, "refused XML (DTDForbidden"),
    ("xxe.xml", XXE, "refused XML (DTDForbidden"),
    ("parameter-entity.xml", PARAMETER_ENTITY, "refused XML (DTDForbidden"),
    ("bad-utf8.xml", REPORT.replace(b"x.example", b"x\xc3\x28.example"), "invalid UTF-8 at byte"),
    ("truncated.xml", REPORT[:-30], "invalid XML (unclosed token"),
    ("latin1-lies.xml", REPORT.replace(b"x.example", b"caf\xe9.example"), "invalid UTF-8"),
]


@pytest.mark.parametrize(("name", "data", "message"), XML_CASES, ids=[c[0] for c in XML_CASES])
def test_hostile_xml(con: duckdb.DuckDBPyConnection, name: str, data: bytes, message: str) -> None:
    assert message in refused(con, data, "dmarc", name)


def test_declared_latin1_is_decoded_not_refused(con: duckdb.DuckDBPyConnection) -> None:
    data = REPORT.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"').replace(
        b"x.example", b"caf\xe9.example"
    )
    load_evidence_file(con, 1, data, "dmarc", name="latin1.xml")
    assert con.execute("SELECT org_name FROM dmarc_reports").fetchone() == ("café.example",)


def test_gzip_bomb(con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safeio, "DEFAULT_LIMIT", 2_000_000)
    bomb = gzip.compress(b"<feedback>" + b" " * 20_000_000, 9)
    assert len(bomb) < 40_000
    assert "exceeds the 2,000,000-byte cap" in refused(con, bomb, "dmarc", "bomb.xml.gz")


def test_zip_bomb_declared_and_actual(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safeio, "DEFAULT_LIMIT", 2_000_000)
    honest = zip_of(("a.xml", b" " * 5_000_000))
    assert "exceeds the 2,000,000-byte cap" in refused(con, honest, "dmarc", "bomb.zip")
    # a lying central directory (declares 100 bytes) is caught while streaming, not trusted
    liar = bytearray(honest)
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = liar.find(sig)
        liar[pos + off : pos + off + 4] = (100).to_bytes(4, "little")
    msg = refused(con, bytes(liar), "dmarc", "liar.zip")
    assert "exceeds" in msg or "corrupt zip" in msg


def test_ratio_guard_below_the_cap() -> None:
    with pytest.raises(InputError, match="compression ratio above 1000:1"):
        safeio.unpack(bz2.compress(b"\x00" * 50_000_000), "zeros.bz2", limit=100_000_000)


NESTED = [
    ("zip-in-zip.zip", zip_of(("inner.zip", zip_of(("r.xml", REPORT)))), "nested archive (zip inside zip)"),
    ("gz-in-zip.zip", zip_of(("r.xml.gz", gzip.compress(REPORT))), "nested archive (gzip inside zip)"),
    ("zip-in-gz.gz", gzip.compress(zip_of(("r.xml", REPORT))), "nested archive (zip inside gzip)"),
    ("gz-in-gz.xml.gz", gzip.compress(gzip.compress(REPORT)), "nested archive (gzip inside gzip)"),
    (
        "good-then-nested.zip",
        zip_of(("a.xml", REPORT), ("b.zip", zip_of(("r.xml", REPORT)))),
        "nested archive",
    ),
]


@pytest.mark.parametrize(("name", "data", "message"), NESTED, ids=[c[0] for c in NESTED])
def test_nested_archives(con: duckdb.DuckDBPyConnection, name: str, data: bytes, message: str) -> None:
    assert message in refused(con, data, "dmarc", name)


TRUNCATED = [
    ("r.xml.gz", gzip.compress(REPORT)[:-12], "truncated gzip data"),
    ("r.zip", zip_of(("r.xml", REPORT))[:-30], "truncated or corrupt zip"),
    ("r.xml.bz2", bz2.compress(REPORT)[:-10], "truncated bzip2 data"),
    ("r.xml.xz", lzma.compress(REPORT)[:-10], "truncated xz data"),
    ("r.xml.zst", zstd(REPORT)[:-5], "truncated zstd data"),
    ("r.xml.gz", gzip.compress(REPORT)[:20], "truncated gzip data"),
    ("r.xml.gz", gzip.compress(REPORT) + b"GARBAGE", "trailing garbage after gzip data"),
    ("r.xml.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 60, "corrupt gzip data"),
]


@pytest.mark.parametrize(("name", "data", "message"), TRUNCATED, ids=[f"{c[0]}-{c[2]}" for c in TRUNCATED])
def test_truncated_archives(con: duckdb.DuckDBPyConnection, name: str, data: bytes, message: str) -> None:
    assert message in refused(con, data, "dmarc", name)


@pytest.mark.parametrize(
    "compress", [gzip.compress, bz2.compress, lzma.compress, zstd], ids=["gz", "bz2", "xz", "zst"]
)
def test_every_codec_round_trips_and_multi_member(compress: object) -> None:
    fn = compress  # type: ignore[assignment]
    data = fn(b"part one;") + fn(b"part two")  # type: ignore[operator]
    assert safeio.unpack_one(data, "x") == b"part one;part two"


def test_encrypted_and_crowded_zips() -> None:
    enc = bytearray(zip_of(("r.xml", REPORT), compression=zipfile.ZIP_STORED))
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the "encrypted" flag bit
        pos = enc.find(sig)
        enc[pos + off] |= 0x01
    with pytest.raises(InputError, match="is encrypted"):
        safeio.unpack(bytes(enc), "enc.zip")
    crowded = zip_of(*[(f"{i}.xml", b"<a/>") for i in range(safeio.MAX_ZIP_MEMBERS + 1)])
    with pytest.raises(InputError, match="members"):
        safeio.unpack(crowded, "crowded.zip")


def test_esp_invalid_utf8_and_bomb(con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "invalid UTF-8 at byte 12" in refused(con, b'[{"event": "\xff"}]', "sendgrid", "sg.json")
    # in JSON lines only the line that carries it is lost (quarantined with its bytes escaped)
    good = b'{"event": "delivered", "timestamp": 1513299569, "email": "a@example.com", "sg_message_id": "m1"}'
    res = load_evidence_file(
        con, 1, good + b'\n{"event": "\xff"}\n' + good.replace(b"m1", b"m2"), "sendgrid", name="sg.jsonl"
    )
    assert (res.records_read, res.records_parsed, res.records_quarantined) == (3, 2, 1)
    assert con.execute("SELECT line_no, reason, raw FROM quarantine").fetchall() == [
        (2, "invalid UTF-8 at byte 11 of the line", '{"event": "\\xff"}')
    ]
    con.execute("DELETE FROM quarantine")
    con.execute("DELETE FROM esp_events")
    con.execute("DELETE FROM deliveries")
    con.execute("DELETE FROM messages")
    monkeypatch.setattr(safeio, "DEFAULT_LIMIT", 1_000_000)
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")
    assert "exceeds" in refused(con, bomb, "sendgrid", "sg.json.gz")


MIME = [
    (
        "no-boundary.eml",
        b"From: fbl@yahoo.com\nContent-Type: multipart/report; report-type=feedback-report\n\nbody\n",
        "wrong MIME structure: NoBoundaryInMultipartDefect",
    ),
    (
        "boundary-never-starts.eml",
        b'From: fbl@yahoo.com\nContent-Type: multipart/report; report-type=feedback-report; boundary="b1"\n\n'
        b"--other\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n",
        "wrong MIME structure: StartBoundaryNotFoundDefect",
    ),
    (
        "report-without-feedback-part.eml",
        b'From: fbl@yahoo.com\nContent-Type: multipart/report; report-type=feedback-report; boundary="b1"\n\n'
        b"--b1\nContent-Type: text/plain\n\nhello\n--b1--\n",
        "lacks a message/feedback-report part",
    ),
]


@pytest.mark.parametrize(("name", "data", "message"), MIME, ids=[c[0] for c in MIME])
def test_wrong_mime_structure(con: duckdb.DuckDBPyConnection, name: str, data: bytes, message: str) -> None:
    msg = refused(con, data, "arf", name)
    assert msg.startswith(name) and message in msg


def test_invalid_utf8_in_mail_is_kept_escaped(con: duckdb.DuckDBPyConnection) -> None:
    """Mail headers with raw 8-bit garbage are not fatal; the quarantined raw text shows \\xNN escapes."""
    mbox = b"From x Sun Nov 22 05:10:00 2026\nFrom: \xff\xfe@yahoo.com\nSubject: \xc3\x28\n\nnot a report\n"
    res = load_evidence_file(con, 1, mbox, "arf", name="fbl.mbox")
    assert (res.records_read, res.records_quarantined) == (1, 1)
    (raw,) = con.execute("SELECT raw FROM quarantine").fetchone() or ("",)
    assert "\\xff\\xfe@yahoo.com" in raw


def test_dmarc_mail_with_broken_attachment(con: duckdb.DuckDBPyConnection) -> None:
    eml = (
        b'From: noreply@google.com\nContent-Type: multipart/mixed; boundary="b"\n\n--b\n'
        b'Content-Type: application/zip; name="r.zip"\nContent-Transfer-Encoding: base64\n\nUEsDBAoAAAAAAP\n--b--\n'
    )
    assert "truncated or corrupt zip" in refused(con, eml, "dmarc", "r.eml")


def test_deep_nesting_is_refused_cleanly(con: duckdb.DuckDBPyConnection) -> None:
    """Parsers that recurse (json, the email package) meet input nested deeper than the stack."""
    deep_json = b"[" * 100_000 + b"]" * 100_000
    res = load_evidence_file(
        con, 1, deep_json + b"\n" + b'{"RecordType": "Open"}', "postmark", name="deep.jsonl"
    )
    assert (res.records_read, res.records_quarantined) == (2, 2)
    reasons = [r for (r,) in con.execute("SELECT reason FROM quarantine ORDER BY line_no").fetchall()]
    assert reasons[0] == "JSON nested too deeply"
    con.execute("DELETE FROM quarantine")
    nested = b'Content-Type: multipart/report; report-type=feedback-report; boundary="b0"\n\n' + b"".join(
        b'--b%d\nContent-Type: multipart/mixed; boundary="b%d"\n\n' % (i, i + 1) for i in range(3000)
    )
    assert "nested too deeply" in refused(con, nested, "arf", "deep.eml")
    assert "nested too deeply" in refused(
        con, nested.replace(b"report; report-type=feedback-report", b"mixed"), "dmarc", "deep.eml"
    )
    deep_xml = REPORT.replace(b"</feedback>", b"<x>" * 50_000 + b"</x>" * 50_000 + b"</feedback>")
    (rep,) = dmarc.read_reports(deep_xml, "deep.xml")  # expat and ElementTree build it without recursing
    assert rep.rows[0].count == 1


def test_one_cap_for_all_attachments_of_a_mail(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten attachments of 300 KB each stay under a 1 MB cap one by one, not together."""
    from email.message import EmailMessage

    monkeypatch.setattr(safeio, "DEFAULT_LIMIT", 1_000_000)
    msg = EmailMessage()
    msg["From"] = "noreply@example.org"
    msg["Subject"] = "Report domain: news.acme.example"
    msg.set_content("reports")
    big = REPORT.replace(b"</feedback>", b" " * 300_000 + b"</feedback>")
    for i in range(10):
        msg.add_attachment(
            gzip.compress(big), maintype="application", subtype="gzip", filename=f"r{i}.xml.gz"
        )
    assert "many.eml: attachments decompress to more than the 1,000,000-byte cap together" in refused(
        con, msg.as_bytes(), "dmarc", "many.eml"
    )
