"""A real NSD on a loopback port for tests and benchmarks: write zones, start once, reload between cases.

NSD re-reads zone files on SIGHUP but only learns new zone names from its configuration at start, so
`serve()` reloads when the set of zones is unchanged and restarts otherwise. A zone given as None is
configured with an unparsable file: NSD then answers SERVFAIL for every name in it, which is how the
tests model a broken or unreachable authority without any fake resolver.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

NSD = os.environ.get("NSD_BINARY", "/usr/sbin/nsd")


def nsd_available() -> bool:
    return Path(NSD).exists() or shutil.which("nsd") is not None


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (NSD listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free loopback port")


def quote_txt(value: str | bytes) -> str:
    """One TXT character-string in zone-file syntax; anything outside printable ASCII as \\DDD."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    out = []
    for b in data:
        if b in (0x22, 0x5C) or b < 0x20 or b > 0x7E:
            out.append(f"\\{b:03d}")
        else:
            out.append(chr(b))
    return '"' + "".join(out) + '"'


def txt(*strings: str | bytes) -> str:
    """TXT rdata from strings; a long str is split into 255-octet pieces as publishers do."""
    pieces: list[str | bytes] = []
    for s in strings:
        data = s.encode("utf-8") if isinstance(s, str) else s
        if len(data) > 255:
            pieces.extend(data[i : i + 255] for i in range(0, len(data), 255))
        else:
            pieces.append(s)
    return " ".join(quote_txt(p) for p in pieces) if pieces else '""'


def zone_text(origin: str, records: Iterable[str], serial: int) -> str:
    """A complete zone: $ORIGIN, SOA, NS and the given record lines (owner names relative or absolute)."""
    origin = origin.rstrip(".") + "." if origin not in ("", ".") else "."
    head = [
        f"$ORIGIN {origin}",
        "$TTL 60",
        f"@ IN SOA ns.fixture. hostmaster.fixture. {serial} 3600 600 86400 60",
        "@ IN NS ns.fixture.",
    ]
    return "\n".join([*head, *records]) + "\n"


class NSDExited(RuntimeError):
    """NSD stopped while we waited for it (typically: the port was taken)."""


class NSDServer:
    """One NSD process serving zones from a private directory on 127.0.0.1:port."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.serial = int(time.time()) % 1_000_000_000
        self._zone_names: tuple[str, ...] = ()
        self._loaded: dict[str, bool] = {}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _file(self, origin: str) -> str:
        name = origin.strip(".") or "root"
        return name.replace("/", "_") + ".zone"

    def _write_config(self, names: Iterable[str]) -> None:
        d = self.workdir
        lines = [
            "server:",
            f"  ip-address: 127.0.0.1@{self.port}",
            '  username: ""',
            '  chroot: ""',
            '  database: ""',
            f'  zonesdir: "{d}"',
            f'  pidfile: "{d}/nsd.pid"',
            f'  xfrdfile: "{d}/xfrd.state"',
            f'  zonelistfile: "{d}/zone.list"',
            f'  logfile: "{d}/nsd.log"',
            "  server-count: 1",
            "  verbosity: 0",
            "  hide-version: yes",
            "  tcp-count: 64",
            "remote-control:",
            "  control-enable: no",
        ]
        for name in names:
            lines += ["zone:", f'  name: "{name}"', f'  zonefile: "{self._file(name)}"']
        (d / "nsd.conf").write_text("\n".join(lines) + "\n")

    def serve(self, zones: Mapping[str, Iterable[str] | None]) -> None:
        """Serve exactly these zones (origin → record lines, or None for a SERVFAIL zone); wait until live."""
        self.serial += 1
        names = tuple(sorted((o.rstrip(".") + ".") if o not in ("", ".") else "." for o in zones))
        self._loaded = {}
        for origin, records in zones.items():
            key = (origin.rstrip(".") + ".") if origin not in ("", ".") else "."
            path = self.workdir / self._file(key)
            if records is None:
                path.write_text("this zone is deliberately broken\n")
                self._loaded[key] = False
            else:
                path.write_text(zone_text(key, records, self.serial))
                self._loaded[key] = True
        if self.proc is not None and self.proc.poll() is None and names == self._zone_names:
            self.proc.send_signal(signal.SIGHUP)
            self._wait_live()
            return
        for attempt in range(3):
            self.stop()
            self._write_config(names)
            self._zone_names = names
            self.proc = subprocess.Popen(
                [NSD, "-d", "-c", str(self.workdir / "nsd.conf")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                self._wait_live()
                return
            except NSDExited:
                if attempt == 2:
                    raise
                self.port = free_port()  # another process took the port between probe and bind

    def _wait_live(self, timeout: float = 10.0) -> None:
        import dns.message
        import dns.query
        import dns.rdatatype

        deadline = time.monotonic() + timeout
        pending = [z for z, ok in self._loaded.items() if ok]
        while pending:
            if self.proc is None or self.proc.poll() is not None:
                log = (self.workdir / "nsd.log").read_text() if (self.workdir / "nsd.log").exists() else ""
                raise NSDExited(f"nsd exited: {log[-2000:]}")
            zone = pending[0]
            try:
                r = dns.query.udp(
                    dns.message.make_query(zone, "SOA"), "127.0.0.1", port=self.port, timeout=0.2
                )
                soa = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.SOA]
                if soa and soa[0][0].serial == self.serial:
                    pending.pop(0)
                    continue
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"nsd did not load zone {zone} within {timeout}s")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> NSDServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SilentUDP:
    """A bound UDP (and listening TCP) port on loopback that never answers: a real timeout."""

    def __init__(self) -> None:
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = int(self.udp.getsockname()[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self.udp.close()

    def __enter__(self) -> SilentUDP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
