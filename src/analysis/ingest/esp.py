"""ESP event exports (Amazon SES, SendGrid, Mailgun, Postmark) mapped onto one canonical event.

Each ESP names the same facts differently; this module turns one exported record into canonical events
(one per recipient) whose `status`, `severity` and `reason` use the relay's vocabulary, so that rates
computed over `deliveries` treat ESP and Postfix mail alike. Mapping choices follow each ESP's own
documentation of its bounce types; where an ESP says nothing explicit, reason stays NULL for the
classifier to decide from the diagnostic text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from analysis.errors import InputError

SOURCES = ("ses", "sendgrid", "mailgun", "postmark")
RAW_CAP = 4096
_DSN = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_CODE = re.compile(r"^\s*(?:smtp;\s*)?([245]\d\d)(?:[\s-]|$)", re.I)


@dataclass
class EspEvent:
    """One canonical event about one recipient of one ESP message.

    kind: send | delivery | bounce | deferral | complaint | dropped | open | click | unsubscribe | other.
    status (deliveries.status) is set only for delivery attempts and refusals: sent | bounced | deferred |
    dropped.
    """

    source: str
    kind: str
    event_type: str
    event_time: dt.datetime
    esp_message_id: str | None
    smtp_message_id: str | None = None
    recipient: str | None = None
    sender: str | None = None
    subject: str | None = None
    status: str | None = None
    severity: str | None = None
    reason: str | None = None
    bounce_type: str | None = None
    bounce_subtype: str | None = None
    diagnostic: str | None = None
    smtp_response: str | None = None
    dsn: str | None = None
    reply_code: int | None = None
    ip: str | None = None  # the ESP's sending IP, when it says
    client_ip: str | None = None  # who submitted the message to the ESP (SES sourceIp)
    caller: str | None = None  # the authenticated identity that submitted it (SES callerIdentity)
    remote_mta: str | None = None  # the receiving MX, when the ESP names it
    reporting_mta: str | None = None  # the MTA that wrote the DSN (for SES, its own sending host)
    remote_mta_ip: str | None = None
    user_agent: str | None = None
    feedback_type: str | None = None
    delay: float | None = None  # seconds from submission to the receiver's acceptance
    arrival_date: dt.datetime | None = None
    raw_json: str = ""
    event_key: str = ""  # content hash: webhooks deliver at least once, so re-sent events are skipped

    @property
    def message_key(self) -> str | None:
        return f"{self.source}/{self.esp_message_id}" if self.esp_message_id else None


@dataclass
class BadRecord:
    """A record that is not JSON or lacks what its ESP always sends: quarantined."""

    record_no: int
    reason: str
    raw: str


def split_records(data: bytes, what: str) -> Iterator[tuple[int, Any]]:
    """(record number, decoded JSON or BadRecord): a whole-file array/object, else JSON lines.

    Lines may themselves be arrays (a webhook body per line); their elements are numbered in turn. Invalid
    UTF-8 refuses a one-document file, but costs a JSON-lines export only the lines that carry it.
    """
    raw_lines = [line for line in data.lstrip(b"\xef\xbb\xbf").splitlines() if line.strip()]
    if not raw_lines:
        raise InputError(f"{what}: empty file, no ESP events in it")
    try:
        text: str | None = data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        if len(raw_lines) == 1:
            raise InputError(f"{what}: invalid UTF-8 at byte {exc.start} (0x{data[exc.start]:02x})") from None
        text = None
    whole: Any = None
    if text is not None:
        try:
            whole = json.loads(text)
        except RecursionError:  # nesting deeper than the interpreter's stack: read it line by line instead
            whole = None
        except json.JSONDecodeError:
            if len(raw_lines) == 1 and text.lstrip().startswith("["):
                raise InputError(f"{what}: invalid JSON array") from None
    if whole is not None:
        items = whole if isinstance(whole, list) else [whole]
        yield from enumerate(items, start=1)
        return
    no = 0
    for raw in raw_lines:
        try:
            line = raw.decode("utf-8")
            obj = json.loads(line)
        except UnicodeDecodeError as exc:
            no += 1
            reason = f"invalid UTF-8 at byte {exc.start} of the line"
            yield no, BadRecord(no, reason, raw.decode("utf-8", "backslashreplace")[:RAW_CAP])
            continue
        except json.JSONDecodeError as exc:
            no += 1
            yield no, BadRecord(no, f"invalid JSON ({exc.msg} at column {exc.colno})", line[:RAW_CAP])
            continue
        except RecursionError:
            no += 1
            yield no, BadRecord(no, "JSON nested too deeply", line[:RAW_CAP])
            continue
        for item in obj if isinstance(obj, list) else [obj]:
            no += 1
            yield no, item


def parse_time(value: Any) -> dt.datetime:
    """ISO 8601 strings (any fraction length) or Unix seconds (int/float/str); naive means UTC."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"bad timestamp {value!r}")
    if isinstance(value, int | float) or (
        isinstance(value, str) and re.fullmatch(r"\d{9,11}(?:\.\d+)?", value)
    ):
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
    if not isinstance(value, str):
        raise ValueError(f"bad timestamp {value!r}")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)", text)
    if m and m.group(2) and len(m.group(2)) > 7:  # more than microseconds: 3.11 rejects >6 digits in places
        text = m.group(1) + m.group(2)[:7] + m.group(3)
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def smtp_codes(text: str | None) -> tuple[str | None, int | None]:
    """(enhanced status code, SMTP reply code) found in a diagnostic or response text."""
    if not text:
        return None, None
    m = _DSN.search(text)
    c = _CODE.search(text)
    return (m.group(1) if m else None), (int(c.group(1)) if c else None)


