"""MTA-STS (TXT on NSD, policy over real HTTPS from a local server with a test CA), and BIMI records."""

from __future__ import annotations

import datetime as dt
import http.server
import ssl
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from analysis.dns.bimi import check_bimi
from analysis.dns.mtasts import check_mta_sts, mx_matches, parse_policy
from analysis.dns.resolver import Resolver

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dnsserver import NSDServer, nsd_available, txt

POLICIES = {
    "good.test": "version: STSv1\nmode: enforce\nmx: mx.good.test\nmx: *.backup.test\nmax_age: 86400\n",
    "uncovered.test": "version: STSv1\nmode: testing\nmx: other.test\nmax_age: 86400\n",
    "broken.test": "version: STSv2\nmode: sometimes\nmax_age: soon\n",
}


def _ca_and_server(tmp: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for every mta-sts.<domain> in POLICIES, written as PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "workbench test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(f"mta-sts.{d}") for d in POLICIES]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mta-sts.good.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, cert_pem, key_pem = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_pem, cert_pem, key_pem


class _Policy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").removeprefix("mta-sts.")
        body = POLICIES.get(host)
        if self.path != "/.well-known/mta-sts.txt" or body is None:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, ssl.SSLContext]]:
    tmp = tmp_path_factory.mktemp("sts-tls")
    ca, cert, key = _ca_and_server(tmp)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Policy)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    server.socket = sctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = ssl.create_default_context(cafile=str(ca))
    yield int(server.server_address[1]), client
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def resolver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Resolver]:
    if not nsd_available():
        pytest.skip("NSD (Debian nsd) is not installed")
    sts = txt("v=STSv1; id=20260301T0000")
    zones: dict[str, Any] = {
        "test": [],
        "good.test": [f"_mta-sts IN TXT {sts}", "mta-sts IN A 127.0.0.1", "@ IN MX 10 mx.good.test."],
        "uncovered.test": [f"_mta-sts IN TXT {sts}", "mta-sts IN A 127.0.0.1"],
        "broken.test": [f"_mta-sts IN TXT {sts}", "mta-sts IN A 127.0.0.1"],
        "nohost.test": [f"_mta-sts IN TXT {sts}"],
        "badid.test": [f"_mta-sts IN TXT {txt('v=STSv1; id=not-valid!')}"],
        "bimi.test": [
            f"default._bimi.ok IN TXT {txt('v=BIMI1; l=https://bimi.test/logo.svg; a=https://bimi.test/vmc.pem')}",
            f"default._bimi.http IN TXT {txt('v=BIMI1; l=http://bimi.test/logo.svg')}",
            f"default._bimi.nol IN TXT {txt('v=BIMI1; a=https://bimi.test/vmc.pem')}",
            f"default._bimi.optout IN TXT {txt('v=BIMI1; l=')}",
        ],
    }
    server = NSDServer(tmp_path_factory.mktemp("nsd-policies"))
    server.serve(zones)
    yield Resolver(["127.0.0.1"], port=server.port, timeout=1.0, tries=1)
    server.stop()


def codes(res: Any) -> set[str]:
    return {f.code for f in res.findings}


@pytest.mark.nsd
@pytest.mark.parametrize(
    ("domain", "mx", "state", "must"),
    [
        ("good.test", ["mx.good.test", "mx2.backup.test"], "present", {"mta_sts.ok"}),
        ("uncovered.test", ["mx.uncovered.test"], "present", {"mta_sts.mx_not_covered", "mta_sts.testing"}),
        ("broken.test", [], "present", {"mta_sts.policy_invalid"}),
        ("nohost.test", [], "present", {"mta_sts.policy_unreachable"}),
        ("badid.test", [], "invalid", {"mta_sts.syntax"}),
        ("none.test", [], "missing", {"mta_sts.missing"}),
    ],
)
def test_mta_sts_policy_over_https(
    resolver: Resolver,
    https: tuple[int, ssl.SSLContext],
    domain: str,
    mx: list[str],
    state: str,
    must: set[str],
) -> None:
    port, ctx = https
    res = check_mta_sts(domain, resolver, mx, timeout=2.0, port=port, context=ctx)
    assert res.state == state, res.findings
    assert must <= codes(res), res.findings


@pytest.mark.nsd
def test_mta_sts_rejects_untrusted_certificate(resolver: Resolver, https: tuple[int, ssl.SSLContext]) -> None:
    port, _ctx = https
    res = check_mta_sts("good.test", resolver, [], timeout=2.0, port=port)  # system CAs: not trusted
    assert "mta_sts.policy_unreachable" in codes(res)
    assert "CERTIFICATE_VERIFY_FAILED" in " ".join(f.message for f in res.findings)


def test_policy_parsing_and_patterns() -> None:
    values, problems = parse_policy(POLICIES["good.test"])
    assert problems == [] and values["mx"] == ["mx.good.test", "*.backup.test"]
    assert parse_policy(POLICIES["broken.test"])[1]
    assert mx_matches("a.backup.test", "*.backup.test")
    assert not mx_matches("a.b.backup.test", "*.backup.test")
    assert not mx_matches("backup.test", "*.backup.test")
    assert mx_matches("MX.good.test.", "mx.good.test")


@pytest.mark.nsd
@pytest.mark.parametrize(
    ("domain", "enforced", "state", "must"),
    [
        ("ok.bimi.test", True, "present", {"bimi.ok"}),
        ("ok.bimi.test", False, "present", {"bimi.dmarc_not_enforced"}),
        ("http.bimi.test", True, "invalid", {"bimi.syntax"}),
        ("nol.bimi.test", True, "invalid", {"bimi.syntax"}),
        ("optout.bimi.test", True, "present", {"bimi.ok"}),
        ("none.bimi.test", True, "missing", {"bimi.missing"}),
    ],
)
def test_bimi(resolver: Resolver, domain: str, enforced: bool, state: str, must: set[str]) -> None:
    res = check_bimi(domain, resolver, dmarc_enforced=enforced)
    assert res.state == state, res.findings
    assert must <= codes(res)
