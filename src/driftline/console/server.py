"""The web console's HTTP server (aiohttp): pages, static assets, the JSON API, login.

    GET  /                       → /models
    GET  /models | /model | /traces | /runs     the pages (pages.py), state in the query string
    GET  /api/<answer>?...       JSON (answers.py), each one driftline.client call or two
    GET  /static/...             CSS, JS and the vendored uPlot (no build step)
    GET  /login, POST /login, POST /logout      when the query API has a token (auth.py)
    GET  /healthz                200

`start_console_server` binds `console.endpoint` (port 0 picks a free port, which it returns)
and talks to the query API at `query_endpoint` with the query token, as any client would;
the blocking client calls run on worker threads.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from driftline.client import Client, QueryError
from driftline.console import pages
from driftline.console.answers import ANSWERS, HTTP_STATUS
from driftline.console.auth import COOKIE, Sessions, host_name, is_loopback_host, safe_next

STATIC: Final = Path(__file__).parent / "static"
log = logging.getLogger(__name__)

_CLIENT: Final = web.AppKey("client", Client)
_SESSIONS: Final = web.AppKey("sessions", Sessions)
_LOOPBACK: Final = web.AppKey("loopback", bool)
_OPEN_PATHS: Final = ("/login", "/healthz", "/static/")


@web.middleware
async def _guard(request: web.Request, handler: Any) -> web.StreamResponse:
    app = request.app
    if app[_LOOPBACK] and not is_loopback_host(host_name(request.host)):
        return web.Response(status=403, text="this console answers loopback host names only\n")
    sessions = app[_SESSIONS]
    path = request.path
    if path.startswith(_OPEN_PATHS) or sessions.allows(
        request.headers.get("Authorization"), request.cookies.get(COOKIE)
    ):
        response: web.StreamResponse = await handler(request)
        return response
    if path.startswith("/api/"):
        return web.json_response({"error": "UNAUTHENTICATED", "message": "log in"}, status=401)
    raise web.HTTPFound(f"/login?next={request.path_qs}")


async def _answer(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    answer = ANSWERS.get(name)
    if answer is None:
        return web.json_response(
            {"error": "NOT_FOUND", "message": f"no answer {name!r}"}, status=404
        )
    params = {k: request.query.get(k, "") for k in request.query}
    multi = {k: request.query.getall(k) for k in request.query}
    client = request.app[_CLIENT]
    try:
        data = await asyncio.to_thread(answer, client, params, multi)
    except QueryError as exc:
        status = HTTP_STATUS.get(exc.code, 502)
        return web.json_response({"error": exc.code, "message": exc.message}, status=status)
    except ValueError as exc:
        return web.json_response({"error": "INVALID_ARGUMENT", "message": str(exc)}, status=400)
    return web.json_response(data, headers={"Cache-Control": "no-store"})


def _page(name: str) -> Any:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(text=pages.render(name), content_type="text/html")

    return handle


async def _login_page(request: web.Request) -> web.Response:
    html = pages.login(safe_next(request.query.get("next", "/")), failed=False)
    return web.Response(text=html, content_type="text/html")


async def _login(request: web.Request) -> web.Response:
    form = await request.post()
    target = safe_next(str(form.get("next", "/")))
    sessions = request.app[_SESSIONS]
    if not sessions.enabled:
        raise web.HTTPFound(target)
    if not sessions.token_matches(str(form.get("token", ""))):
        return web.Response(
            text=pages.login(target, failed=True), content_type="text/html", status=401
        )
    response = web.HTTPFound(target)
    response.set_cookie(COOKIE, sessions.open(), httponly=True, samesite="Strict", path="/")
    raise response


async def _logout(request: web.Request) -> web.Response:
    session = request.cookies.get(COOKIE)
    if session:
        request.app[_SESSIONS].close(session)
    response = web.HTTPFound("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


async def _healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def _root(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/models")


def build_app(client: Client, token: str, *, loopback: bool) -> web.Application:
    app = web.Application(middlewares=[_guard])
    app[_CLIENT] = client
    app[_SESSIONS] = Sessions(token)
    app[_LOOPBACK] = loopback
    app.router.add_get("/", _root)
    for name in pages.PAGES:
        app.router.add_get(f"/{name}", _page(name))
    app.router.add_get("/api/{name}", _answer)
    app.router.add_get("/login", _login_page)
    app.router.add_post("/login", _login)
    app.router.add_post("/logout", _logout)
    app.router.add_get("/healthz", _healthz)
    app.router.add_static("/static/", STATIC, append_version=False)
    return app


def client_endpoint(query_endpoint: str) -> str:
    """Where to reach a query API bound to `query_endpoint` from this host."""
    host, _, port = query_endpoint.rpartition(":")
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host in ("[::]", "::"):
        host = "[::1]"
    return f"{host}:{port}"


async def start_console_server(
    endpoint: str, query_endpoint: str, token: str, *, tls_ca: str = ""
) -> tuple[web.AppRunner, int]:
    """Serve the console on `endpoint` (HOST:PORT); return the runner and the bound port."""
    client = Client(client_endpoint(query_endpoint), token, tls_ca=tls_ca or None, timeout=60.0)
    host, _, port = endpoint.rpartition(":")
    bind_host = host.strip("[]")
    app = build_app(client, token, loopback=is_loopback_host(bind_host))
    app.on_cleanup.append(lambda _app: asyncio.to_thread(client.close))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, bind_host, int(port), reuse_port=False)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise OSError(f"console cannot listen on {endpoint}: {exc.strerror or exc}") from exc
    return runner, int(runner.addresses[0][1])
