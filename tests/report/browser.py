"""Headless Chromium driven over the DevTools protocol on a pipe (no extra packages).

``--remote-debugging-pipe`` makes Chromium read protocol commands from fd 3 and write replies
and events to fd 4, NUL-separated JSON. ``open_page`` loads a URL, waits for the load event,
and returns what the page reported: console errors, uncaught exceptions, requests that left
the machine, plus a full-page screenshot and the value of a JavaScript expression.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe")
LOCAL_SCHEMES = ("file:", "data:", "about:")


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageReport:
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    remote_requests: list[str] = field(default_factory=list)
    value: Any = None


class Chromium:
    """One headless browser; use as a context manager."""

    def __init__(self, executable: str, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="pytest-diego-chromium-")
        to_chrome_r, to_chrome_w = _high_pipe()
        from_chrome_r, from_chrome_w = _high_pipe()

        def wire() -> None:  # in the child: the pipe ends on the fds Chromium expects
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=wire, close_fds=False)  # fds 3 and 4 must survive exec
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._out = to_chrome_w
        self._in = from_chrome_r
        self._next_id = 0
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        self._stderr: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._in, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                self._events.put({"method": "__closed__"})
                for q in list(self._replies.values()):
                    q.put({"error": {"message": "Chromium closed the pipe"}})
                return
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message and message["id"] in self._replies:
                    self._replies[message["id"]].put(message)
                else:
                    self._events.put(message)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        """Send one command and wait for its result (raises on a protocol error)."""
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            reply: queue.Queue[dict[str, Any]] = queue.Queue()
            self._replies[ident] = reply
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        try:
            answer = reply.get(timeout=self.timeout)
        except queue.Empty:
            raise TimeoutError(f"Chromium did not answer {method} within {self.timeout} s; "
                               f"stderr: {self.stderr()[-2000:]}") from None
        finally:
            self._replies.pop(ident, None)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def stderr(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    def open_page(self, url: str, expression: str, screenshot: Path | None = None,
                  width: int = 1400) -> PageReport:
        """Load ``url``; gather errors and remote requests; evaluate ``expression``; screenshot."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session)
        report = PageReport()
        self.send("Page.navigate", {"url": url}, session)
        deadline = time.monotonic() + self.timeout
        loaded = False
        while not loaded:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{url} did not finish loading within {self.timeout} s")
            try:
                event = self._events.get(timeout=left)
            except queue.Empty:
                continue
            loaded = self._note(event, session, report)
        time.sleep(0.3)  # late console messages
        while not self._events.empty():
            self._note(self._events.get(), session, report)
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluating the check failed: {result['exceptionDetails']}")
        report.value = result["result"].get("value")
        if screenshot is not None:
            size = self.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
            shot = self.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1}}, session)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        return report

    def _note(self, event: dict[str, Any], session: str, report: PageReport) -> bool:
        """Record what an event says about the page; True once the page has loaded."""
        method, params = event.get("method"), event.get("params", {})
        if method == "__closed__":
            raise RuntimeError(f"Chromium exited: {self.stderr()[-2000:]}")
        if event.get("sessionId") != session:
            return False
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text", "")
            report.exceptions.append(text)
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            report.console_errors.append(" ".join(str(a.get("value", a.get("description", "")))
                                                  for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            report.console_errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            request_url = params["request"]["url"]
            if not request_url.startswith(LOCAL_SCHEMES):
                report.remote_requests.append(request_url)
        return method == "Page.loadEventFired"

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._out, self._in):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)


def _high_pipe() -> tuple[int, int]:
    """A pipe whose ends are numbered above 4, so placing them on fds 3 and 4 cannot clobber them."""
    r, w = os.pipe()
    high = fcntl.fcntl(r, fcntl.F_DUPFD_CLOEXEC, 10), fcntl.fcntl(w, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(r)
    os.close(w)
    return high
