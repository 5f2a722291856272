"""The console's HTML: one shell per page (nav, a <main>, the page's script), and the login
form. Pages draw themselves from /api answers (static/*.js); all state is in the query string,
so a URL is a shareable view. No framework, no build step: plain modules and uPlot.
"""

from __future__ import annotations

from html import escape
from typing import Final

PAGES: Final = {
    "models": "Models",
    "model": "Model",
    "traces": "Traces & logs",
    "runs": "Runs",
}
_NAV: Final = ("models", "traces", "runs")


def _shell(title: str, body: str, scripts: str = "") -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · driftline</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/vendor/uplot/uPlot.min.css">
<link rel="stylesheet" href="/static/console.css">
</head><body>
{body}
{scripts}
</body></html>
"""


def render(name: str) -> str:
    links = "".join(
        f'<a href="/{page}" class="{"active" if page == name else ""}">{PAGES[page]}</a>'
        for page in _NAV
    )
    body = f"""<header><a class="brand" href="/models">driftline</a><nav>{links}</nav>
<form method="post" action="/logout" class="logout"><button>log out</button></form></header>
<main id="app" data-page="{escape(name)}"><p class="muted">loading…</p></main>"""
    scripts = """<script src="/static/vendor/uplot/uPlot.iife.min.js"></script>
<script src="/static/common.js"></script>
<script src="/static/{name}.js"></script>""".replace("{name}", name)
    return _shell(PAGES[name], body, scripts)


def login(next_path: str, *, failed: bool) -> str:
    error = '<p class="error">That token is not the query token.</p>' if failed else ""
    body = f"""<main class="login"><h1>driftline</h1>
<p>This console uses the query API's token (<code>DRIFTLINE_QUERY_TOKEN</code>).</p>
{error}
<form method="post" action="/login">
<input type="hidden" name="next" value="{escape(next_path)}">
<label>Token <input type="password" name="token" autofocus required></label>
<button type="submit">Log in</button>
</form></main>"""
    return _shell("Log in", body)
