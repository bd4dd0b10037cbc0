"""Headless Chromium driven through the DevTools protocol (websockets, already a Prefect dependency), for tests
that look at pages the way a user's browser shows them: does every image of a Prefect artifact load?

    with Chromium() as browser:
        page = browser.open("http://127.0.0.1:4200/artifacts/artifact/<id>")
        page.wait_for("document.images.length > 0")
        page.evaluate("[...document.images].map(i => i.naturalWidth)")
"""
from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

#: Debian's chromium (``apt-get install chromium``); the flags keep it off the network it cannot reach.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000", "--remote-debugging-port=0"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Page:
    """One tab: navigate, evaluate JavaScript, take screenshots."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect
        self._ws = connect(ws_url, max_size=64 * 1024 * 1024, open_timeout=30)
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=60))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60.0) -> Any:
        """Poll ``expression`` until it is truthy (single-page apps render after load). While the page loads it
        may throw (no ``document.body`` yet): that counts as not yet, and the last error is shown on timeout."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError as exc:
                last, value = exc, None
            if value:
                return value
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {expression}" + (f" ({last})" if last else ""))

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        self._ws.close()


class Chromium:
    """A headless Chromium process with its own empty profile, stopped on exit."""

    def __init__(self) -> None:
        binary = chromium_path()
        if binary is None:
            raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
        self._profile = tempfile.mkdtemp(prefix="btk-chromium-")
        self._log = Path(self._profile) / "chromium.log"  # a file, not a pipe nobody drains
        with open(self._log, "w") as log:
            self._process = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
                                             stdout=subprocess.DEVNULL, stderr=log)
        self.port = self._devtools_port()

    def _devtools_port(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # "DevTools listening on ws://127.0.0.1:<port>/devtools/browser/<id>"
            for line in self._log.read_text(errors="replace").splitlines():
                if "DevTools listening on" in line:
                    return int(line.split("ws://127.0.0.1:")[1].split("/")[0])
            if self._process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"chromium did not open its DevTools port: {self._log.read_text(errors='replace')[-500:]}")

    def open(self, url: str) -> Page:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?{url}", method="PUT")
        with urllib.request.urlopen(request, timeout=30) as answer:
            target = json.load(answer)
        page = Page(target["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Runtime.enable")
        return page

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        shutil.rmtree(self._profile, ignore_errors=True)
