"""`driftline reference save|list`: saved reference profiles for drift questions.

    driftline reference save NAME --model fraud [--since 7d --until 1d] [--version 3]
                             [--features a,b] [--description TEXT] [--json]
    driftline reference list [--model fraud] [--json]

A saved reference is then used with `driftline query drift --model fraud --reference NAME`.
"""

from __future__ import annotations

import argparse
import sys
import time

import grpc

from driftline.api._gen.driftline.v1 import query_pb2
from driftline.cli.client import Connection, QueryClient, add_connection_arguments
from driftline.cli.output import print_message
from driftline.cli.query import rpc_error, text_table, time_range, when_text


def _save(args: argparse.Namespace) -> query_pb2.SavedReference:
    request = query_pb2.SaveReferenceRequest(
        name=args.name,
        model=args.model,
        window=query_pb2.DriftWindowSpec(
            range=time_range(args.since, args.until, time.time_ns()), version=args.version or ""
        ),
        features=[f for f in (args.features or "").split(",") if f],
        description=args.description or "",
    )
    with QueryClient(Connection.from_args(args)) as client:
        response: query_pb2.SavedReference = client.call("SaveReference", request)
    return response


def _list(args: argparse.Namespace) -> query_pb2.ListReferencesResponse:
    with QueryClient(Connection.from_args(args)) as client:
        response: query_pb2.ListReferencesResponse = client.call(
            "ListReferences", query_pb2.ListReferencesRequest(model=args.model or "")
        )
    return response


def _rows(refs: list[query_pb2.SavedReference]) -> str:
    return text_table(
        ["model", "name", "version", "from", "to", "inferences", "features", "saved"],
        [[r.model, r.name, r.version or "*", when_text(r.start_unix_nano),
          when_text(r.end_unix_nano), r.inferences, len(r.features),
          when_text(r.created_unix_nano)] for r in refs],
    )  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    try:
        if args.action == "save":
            saved = _save(args)
            if args.json:
                print_message(saved)
            else:
                print(_rows([saved]))
            return 0
        found = _list(args)
    except grpc.RpcError as exc:
        print(rpc_error(args, exc), file=sys.stderr)
        return 1
    if args.json:
        print_message(found)
    elif found.references:
        print(_rows(list(found.references)))
    else:
        print("no saved references")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ref = sub.add_parser("reference", help="saved reference profiles for drift")
    action = ref.add_subparsers(dest="action", required=True)
    save = action.add_parser("save", help="save a model's reference window under a name")
    save.add_argument("name")
    save.add_argument("--model", required=True)
    save.add_argument("--since", metavar="DURATION", help="window start (default 24h ago)")
    save.add_argument("--until", metavar="DURATION", help="window end (default now)")
    save.add_argument("--version", help="only this model version")
    save.add_argument("--features", help="comma-separated (default: all)")
    save.add_argument("--description")
    save.add_argument("--json", action="store_true")
    add_connection_arguments(save)
    listing = action.add_parser("list", help="saved references")
    listing.add_argument("--model")
    listing.add_argument("--json", action="store_true")
    add_connection_arguments(listing)
    ref.set_defaults(func=_run)