def _ip(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return _canonical_ip(value)


@lru_cache(maxsize=65536)
def _canonical_ip(value: str) -> str | None:
    """Exports repeat a few sending IPs millions of times; parse each once."""
    try:
        return str(ipaddress.ip_address(value.strip().strip("[]")))
    except ValueError:
        return None


def _s(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _mta(value: Any) -> str | None:
    """A reporting MTA without its RFC 3464 type prefix ("dsn; mta.example.com" -> "mta.example.com")."""
    text = _s(value)
    return (text.split(";", 1)[1].strip() or None) if text and ";" in text else text


def _msgid(value: Any) -> str | None:
    text = _s(value)
    return text.strip("<>").strip() or None if text else None


def _addr(value: Any) -> str | None:
    text = _s(value)
    if not text:
        return None
    m = re.search(r"<([^<>]+)>", text)
    return (m.group(1) if m else text).strip()


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dump(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)[:RAW_CAP]


def _require(obj: Any, *keys: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ValueError(f"record is a JSON {type(obj).__name__}, not an object")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise ValueError(f"record lacks {', '.join(missing)}")
    return obj


def _with_codes(ev: EspEvent) -> EspEvent:
    text = ev.diagnostic or ev.smtp_response
    dsn, code = smtp_codes(text)
    ev.dsn = ev.dsn or dsn
    ev.reply_code = ev.reply_code or code
    return ev


# --- Amazon SES (SNS notifications and event publishing) ------------------------------------------

_SES_PERMANENT_REASON = {
    "noemail": "userunknown",
    "suppressed": "suppressed",
    "onaccountsuppressionlist": "suppressed",
}
_SES_TRANSIENT_REASON = {
    "mailboxfull": "mailboxfull",
    "messagetoolarge": "mesgtoobig",
    "contentrejected": "contenterror",
    "attachmentrejected": "contenterror",
}
_SES_DELAY_REASON = {
    "mailboxfull": "mailboxfull",
    "spamdetected": "spamdetected",
    "ipfailure": "blocked",
    "transientcommunicationfailure": "networkerror",
}  # General, RecipientServerError, InternalFailure, Undetermined: the diagnostic text decides


def _ses_unwrap(obj: dict[str, Any]) -> dict[str, Any]:
    """An SNS envelope carries the SES notification as a JSON string in Message."""
    if obj.get("Type") == "Notification" and isinstance(obj.get("Message"), str):
        try:
            inner = json.loads(obj["Message"])
        except json.JSONDecodeError:
            raise ValueError("SNS Message is not JSON") from None
        if not isinstance(inner, dict):
            raise ValueError("SNS Message is not a JSON object")
        return inner
    return obj


def parse_ses(obj: Any) -> list[EspEvent]:
    """SES notification (notificationType) or event publishing record (eventType)."""
    rec = _ses_unwrap(_require(obj))
    etype = rec.get("eventType") or rec.get("notificationType")
    if not isinstance(etype, str):
        raise ValueError("SES record without eventType/notificationType")
    mail = _require(rec.get("mail"), "messageId")
    headers = mail.get("commonHeaders") or {}
    base: dict[str, Any] = {
        "source": "ses",
        "event_type": etype,
        "esp_message_id": _s(mail["messageId"]),
        "smtp_message_id": _msgid(headers.get("messageId")),
        "sender": _addr(mail.get("source")),
        "subject": _s(headers.get("subject")),
        "client_ip": _ip(mail.get("sourceIp")),
        "caller": _s(mail.get("callerIdentity")),
    }
    key = etype.lower().replace(" ", "")
    out: list[EspEvent] = []
    if key == "bounce":
        b = _require(rec.get("bounce"), "bounceType")
        btype, sub = _s(b.get("bounceType")) or "", _s(b.get("bounceSubType")) or ""
        when = parse_time(b.get("timestamp") or mail.get("timestamp"))
        if btype.lower() == "permanent":
            status, sev, reason = "bounced", "hard", _SES_PERMANENT_REASON.get(sub.lower())
        elif btype.lower() == "transient":
            # SES reports a transient bounce once it has stopped retrying: a final soft failure
            status, sev, reason = "bounced", "soft", _SES_TRANSIENT_REASON.get(sub.lower())
        else:  # Undetermined
            status, sev, reason = "bounced", "soft", "undefined"
        for r in b.get("bouncedRecipients") or []:
            r = _obj(r)
            out.append(
                _with_codes(
                    EspEvent(
                        **base,
                        kind="bounce",
                        event_time=when,
                        recipient=_addr(r.get("emailAddress")),
                        status=status,
                        severity=sev,
                        reason=reason,
                        bounce_type=btype,
                        bounce_subtype=sub or None,
                        diagnostic=_s(r.get("diagnosticCode")),
                        dsn=_s(r.get("status")),
                        reporting_mta=_mta(b.get("reportingMTA")),
                        remote_mta_ip=_ip(b.get("remoteMtaIp")),
                    )
                )
            )
    elif key == "complaint":
        c = _require(rec.get("complaint"))
        when = parse_time(c.get("timestamp") or mail.get("timestamp"))
        suppressed = (_s(c.get("complaintSubType")) or "").lower() == "onaccountsuppressionlist"
        for r in c.get("complainedRecipients") or []:
            r = _obj(r)
            out.append(
                EspEvent(
                    **base,
                    kind="dropped" if suppressed else "complaint",
                    event_time=when,
                    recipient=_addr(r.get("emailAddress")),
                    status="dropped" if suppressed else None,
                    reason="suppressed" if suppressed else None,
                    feedback_type=_s(c.get("complaintFeedbackType")),
                    user_agent=_s(c.get("userAgent")),
                    arrival_date=parse_time(c["arrivalDate"]) if c.get("arrivalDate") else None,
                    bounce_subtype=_s(c.get("complaintSubType")),
                )
            )
    elif key == "delivery":
        d = _require(rec.get("delivery"))
        when = parse_time(d.get("timestamp") or mail.get("timestamp"))
        for rcpt in d.get("recipients") or []:
            out.append(
                _with_codes(
                    EspEvent(
                        **base,
                        kind="delivery",
                        event_time=when,
                        recipient=_addr(rcpt),
                        status="sent",
                        smtp_response=_s(d.get("smtpResponse")),
                        reporting_mta=_mta(d.get("reportingMTA")),
                        remote_mta_ip=_ip(d.get("remoteMtaIp")),
                        delay=millis / 1000
                        if isinstance(millis := d.get("processingTimeMillis"), int | float)
                        else None,
                    )
                )
            )
    elif key == "deliverydelay":
        d = _require(rec.get("deliveryDelay"))
        when = parse_time(d.get("timestamp") or mail.get("timestamp"))
        dtype = _s(d.get("delayType"))
        for r in d.get("delayedRecipients") or []:
            r = _obj(r)
            out.append(
                _with_codes(
                    EspEvent(
                        **base,
                        kind="deferral",
                        event_time=when,
                        recipient=_addr(r.get("emailAddress")),
                        status="deferred",
                        severity="soft",
                        reason=_SES_DELAY_REASON.get((dtype or "").lower()),
                        bounce_type=dtype,
                        diagnostic=_s(r.get("diagnosticCode")),
                        dsn=_s(r.get("status")),
                        reporting_mta=_mta(d.get("reportingMTA")),
                    )
                )
            )
    else:
        kind = {"send": "send", "reject": "dropped", "open": "open", "click": "click"}.get(key, "other")
        detail = _obj(rec.get(key))
        when = parse_time(detail.get("timestamp") or mail.get("timestamp"))
        for rcpt in mail.get("destination") or [None]:
            out.append(
                EspEvent(
                    **base,
                    kind=kind,
                    event_time=when,
                    recipient=_addr(rcpt),
                    status="dropped" if kind == "dropped" else None,
                    # SES rejects a message only for a virus ("Bad content")
                    reason="virusdetected" if kind == "dropped" else None,
                    diagnostic=_s(detail.get("reason")),
                    user_agent=_s(detail.get("userAgent")),
                )
            )
    return out


# --- SendGrid event webhook ---------------------------------------------------------------------

_SENDGRID_CLASS = {
    "invalid address": "userunknown",
    "mailbox unavailable": "mailboxfull",
    "reputation": "blocked",
    "content": "contenterror",
    "frequency or volume": "toomanyconn",
}


def _sendgrid_id(obj: dict[str, Any]) -> str | None:
    """sg_message_id is the X-Message-Id plus '.filter…' routing data; the prefix names the message."""
    sg = _s(obj.get("sg_message_id"))
    if sg:
        return sg.split(".filter", 1)[0].split(".recvd", 1)[0]
    smtp = _msgid(obj.get("smtp-id"))
    return smtp.split("@", 1)[0] if smtp else None


def parse_sendgrid(obj: Any) -> list[EspEvent]:
    """One SendGrid webhook event (the webhook posts arrays of these)."""
    rec = _require(obj, "event", "timestamp")
    event = str(rec["event"]).lower()
    ev = EspEvent(
        source="sendgrid",
        kind="other",
        event_type=event,
        event_time=parse_time(rec["timestamp"]),
        esp_message_id=_sendgrid_id(rec),
        smtp_message_id=_msgid(rec.get("smtp-id")),
        recipient=_addr(rec.get("email")),
        ip=_ip(rec.get("ip")) if event not in ("open", "click") else None,
        user_agent=_s(rec.get("useragent")),
    )
    if event == "processed":
        ev.kind = "send"
    elif event == "delivered":
        ev.kind, ev.status, ev.smtp_response = "delivery", "sent", _s(rec.get("response"))
    elif event == "deferred":
        ev.kind, ev.status, ev.severity = "deferral", "deferred", "soft"
        ev.smtp_response = _s(rec.get("response"))
        ev.diagnostic = ev.smtp_response
    elif event == "bounce":
        # SendGrid: type "bounce" = refused permanently; "blocked" = refused temporarily (older exports
        # send event "blocked" instead, handled below)
        btype = (_s(rec.get("type")) or "bounce").lower()
        ev.kind, ev.status = "bounce", "bounced"
        ev.severity = "soft" if btype == "blocked" else "hard"
        ev.bounce_type = btype
        ev.bounce_subtype = _s(rec.get("bounce_classification"))
        ev.reason = _SENDGRID_CLASS.get((ev.bounce_subtype or "").lower())
        ev.diagnostic, ev.dsn = _s(rec.get("reason")), _s(rec.get("status"))
    elif event == "blocked":
        ev.kind, ev.status, ev.severity, ev.bounce_type = "bounce", "bounced", "soft", "blocked"
        ev.diagnostic, ev.dsn = _s(rec.get("reason")), _s(rec.get("status"))
    elif event == "dropped":
        ev.kind, ev.status, ev.diagnostic = "dropped", "dropped", _s(rec.get("reason"))
        ev.reason = "suppressed" if "address" in (ev.diagnostic or "").lower() else None
    elif event == "spamreport":
        ev.kind, ev.feedback_type = "complaint", "abuse"
    elif event in ("open", "click"):
        ev.kind = event
    elif event in ("unsubscribe", "group_unsubscribe"):
        ev.kind = "unsubscribe"
    return [_with_codes(ev)]


# --- Mailgun events (API items and webhook bodies) ------------------------------------------------


def parse_mailgun(obj: Any) -> list[EspEvent]:
    """A Mailgun event: an events-API item, or a webhook body whose payload sits under event-data."""
    rec = _require(obj)
    rec = _require(rec.get("event-data", rec), "event", "timestamp")
    event = str(rec["event"]).lower()
    message = _obj(rec.get("message"))
    headers = _obj(message.get("headers"))
    envelope = _obj(rec.get("envelope"))
    status = _obj(rec.get("delivery-status"))
    msgid = _msgid(headers.get("message-id"))
    text = " ".join(x for x in (_s(status.get("message")), _s(status.get("description"))) if x) or None
    code = status.get("code")
    ev = EspEvent(
        source="mailgun",
        kind="other",
        event_type=event,
        event_time=parse_time(rec["timestamp"]),
        esp_message_id=msgid,
        smtp_message_id=msgid,
        recipient=_addr(rec.get("recipient")),
        sender=_addr(envelope.get("sender")) or _addr(headers.get("from")),
        subject=_s(headers.get("subject")),
        ip=_ip(envelope.get("sending-ip")),
        remote_mta=_s(status.get("mx-host")),
        reply_code=code if isinstance(code, int) and 200 <= code < 600 else None,
    )
    client = _obj(rec.get("client-info"))
    ev.user_agent = _s(client.get("user-agent"))
    reason = (_s(rec.get("reason")) or "").lower()
    severity = (_s(rec.get("severity")) or "").lower()
    if event == "accepted":
        ev.kind = "send"
    elif event == "delivered":
        ev.kind, ev.status, ev.smtp_response = "delivery", "sent", text
    elif event in ("failed", "rejected"):
        ev.bounce_type, ev.bounce_subtype, ev.diagnostic = severity or None, reason or None, text
        if event == "rejected" or reason.startswith("suppress-") or reason in ("old", "espblock", "hardfail"):
            # never handed to a receiving server: Mailgun refused or suppressed it itself
            ev.kind, ev.status = "dropped", "dropped"
            ev.reason = "suppressed" if reason.startswith("suppress-") else None
        elif severity == "temporary":
            ev.kind, ev.status, ev.severity = "deferral", "deferred", "soft"
        else:
            ev.kind, ev.status, ev.severity = "bounce", "bounced", "hard"
    elif event == "complained":
        ev.kind, ev.feedback_type = "complaint", "abuse"
    elif event in ("opened", "clicked"):
        ev.kind = event[:-2] if event == "opened" else "click"
    elif event == "unsubscribed":
        ev.kind = "unsubscribe"
    return [_with_codes(ev)]


# --- Postmark webhooks --------------------------------------------------------------------------

# TypeCode -> (status, severity, reason); None status = not a delivery outcome (kept as an event only).
_POSTMARK_BOUNCE: dict[int, tuple[str | None, str | None, str | None]] = {
    1: ("bounced", "hard", "userunknown"),  # HardBounce: unknown user, mailbox not found
    2: ("deferred", "soft", None),  # Transient: delayed, Postmark keeps trying
    16: (None, None, None),  # Unsubscribe
    32: (None, None, None),  # Subscribe
    64: (None, None, "vacation"),  # AutoResponder
    128: ("bounced", "hard", "hasmoved"),  # AddressChange
    256: ("bounced", "soft", "networkerror"),  # DnsError
    512: ("bounced", "soft", "spamdetected"),  # SpamNotification
    1024: (None, None, None),  # OpenRelayTest
    2048: ("bounced", "soft", "undefined"),  # Unknown
    4096: ("bounced", "soft", None),  # SoftBounce / Undeliverable
    8192: ("bounced", "soft", "virusdetected"),  # VirusNotification
    16384: ("bounced", "soft", None),  # ChallengeVerification
    100000: ("bounced", "hard", "userunknown"),  # BadEmailAddress
    100002: ("dropped", None, "suppressed"),  # ManuallyDeactivated
    100003: ("dropped", None, None),  # Unconfirmed
    100006: ("bounced", "soft", "blocked"),  # Blocked
    100007: ("dropped", None, None),  # SMTPApiError
    100008: ("dropped", None, None),  # InboundError / processing failed
    100009: ("bounced", "soft", "authfailure"),  # DMARCPolicy
    100010: ("dropped", None, None),  # TemplateRenderingFailed
}


def parse_postmark(obj: Any) -> list[EspEvent]:
    """A Postmark webhook body (RecordType Delivery, Bounce, SpamComplaint, Open, Click, ...)."""
    rec = _require(obj, "RecordType")
    rtype = str(rec["RecordType"])
    when_raw = rec.get("DeliveredAt") or rec.get("BouncedAt") or rec.get("ReceivedAt") or rec.get("ChangedAt")
    ev = EspEvent(
        source="postmark",
        kind="other",
        event_type=rtype,
        event_time=parse_time(when_raw),
        esp_message_id=_s(rec.get("MessageID")),
        recipient=_addr(rec.get("Recipient") or rec.get("Email")),
        sender=_addr(rec.get("From")),
        subject=_s(rec.get("Subject")),
        user_agent=_s(rec.get("UserAgent")),
    )
    if rtype == "Delivery":
        ev.kind, ev.status, ev.smtp_response = "delivery", "sent", _s(rec.get("Details"))
    elif rtype == "SpamComplaint" or rec.get("TypeCode") == 100001:
        ev.kind, ev.feedback_type, ev.bounce_type = "complaint", "abuse", _s(rec.get("Type"))
    elif rtype == "Bounce":
        code = rec.get("TypeCode")
        if not isinstance(code, int):
            raise ValueError("Postmark bounce without an integer TypeCode")
        status, sev, reason = _POSTMARK_BOUNCE.get(code, ("bounced", "soft", None))
        ev.kind = {"bounced": "bounce", "deferred": "deferral", "dropped": "dropped"}.get(
            status or "", "other"
        )
        ev.status, ev.severity, ev.reason = status, sev, reason
        ev.bounce_type, ev.bounce_subtype = _s(rec.get("Type")), str(code)
        ev.diagnostic = _s(rec.get("Details")) or _s(rec.get("Description"))
    elif rtype in ("Open", "Click"):
        ev.kind = rtype.lower()
    elif rtype == "SubscriptionChange":
        ev.kind = "unsubscribe" if rec.get("SuppressSending") else "other"
    return [_with_codes(ev)]


PARSERS: dict[str, Callable[[Any], list[EspEvent]]] = {
    "ses": parse_ses,
    "sendgrid": parse_sendgrid,
    "mailgun": parse_mailgun,
    "postmark": parse_postmark,
}


def parse_records(data: bytes, source: str, what: str) -> Iterator[tuple[int, list[EspEvent] | BadRecord]]:
    """Every record of an export: its canonical events, or why it was set aside."""
    parse = PARSERS[source]
    for no, item in split_records(data, what):
        if isinstance(item, BadRecord):
            yield no, item
            continue
        try:
            events = parse(item)
            whole = json.dumps(item, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        except RecursionError:
            yield no, BadRecord(no, f"{source}: JSON nested too deeply", "")
            continue
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            yield no, BadRecord(no, f"{source}: {exc}", _dump(item))
            continue
        for ev in events:
            ev.raw_json = whole[:RAW_CAP]
            ev.event_key = hashlib.sha256(
                "\x1f".join((source, whole, ev.kind, ev.recipient or "")).encode("utf-8")
            ).hexdigest()[:32]
        yield no, events
