"""Alert rules over driftline's own answers (drift share, a feature's score, p99, burn rate).

rules.py    what a rule is: the measured quantity, its threshold, `for` and resolve
state.py    the pure state machine per rule: inactive → pending → firing → resolved
events.py   transitions as OTLP log events (into the WAL, so they are stored and forwarded)
webhook.py  transitions POSTed as JSON, with retries
engine.py   ties them together on an interval, given a function that measures a rule
"""
