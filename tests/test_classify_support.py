"""Shared readers for the classification tests (no tests here): the authored reply table, the grok corpus."""

from __future__ import annotations

from pathlib import Path

from analysis.classify import Classification, classify_reply

DATA = Path(__file__).parent / "data" / "classify"
CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
GROK = CORPORA / "postfix-grok"

Row = tuple[str, str | None, str | None, str | None, str]


def load_replies() -> list[Row]:
    """(reason, severity, status, domain, text) rows of replies.txt; '-' means not given."""
    rows: list[Row] = []
    for line in (DATA / "replies.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        reason, severity, status, domain, text = line.split("|", 4)
        rows.append((reason, _opt(severity), _opt(status), _opt(domain), text))
    return rows


def _opt(value: str) -> str | None:
    return None if value == "-" else value


def grok_lines() -> list[str]:
    """Postfix log bodies from whyscream/postfix-grok-patterns that carry a reply (status=, said:, reject:)."""
    import yaml

    out = []
    for path in sorted(GROK.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        data = str(doc.get("data", ""))
        if "status=" in data or " said: " in data or "reject: " in data:
            out.append(data)
    return out


def bare(reply: str | None, **given: object) -> Classification:
    """classify_reply with every input absent except the reply and what the caller gives."""
    args: dict[str, object] = dict.fromkeys(
        ("dsn", "reply_code", "smtp_stage", "status", "relay_host", "recipient_domain")
    )
    args.update(given)
    return classify_reply(reply=reply, **args)  # type: ignore[arg-type]
