"""Browser mode end to end: `tuneui serve` on a loopback port, opened in headless Chromium.

Chromium is driven over the DevTools protocol (aiohttp, already a textual-serve dependency).
A script injected before the page loads records what the terminal receives over the app's
websocket, so the test can wait (polling, no fixed sleeps) until the Welcome screen is drawn.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("textual_serve")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/setup installs it)")

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0", "--window-size=1280,800", "--hide-scrollbars",
]
# Text the Welcome step draws (screens/welcome.py): its title in the step bar and its panels.
WELCOME_MARKERS = ("Welcome", "This machine", "Recent runs")
RECORD_TERMINAL = """
(() => {
  window.__terminalText = "";
  const Native = window.WebSocket;
  const decoder = new TextDecoder();
  class Recording extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        if (typeof e.data !== "string") {
          window.__terminalText += decoder.decode(new Uint8Array(e.data), {stream: true});
        }
      });
    }
  }
  window.WebSocket = Recording;
})();
"""
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|[@-Z\\-_])")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT if proc.args[0] == sys.executable else signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class DevTools:
    """The smallest DevTools client: send a command, wait for its reply."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0

    async def call(self, method: str, timeout: float = 30, **params):
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            msg = json.loads((await asyncio.wait_for(self.ws.receive(), timeout)).data)
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")


async def drive_browser(devtools_port: int, url: str, shot: Path, timeout: float = 60) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{devtools_port}/json/list") as resp:
            pages = [t for t in await resp.json() if t["type"] == "page"]
        async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            cdp = DevTools(ws)
            await cdp.call("Page.enable")
            await cdp.call("Page.addScriptToEvaluateOnNewDocument", source=RECORD_TERMINAL)
            await cdp.call("Page.navigate", url=url)
            deadline = time.monotonic() + timeout
            text = ""
            while time.monotonic() < deadline:
                state = await cdp.evaluate(
                    "JSON.stringify({text: window.__terminalText || '', "
                    "shown: document.body && document.body.classList.contains('-first-byte'), "
                    "closed: document.body && document.body.classList.contains('-closed')})"
                )
                state = json.loads(state or "{}")
                text = ANSI.sub("", state.get("text", ""))
                assert not state.get("closed"), f"the app session ended in the browser:\n{text[-2000:]}"
                if state.get("shown") and all(m in text for m in WELCOME_MARKERS):
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"the Welcome screen did not render within {timeout}s:\n{text[-2000:]}")
            # The terminal paints on the next animation frames; wait for two before the picture.
            await cdp.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            png = base64.b64decode((await cdp.call("Page.captureScreenshot", format="png"))["data"])
            shot.write_bytes(png)
            return text


def test_serve_renders_welcome_in_headless_chromium(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    # The first-run check is its own test; here the Welcome screen must be what shows.
    (home / "config" / "settings.toml").write_text("first_run_done = true\n")
    env = {**os.environ, "TUNEUI_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "tuneui", "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )
    browser = None
    try:
        # The printed URL carries the per-start access token (tuneui.commands.serve_guard).
        printed = wait_until(lambda: server.poll() is not None or re.search(
            r"open (http://\S+) in a browser", (tmp_path / "serve.log").read_text()), 30, "the printed URL")
        assert server.poll() is None, (tmp_path / "serve.log").read_text()
        url = printed.group(1)
        assert url.startswith(f"http://127.0.0.1:{port}/?token=")
        wait_until(lambda: server.poll() is not None or http_ok(url), 30, "tuneui serve to answer")
        assert server.poll() is None, (tmp_path / "serve.log").read_text()
        profile = tmp_path / "chromium-profile"
        browser = subprocess.Popen(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        active = profile / "DevToolsActivePort"
        wait_until(lambda: active.exists() and active.read_text().strip(), 30, "chromium's DevTools port")
        devtools_port = int(active.read_text().split()[0])
        shot = tmp_path / "welcome.png"
        text = asyncio.run(drive_browser(devtools_port, url, shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "Traceback" not in text
    finally:
        if browser is not None:
            stop(browser)
        stop(server)
        log.close()
    assert "open http://127.0.0.1:" in (tmp_path / "serve.log").read_text()


def test_serve_refuses_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "tuneui", "serve", "--port", str(port)],
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
