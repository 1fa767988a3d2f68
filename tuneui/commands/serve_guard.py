"""Who may drive `tuneui serve`: the browser tab that opened the URL it printed, and nobody else.

The app behind the websocket can train, export and read files, so two checks guard it, the ones
Jupyter uses:

- a random token, new at every start, in the URL tuneui prints (`/?token=...`). Opening that URL
  sets a same-site cookie holding it, and the page's websocket URL carries it too; any other request
  without it gets 403. Another user of the machine, or a page that merely guesses the port, has no
  token.
- the Origin header of every request that has one (browsers always send it on websockets) must be
  this server's own origin. A web page on another site that the user happens to open cannot open
  the websocket, even if it learned the port (cross-site WebSocket hijacking, DNS rebinding).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(public_url: str, host: str, port: int, loopback: bool) -> frozenset[str]:
    """The page's own origin: the public URL's, the bound address's, and loopback aliases when local."""
    display = f"[{host}]" if ":" in host and not host.startswith("[") else host
    found = {origin_of(public_url), f"http://{display}:{port}".lower()}
    if loopback:
        found |= {f"http://{name}:{port}" for name in LOOPBACK_NAMES}
    return frozenset(found)


class GuardedServer(Server):
    """textual-serve's server with a per-start token and an Origin check on every request."""

    def __init__(self, command: str, *, token: str, origins: frozenset[str], **kwargs: Any):
        super().__init__(command, **kwargs)
        self.token = token
        self.origins = origins
        self.cookie = f"tuneui-token-{self.port}"  # cookies ignore ports: one per server

    def open_url(self) -> str:
        return f"{self.public_url.rstrip('/')}/?token={self.token}"

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.router.add_get("/ws/{token}", self.handle_websocket, name="websocket-token")
        app.middlewares.append(self._guard)
        return app

    def _has_token(self, request: web.Request) -> bool:
        offered = (request.match_info.get("token") or request.query.get("token")
                   or request.cookies.get(self.cookie) or "")
        return hmac.compare_digest(offered.encode(), self.token.encode())

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() not in self.origins:
            return web.Response(status=403, text=f"tuneui: requests from {origin} are refused (cross-origin)\n")
        if request.path.startswith("/static/"):
            return await handler(request)  # the page's scripts and fonts: nothing secret
        if not self._has_token(request):
            return web.Response(status=403, text="tuneui: open the URL `tuneui serve` printed (it carries the "
                                                 "access token)\n")
        response: web.StreamResponse = await handler(request)
        if request.path == "/" and not response.prepared:
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
        return response

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        context: dict[str, Any] = await Server.handle_index.__wrapped__(self, request)  # type: ignore[attr-defined]
        # The page opens the websocket itself; the token in its path lets that through even when the
        # cookie is not sent (the page was opened as localhost, the socket goes to 127.0.0.1).
        context["app_websocket_url"] = f"{context['app_websocket_url']}/{self.token}"
        return context
