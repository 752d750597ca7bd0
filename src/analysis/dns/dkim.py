"""DKIM key records per selector (RFC 6376 §3.6.1, RFC 8301 key sizes, RFC 8463 ed25519).

The key is decoded with `cryptography` to measure it, not guessed from the base64 length, and its SHA-256
fingerprint is kept so the history can tell a rotation (new key) from an edit of other tags.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from analysis.dns.findings import INVALID, MISSING, PRESENT, CheckResult, temperror
from analysis.dns.resolver import Resolver
from analysis.dns.taglist import decode_txt, parse_tags

BROKEN_BITS = 1024
RECOMMENDED_BITS = 2048


def key_bits(key_type: str, p: str) -> int | None:
    """Bits of the public key in p= (RSA SubjectPublicKeyInfo or raw 32-byte ed25519); None if unusable."""
    try:
        der = base64.b64decode(p, validate=True)
    except (binascii.Error, ValueError):
        return None
    if key_type == "ed25519":
        return 256 if len(der) == 32 else None
    try:
        key = load_der_public_key(der)
    except (ValueError, TypeError):
        try:  # some publishers put a bare PKCS#1 RSAPublicKey in p=
            key = load_der_public_key(_pkcs1_to_spki(der))
        except (ValueError, TypeError):
            return None
    if isinstance(key, rsa.RSAPublicKey):
        return int(key.key_size)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return 256
    return None


def _pkcs1_to_spki(der: bytes) -> bytes:
    """Wrap a PKCS#1 RSAPublicKey in the SubjectPublicKeyInfo header so cryptography can load it."""
    algo = bytes.fromhex("300d06092a864886f70d0101010500")
    bitstring = b"\x03" + _der_len(len(der) + 1) + b"\x00" + der
    body = algo + bitstring
    return b"\x30" + _der_len(len(body)) + body


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def check_dkim(
    domain: str, selector: str, resolver: Resolver, relay_suffixes: Sequence[str] = ()
) -> CheckResult:
    """The observation of SELECTOR._domainkey.DOMAIN: delegation, tags, key type and size."""
    name = f"{selector}._domainkey.{domain}"
    check = f"dkim:{selector}"
    ans = resolver.query(name, "TXT")
    if ans.temporary:
        return temperror(domain, check, f"TXT {name}", ans.status)
    res = CheckResult(domain, check, PRESENT)
    if ans.cname_chain:
        target = ans.cname_chain[-1].lower()
        res.data["cname_target"] = target
        if any(target == s or target.endswith("." + s) for s in relay_suffixes):
            res.add("dkim.cname_relay", f"delegated by CNAME to the relay's key {target}")
        elif relay_suffixes:
            res.add("dkim.cname_foreign", f"CNAME to {target}, not under {', '.join(relay_suffixes)}")
    elif relay_suffixes and ans.ok:
        res.add("dkim.not_delegated", "the key is published directly, not as a CNAME to the relay")
    if not ans.ok:
        res.state = MISSING
        res.add("dkim.missing", f"no key at {name} ({ans.status})")
        return res
    strings = ans.txt_strings()
    if len(strings) > 1:
        res.state = INVALID
        res.record = " | ".join(decode_txt(b"".join(s)) for s in strings)
        res.add("dkim.multiple", f"{len(strings)} TXT records at {name}")
        return res
    text = decode_txt(b"".join(strings[0]))
    res.record = text
    if len(strings[0]) > 1:
        res.add("dkim.multi_string", f"{len(strings[0])} strings joined")
    tags = parse_tags(text)
    if tags.errors or tags.duplicates:
        res.state = INVALID
        res.add("dkim.syntax", "; ".join(tags.errors + [f"duplicate tag {d}" for d in tags.duplicates]))
        return res
    t = tags.tags
    if "v" in t and (t["v"] != "DKIM1" or tags.order[0] != "v"):
        res.state = INVALID
        res.add("dkim.bad_version", f"v={t['v']} (must be DKIM1 and first)")
        return res
    key_type = t.get("k", "rsa").lower()
    res.data["key_type"] = key_type
    if key_type not in ("rsa", "ed25519"):
        res.state = INVALID
        res.add("dkim.bad_key_type", f"k={key_type}")
        return res
    if "p" not in t:
        res.state = INVALID
        res.add("dkim.syntax", "no p= tag")
        return res
    p = t["p"]
    flags = {f.strip().lower() for f in t.get("t", "").split(":") if f.strip()}
    if "y" in flags:
        res.data["testing"] = True
        res.add("dkim.testing", "t=y: the domain is testing DKIM")
    hashes = {h.strip().lower() for h in t.get("h", "").split(":") if h.strip()}
    if hashes and "sha256" not in hashes:
        res.add("dkim.sha1_only", f"h={t['h']} excludes sha256")
    if p == "":
        res.data["revoked"] = True
        res.add("dkim.revoked", "p= is empty: the key is revoked")
        return res
    res.data["key_sha256"] = hashlib.sha256(p.encode()).hexdigest()[:16]
    bits = key_bits(key_type, p)
    if bits is None:
        res.state = INVALID
        res.add("dkim.bad_key", f"p= is not a valid {key_type} public key")
        return res
    res.data["bits"] = bits
    if key_type == "rsa" and bits < BROKEN_BITS:
        res.add("dkim.key_broken", f"RSA key of {bits} bits")
    elif key_type == "rsa" and bits < RECOMMENDED_BITS:
        res.add("dkim.key_weak", f"RSA key of {bits} bits (2048 recommended)")
    if all(f.severity in ("ok", "info") for f in res.findings):
        res.add("dkim.ok", f"{key_type} key of {bits} bits")
    return res
