"""`tuneui serve` lets only the tab that opened its printed URL drive the app: a request without the
per-start token, or a websocket from another origin, is refused with 403 (a real server, real HTTP)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("textual_serve")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    home = tmp / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.toml").write_text("first_run_done = true\n")
    log_path = tmp / "serve.log"
    log = log_path.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "tuneui", "serve", "--port", "0"], stdout=log,
                            stderr=subprocess.STDOUT, cwd=tmp,
                            env={**os.environ, "TUNEUI_HOME": str(home), "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 60
        url = None
        while time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"open (http://\S+) in a browser", log_path.read_text())
            if found:
                url = found.group(1)
                break
            time.sleep(0.1)
        assert url, log_path.read_text()
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _parts(url: str) -> tuple[str, str]:
    base, token = url.split("/?token=")
    return base, token


async def _status(url: str, **headers) -> int:
    async with aiohttp.ClientSession() as http:
        for _ in range(100):  # the server prints its URL just before it starts listening
            try:
                async with http.get(url, headers=headers) as resp:
                    return resp.status
            except aiohttp.ClientConnectorError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered")


async def _ws_status(url: str, origin: str | None) -> int:
    headers = {"Origin": origin} if origin else {}
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(url, headers=headers) as ws:
                await ws.close()
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


def test_printed_url_carries_a_fresh_token_and_pages_need_it(served):
    base, token = _parts(served)
    assert len(token) >= 40 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert asyncio.run(_status(served)) == 200
    assert asyncio.run(_status(base + "/")) == 403
    assert asyncio.run(_status(base + "/?token=" + token[:-1] + "x")) == 403
    assert asyncio.run(_status(base + "/static/css/xterm.css")) == 200  # public assets only


def test_cross_origin_websocket_is_refused(served):
    base, token = _parts(served)
    ws = base.replace("http://", "ws://") + "/ws/" + token
    assert asyncio.run(_ws_status(ws, "http://evil.example")) == 403
    assert asyncio.run(_ws_status(ws, "http://127.0.0.1.evil.example:80")) == 403
    assert asyncio.run(_ws_status(base.replace("http://", "ws://") + "/ws", base)) == 403  # no token
    assert asyncio.run(_ws_status(ws, base)) == 101  # the page's own origin, with the token


def test_serve_help_and_docs_say_how_access_works():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "token" in readme and "Origin" in readme
