"""MTA-STS (RFC 8461): the _mta-sts TXT record, and the HTTPS policy when it can be fetched quickly.

The policy host is resolved with the injected resolver (so a test or demo name server is honoured), the
certificate is verified as a sending MTA would, and the body is capped: the server is untrusted.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Sequence

from analysis.dns.findings import INVALID, MISSING, PRESENT, CheckResult, temperror
from analysis.dns.resolver import Resolver
from analysis.dns.taglist import parse_tags, select

MAX_POLICY = 64 * 1024
_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


def fetch_policy(
    domain: str,
    resolver: Resolver,
    timeout: float = 3.0,
    *,
    port: int = 443,
    context: ssl.SSLContext | None = None,
) -> tuple[str | None, str]:
    """(policy text, problem): GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt with a short timeout.

    `port` and `context` exist for tests (a local server with its own CA); senders use 443 and system CAs.
    """
    host = f"mta-sts.{domain}"
    addrs = resolver.query(host, "A")
    if not addrs.ok:
        addrs = resolver.query(host, "AAAA")
    if not addrs.ok:
        return None, f"{host} does not resolve ({addrs.status})"
    ip = addrs.texts()[0]
    ctx = context or ssl.create_default_context()
    try:
        with (
            socket.create_connection((ip, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=host) as tls,
        ):
            tls.sendall(
                f"GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
            )
            chunks, size = [], 0
            while size <= MAX_POLICY:
                chunk = tls.recv(8192)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except (OSError, ssl.SSLError) as exc:
        return None, f"https://{host}: {type(exc).__name__}: {exc}"[:200]
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if " 200 " not in status + " ":
        return None, f"https://{host}: {status[:80]}"
    if size > MAX_POLICY:
        return None, f"https://{host}: policy larger than {MAX_POLICY} bytes"
    return body.decode("utf-8", errors="replace"), ""


def parse_policy(text: str) -> tuple[dict[str, list[str]], list[str]]:
    """key: value lines (RFC 8461 §3.2); returns values per key and the problems found."""
    values: dict[str, list[str]] = {}
    problems = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            problems.append(f"line {line[:40]!r} is not key: value")
            continue
        values.setdefault(key.strip().lower(), []).append(value.strip())
    if values.get("version") != ["STSv1"]:
        problems.append("version must be STSv1")
    if values.get("mode", [""])[0] not in ("enforce", "testing", "none"):
        problems.append("mode must be enforce, testing or none")
    if not values.get("max_age", [""])[0].isdigit():
        problems.append("max_age must be a number of seconds")
    if values.get("mode", [""])[0] != "none" and not values.get("mx"):
        problems.append("no mx: lines")
    return values, problems


def mx_matches(host: str, pattern: str) -> bool:
    host, pattern = host.lower().rstrip("."), pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return host == pattern


def check_mta_sts(
    domain: str,
    resolver: Resolver,
    mx_hosts: Sequence[str] = (),
    *,
    fetch: bool = True,
    timeout: float = 3.0,
    port: int = 443,
    context: ssl.SSLContext | None = None,
) -> CheckResult:
    """The _mta-sts TXT record, then (if asked) the policy and whether it covers every MX host."""
    ans = resolver.query(f"_mta-sts.{domain}", "TXT")
    if ans.temporary:
        return temperror(domain, "mta_sts", f"TXT _mta-sts.{domain}", ans.status)
    records = select(ans, "v=STSv1") if ans.ok else []
    res = CheckResult(domain, "mta_sts", PRESENT)
    if not records:
        res.state = MISSING
        res.add("mta_sts.missing", f"no v=STSv1 record at _mta-sts.{domain}")
        return res
    res.record = " | ".join(records)
    tags = parse_tags(records[0])
    if len(records) > 1 or tags.errors or not _ID.match(tags.tags.get("id", "")):
        res.state = INVALID
        res.add("mta_sts.syntax", "need exactly one record with id= of 1-32 letters/digits")
        return res
    res.data["id"] = tags.tags["id"]
    if not fetch:
        return res
    text, problem = fetch_policy(domain, resolver, timeout, port=port, context=context)
    if text is None:
        res.add("mta_sts.policy_unreachable", problem)
        return res
    values, problems = parse_policy(text)
    for p in problems:
        res.add("mta_sts.policy_invalid", p)
    mode = values.get("mode", [""])[0]
    res.data["mode"] = mode
    if mode == "testing":
        res.add("mta_sts.testing", "mode: testing")
    patterns = values.get("mx", [])
    for host in mx_hosts:
        if host and patterns and not any(mx_matches(host, p) for p in patterns):
            res.add("mta_sts.mx_not_covered", f"MX {host} matches no mx: pattern")
    if all(f.severity in ("ok", "info") for f in res.findings):
        res.add("mta_sts.ok", f"mode {mode}")
    return res
