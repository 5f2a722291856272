"""`driftline label --file labels.csv|.parquet [MODEL] [--class]`: ground truth in bulk.

Columns: `inference_id`, `label` (or `value`), `model` (or MODEL for every row), optional
`time` (ISO 8601 or Unix nanoseconds). Every row is checked before anything is sent (a bad row:
exit 2, nothing sent); then RecordLabels in batches of 10,000 through driftline.client.
Exit codes as `sql`: 0 ok, 1 the server refused, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from driftline.cli.client import Connection
from driftline.client import Client, LabelError, QueryError, read_label_file
from driftline.client.labels import label_messages


def record_file(args: argparse.Namespace) -> int:
    if args.inference_id is not None or args.value is not None:
        print("error: give --file or MODEL INFERENCE_ID VALUE, not both", file=sys.stderr)
        return 2
    try:
        rows = read_label_file(args.file)
        label_messages(rows, model=args.model, class_labels=args.text or None)  # check all first
    except (LabelError, OSError) as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 2
    connection = Connection.from_args(args)
    try:
        with Client(
            connection.endpoint, connection.token, tls_ca=connection.tls_ca_file or None,
            timeout=connection.deadline_s or 300.0,
        ) as client:  # fmt: skip
            accepted = client.record_labels(rows, model=args.model, class_labels=args.text or None)
    except QueryError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        print(json.dumps({"file": str(args.file), "accepted": accepted}))
    else:
        print(f"{accepted} label(s) accepted")
    return 0
