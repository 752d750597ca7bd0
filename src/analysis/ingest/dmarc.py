"""DMARC aggregate reports (RFC 7489 appendix C, RFC 9990) from XML, gzip, zip or a mail attachment.

Reports come from any receiver on the internet, so the XML is parsed with defusedxml (DTDs, entities and
external references refused) after bounded decompression. Result words are lower-cased because some
reporters write `Pass`; a row whose source IP or count cannot be read is one bad record, while a file
without report metadata is not a report at all.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

import defusedxml
import defusedxml.ElementTree as DET

from analysis.errors import InputError
from analysis.ingest import safeio
from analysis.ingest.safeio import sniff_compression, unpack

_XML_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_UNCLOSED_SCHEMA = re.compile(rb"<xs:schema\b[^>]*>")
_ATTACHMENT_TYPES = frozenset(
    {
        "application/zip",
        "application/x-zip-compressed",
        "application/x-zip",
        "application/gzip",
        "application/x-gzip",
        "application/xml",
        "text/xml",
        "application/octet-stream",
    }
)


@dataclass
class AuthResult:
    """One <dkim> or <spf> entry of a row's auth_results."""

    method: str  # dkim | spf
    domain: str | None
    selector: str | None  # dkim only
    scope: str | None  # spf only: mfrom | helo
    result: str | None
    human_result: str | None


@dataclass
class DmarcRow:
    """One <record>: a source IP and the evaluation of `count` messages from it."""

    record_no: int
    source_ip: str
    count: int
    disposition: str | None
    dkim_aligned: str | None
    spf_aligned: str | None
    header_from: str | None
    envelope_from: str | None
    envelope_to: str | None
    override_types: list[str] = field(default_factory=list)
    override_comments: list[str] = field(default_factory=list)
    auth: list[AuthResult] = field(default_factory=list)


@dataclass
class BadRecord:
    """A <record> that could not be read: quarantined with its (capped) XML."""

    record_no: int
    reason: str
    raw: str


@dataclass
class DmarcReport:
    """One aggregate report: metadata, the policy the domain published, and its rows."""

    org_name: str
    email: str | None
    extra_contact_info: str | None
    report_id: str
    begin: dt.datetime | None
    end: dt.datetime | None
    version: str | None
    namespace: str | None
    generator: str | None
    errors: list[str]
    domain: str | None
    adkim: str | None
    aspf: str | None
    p: str | None
    sp: str | None
    np: str | None
    pct: int | None
    fo: str | None
    testing: str | None
    discovery_method: str | None
    rows: list[DmarcRow]
    bad: list[BadRecord]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag


def _child(el: ET.Element | None, name: str) -> ET.Element | None:
    if el is None:
        return None
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _children(el: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if el is None else [c for c in el if _local(c.tag) == name]


def _text(el: ET.Element | None, *path: str, lower: bool = False) -> str | None:
    node = el
    for name in path:
        node = _child(node, name)
    if node is None or node.text is None:
        return None
    value = " ".join(node.text.split())
    if not value:
        return None
    return value.lower() if lower else value


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value)) if re.fullmatch(r"-?\d+(?:\.0*)?", value) else None
    except ValueError:
        return None


def _epoch(value: str | None) -> dt.datetime | None:
    n = _int(value)
    if n is None or n < 0 or n > 32503680000:  # year 3000
        return None
    return dt.datetime.fromtimestamp(n, tz=dt.UTC)


def _decode_xml(data: bytes, what: str) -> bytes:
    """Refuse invalid UTF-8 with the byte offset instead of expat's 'not well-formed (invalid token)'."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data  # UTF-16 with a BOM: expat decodes it
    m = _XML_DECL_ENCODING.match(data)
    declared = m.group(1).decode("ascii").lower().replace("_", "-") if m else "utf-8"
    if declared in ("utf-8", "utf8"):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{what}: invalid UTF-8 at byte {exc.start} (0x{data[exc.start]:02x}); the report declares UTF-8"
            ) from None
    return data


def parse_xml(data: bytes, what: str = "report") -> DmarcReport:
    """One aggregate report from its XML bytes; InputError when the file is not a readable report."""
    if not data.strip():
        raise InputError(f"{what}: empty file, no DMARC report in it")
    data = _decode_xml(data, what)
    # One producer wraps the report in an <xs:schema ...> start tag it never closes.
    if b"</xs:schema>" not in data:
        data = _UNCLOSED_SCHEMA.sub(b"", data, count=1)
    try:
        root = DET.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise InputError(
            f"{what}: refused XML ({type(exc).__name__}: DTDs and entities are not allowed)"
        ) from None
    except ET.ParseError as exc:
        raise InputError(f"{what}: invalid XML ({exc})") from None
    root = cast(ET.Element, root)
    if _local(root.tag) != "feedback":
        inner = next((el for el in root.iter() if _local(el.tag) == "feedback"), None)
        root = inner if inner is not None else root
    if _local(root.tag) != "feedback":
        raise InputError(f"{what}: not a DMARC aggregate report (root element <{_local(root.tag)}>)")
    meta = _child(root, "report_metadata")
    report_id = _text(meta, "report_id")
    if meta is None or report_id is None:
        raise InputError(f"{what}: not a DMARC aggregate report (no report_metadata/report_id)")
    pol = _child(root, "policy_published")
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else None
    rows: list[DmarcRow] = []
    bad: list[BadRecord] = []
    for no, rec in enumerate(_children(root, "record"), start=1):
        try:
            rows.append(_row(no, rec))
        except ValueError as exc:
            bad.append(BadRecord(no, str(exc), _xml_text(rec)))
    return DmarcReport(
        org_name=_text(meta, "org_name") or "",
        email=_text(meta, "email"),
        extra_contact_info=_text(meta, "extra_contact_info"),
        report_id=report_id,
        begin=_epoch(_text(meta, "date_range", "begin")),
        end=_epoch(_text(meta, "date_range", "end")),
        version=_text(root, "version"),
        namespace=ns,
        generator=_text(meta, "generator"),
        errors=[e for e in (_text(x) for x in _children(meta, "error")) if e],
        domain=_text(pol, "domain", lower=True),
        adkim=_text(pol, "adkim", lower=True),
        aspf=_text(pol, "aspf", lower=True),
        p=_text(pol, "p", lower=True),
        sp=_text(pol, "sp", lower=True),
        np=_text(pol, "np", lower=True),
        pct=_int(_text(pol, "pct")),
        fo=_text(pol, "fo"),
        testing=_text(pol, "testing", lower=True),
        discovery_method=_text(pol, "discovery_method", lower=True),
        rows=rows,
        bad=bad,
    )


def _xml_text(el: ET.Element) -> str:
    """A record's XML for the quarantine, capped; serialising recurses, so absurd nesting is cut short."""
    try:
        return ET.tostring(el, encoding="unicode")[:4096]
    except RecursionError:
        return f"<{_local(el.tag)}> nested too deeply to show"


