"""The web console (`driftline serve`, default 127.0.0.1:4320): pages over the query API.

server.py (HTTP, auth, static), answers.py (the JSON API, through driftline.client),
pages.py (HTML shells), static/ (CSS, page scripts, vendored uPlot).
"""
