"""Headless Chromium driven over the DevTools protocol, for testing reports as a reader sees them.

The browser runs offline (flags + Network.emulateNetworkConditions), listens on 127.0.0.1 only, with a
throw-away profile; the page's console messages, uncaught exceptions, log errors and any request that
is not file:// or data: are collected so a test can assert there were none.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


@dataclass
class PageReport:
    """What happened while a page loaded."""

    console: list[dict[str, Any]] = field(default_factory=list)  # Runtime.consoleAPICalled
    exceptions: list[str] = field(default_factory=list)  # Runtime.exceptionThrown
    log_errors: list[str] = field(default_factory=list)  # Log.entryAdded with level error
    remote_requests: list[str] = field(default_factory=list)  # anything but file: / data: / about:

    @property
    def console_errors(self) -> list[str]:
        """Console calls at level error or assert, as text."""
        out = []
        for c in self.console:
            if c.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in c.get("args", [])))
        return out


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        import websocket  # websocket-client (dev dependency)

        self._websocket = websocket
        self.width, self.height = width, height
        self.profile = tempfile.TemporaryDirectory(prefix="dw-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = self._wait_port()
        self.ws = websocket.create_connection(self._page_ws(port), timeout=60, suppress_origin=True)
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def _wait_port(self) -> int:
        marker = Path(self.profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            time.sleep(0.05)
        raise RuntimeError("chromium did not open its DevTools port in 30 s")

    def _page_ws(self, port: int) -> str:
        deadline = time.monotonic() + 10
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
                targets = json.load(resp)
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
            if time.monotonic() > deadline:
                raise RuntimeError("no page target")
            time.sleep(0.1)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a DevTools method and wait for its result (events meanwhile are kept)."""
        self._id += 1
        my_id = self._id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            if "method" in msg:
                self.events.append(msg)

    def _pump(self, seconds: float) -> None:
        self.ws.settimeout(seconds)
        try:
            while True:
                msg = json.loads(self.ws.recv())
                if "method" in msg:
                    self.events.append(msg)
        except self._websocket.WebSocketTimeoutException:
            pass
        finally:
            self.ws.settimeout(60)

    def evaluate(self, expression: str) -> Any:
        """A JavaScript expression's value (JSON-serialisable)."""
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"evaluate failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def load(self, path: Path, *, ready: str = "true", timeout: float = 60) -> PageReport:
        """Open a file offline and wait until the `ready` JS expression is true (or the timeout)."""
        self.events.clear()
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Network.emulateNetworkConditions", offline=True, latency=0, downloadThroughput=0,
                  uploadThroughput=0)
        self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)
        self.send("Page.navigate", url=path.resolve().as_uri())
        deadline = time.monotonic() + timeout
        loaded = False
        while time.monotonic() < deadline:
            self._pump(0.2)
            loaded = loaded or any(e["method"] == "Page.loadEventFired" for e in self.events)
            if loaded and self.evaluate(f"Boolean({ready})"):
                break
        self._pump(0.5)  # late errors (timers, async rendering)
        return self._report()

    def _report(self) -> PageReport:
        rep = PageReport()
        for e in self.events:
            method, p = e["method"], e.get("params", {})
            if method == "Runtime.consoleAPICalled":
                rep.console.append(p)
            elif method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                rep.exceptions.append(str(d.get("exception", {}).get("description") or d.get("text")))
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                rep.log_errors.append(str(p["entry"].get("text")) + " " + str(p["entry"].get("url", "")))
            elif method == "Network.requestWillBeSent":
                url = str(p.get("request", {}).get("url", ""))
                if not url.startswith(("file:", "data:", "about:", "blob:")):
                    rep.remote_requests.append(url)
        return rep

    def screenshot(self, dest: Path, *, full_page: bool = True) -> Path:
        """Save a PNG of the page (the whole scroll height when full_page)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            height = int(self.evaluate("document.documentElement.scrollHeight"))
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "width": self.width, "height": min(height, 16000), "scale": 1}
        data = self.send("Page.captureScreenshot", **params)["data"]
        dest.write_bytes(base64.b64decode(data))
        return dest

    def close(self) -> None:
        """Close the browser and remove its profile."""
        with contextlib.suppress(Exception):
            self.send("Browser.close")
        try:
            self.ws.close()
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def available() -> bool:
    """Whether a Chromium binary and websocket-client are present."""
    try:
        import websocket  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists()