def _row(no: int, rec: ET.Element) -> DmarcRow:
    row = _child(rec, "row")
    ip_text = _text(row, "source_ip")
    if ip_text is None:
        raise ValueError("record without row/source_ip")
    try:
        ip = str(ipaddress.ip_address(ip_text))
    except ValueError:
        raise ValueError(f"record source_ip {ip_text[:60]!r} is not an IP address") from None
    count = _int(_text(row, "count"))
    if count is None or count < 0:
        raise ValueError(f"record count {(_text(row, 'count') or '')[:30]!r} is not a non-negative integer")
    pe = _child(row, "policy_evaluated")
    ids = _child(rec, "identifiers")
    reasons = _children(pe, "reason")
    auth: list[AuthResult] = []
    ar = _child(rec, "auth_results")
    for method in ("dkim", "spf"):
        for el in _children(ar, method):
            auth.append(
                AuthResult(
                    method=method,
                    domain=_text(el, "domain", lower=True),
                    selector=_text(el, "selector") if method == "dkim" else None,
                    scope=_text(el, "scope", lower=True) if method == "spf" else None,
                    result=_text(el, "result", lower=True),
                    human_result=_text(el, "human_result"),
                )
            )
    return DmarcRow(
        record_no=no,
        source_ip=ip,
        count=count,
        disposition=_text(pe, "disposition", lower=True),
        dkim_aligned=_text(pe, "dkim", lower=True),
        spf_aligned=_text(pe, "spf", lower=True),
        header_from=_text(ids, "header_from", lower=True),
        envelope_from=_text(ids, "envelope_from", lower=True),
        envelope_to=_text(ids, "envelope_to", lower=True),
        override_types=[t for t in (_text(r, "type", lower=True) for r in reasons) if t],
        override_comments=[c for c in (_text(r, "comment") for r in reasons) if c],
        auth=auth,
    )


def _looks_xml(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def _attachments(data: bytes, what: str) -> Iterator[tuple[str, bytes]]:
    """Decoded attachments of a report mail that can hold a report (zip, gzip, xml)."""
    try:
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        parts = list(msg.walk())
    except RecursionError:  # the parser recurses once per nested multipart
        raise InputError(f"{what}: wrong MIME structure: multiparts nested too deeply") from None
    if not msg.keys():
        raise InputError(f"{what}: neither XML, an archive nor a mail message")
    for part in parts:
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        fname = part.get_filename() or part.get_param("name") or ""
        fname = fname if isinstance(fname, str) else ""
        if ctype not in _ATTACHMENT_TYPES and not re.search(r"\.(xml|gz|zip)$", fname, re.I):
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and payload.strip():
            yield fname or ctype, payload


def read_reports(data: bytes, name: str, *, limit: int | None = None) -> list[DmarcReport]:
    """Every aggregate report in one file: plain XML, an archive of XML files, or a mail with attachments."""
    what = name.replace("\\", "/").rsplit("/", 1)[-1] or "input"
    if not data.strip():
        raise InputError(f"{what}: empty file, no DMARC report in it")
    if sniff_compression(data) is not None:
        return [parse_xml(m.data, f"{what}:{m.name}") for m in unpack(data, name, limit=limit)]
    if _looks_xml(data):
        return [parse_xml(data, what)]
    reports: list[DmarcReport] = []
    # one cap for the whole mail, however many attachments it carries
    cap = safeio.DEFAULT_LIMIT if limit is None else limit
    budget = cap
    for fname, payload in _attachments(data, what):
        if sniff_compression(payload) is not None:
            try:
                members = unpack(payload, fname, limit=budget)
            except safeio.TooBig:
                if budget == cap:
                    raise
                raise safeio.TooBig(
                    f"{what}: attachments decompress to more than the {cap:,}-byte cap together "
                    "(possible decompression bomb)"
                ) from None
            budget -= sum(len(m.data) for m in members)
            reports.extend(parse_xml(m.data, f"{what}:{m.name}") for m in members)
        elif _looks_xml(payload):
            reports.append(parse_xml(payload, f"{what}:{fname}"))
    if not reports:
        raise InputError(
            f"{what}: no DMARC aggregate report (XML, .gz or .zip attachment) found in the message"
        )
    return reports
