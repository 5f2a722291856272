"""`driftline query quality` and `driftline query multivariate`.

    driftline query quality --model fraud [--since 1h] [--reference-since 25h ...]
                            [--thresholds reference|fixed] [--threshold missing_share=0.1 ...]
                            [--range-quantile 0.01] [--window 10m] [--html quality.html]
    driftline query multivariate --model fraud [--since 1h] [--window 10m] [--max-rows 100000]
                                 [--seed 16] [--no-classifier]

The window flags are the drift command's. `--json` prints the response with every field
(false, zero and empty included) and numbers as numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from driftline.api._gen.driftline.v1 import quality_pb2, quality_pb2_grpc, query_pb2
from driftline.cli.client import Connection
from driftline.cli.query import text_table, when_text, window_flags, window_specs
from driftline.cli.sql import code_name, error_details
from driftline.config.load import parse_duration
from driftline.report.quality_html import render_quality_report

_INT64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
}


def json_text(message: Message) -> str:
    """Every field (proto3 JSON leaves out zeros and false), 64-bit integers as numbers."""
    document = MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return json.dumps(_numbers(message, document), ensure_ascii=False, indent=2)


def _numbers(message: Message, document: dict[str, Any]) -> dict[str, Any]:
    for field in message.DESCRIPTOR.fields:
        name = field.name
        if name not in document:
            continue
        value = getattr(message, name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is not None:
                document[name] = {k: _numbers(value[k], document[name][k]) for k in value}
            elif value_field.type in _INT64:
                document[name] = {k: int(v) for k, v in document[name].items()}
        elif field.message_type is not None:
            if field.is_repeated:
                document[name] = [
                    _numbers(m, d) for m, d in zip(value, document[name], strict=True)
                ]
            else:
                document[name] = _numbers(value, document[name])
        elif field.type in _INT64:
            repeated = field.is_repeated
            document[name] = [int(v) for v in document[name]] if repeated else int(document[name])
    return document


def _call(args: argparse.Namespace, method: str, request: Message) -> Any:
    connection = Connection.from_args(args)
    channel = connection.channel()
    try:
        stub = quality_pb2_grpc.QualityServiceStub(channel)  # type: ignore[no-untyped-call]
        return getattr(stub, method)(
            request, timeout=connection.deadline_s, metadata=connection.metadata
        )
    finally:
        channel.close()


def _windows(
    args: argparse.Namespace,
) -> tuple[query_pb2.DriftWindowSpec, query_pb2.DriftWindowSpec]:
    return window_specs(args, time.time_ns())


def _thresholds(pairs: list[str]) -> dict[str, float]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--threshold expects CHECK=NUMBER, got {pair!r}") from None
        if not sep:
            raise ValueError(f"--threshold expects CHECK=NUMBER, got {pair!r}")
    return out


def quality_request(args: argparse.Namespace) -> quality_pb2.GetDataQualityRequest:
    reference, current = _windows(args)
    return quality_pb2.GetDataQualityRequest(
        model=args.model, reference=reference, current=current,
        features=[f for f in (args.features or "").split(",") if f],
        window_seconds=int(parse_duration(args.window)) if args.window else 0,
        threshold_mode=args.thresholds or "", thresholds=_thresholds(args.threshold),
        reference_chunks=args.reference_chunks, range_quantile=args.range_quantile,
    )  # fmt: skip


def _pct(check: quality_pb2.QualityCheck) -> str:
    if not check.has_value:
        return "-"
    mark = " !" if check.alert else ""
    if check.name == "became_constant":
        return ("yes" if check.value else "no") + mark
    return f"{check.value:.2%}{mark}"


def _bounds(check: quality_pb2.QualityCheck) -> str:
    lo = f"{check.lower:.2%}" if check.has_lower else ""
    hi = f"{check.upper:.2%}" if check.has_upper else ""
    return f"[{lo}, {hi}]" if lo else f"≤ {hi}" if hi else "-"


def print_quality(r: quality_pb2.GetDataQualityResponse) -> None:
    if r.no_data:
        print(f"{r.model}: no data in the current window (no inferences)")
        return
    for w in r.windows:
        head = f"{when_text(w.start_unix_nano)} … {when_text(w.end_unix_nano)}"
        if not w.inferences:
            print(f"{head}: no data")
            continue
        verdict = "QUALITY ISSUES" if w.flagged else "no quality issues"
        print(
            f"{head}: {verdict} ({len(w.flagged_features)}/{len(w.features)} features flagged, "
            f"{w.inferences} inferences, duplicate ids {_pct(w.duplicates)})"
        )
        rows = []
        for f in sorted(w.features, key=lambda f: (not f.flagged, f.feature)):
            checks = {c.name: c for c in f.checks}
            value_check = checks.get("unseen_share") or checks.get("out_of_range_share")
            values = (
                f"{value_check.name.removesuffix('_share')} {_pct(value_check)}"
                if value_check
                else "-"
            )
            rows.append([
                f.feature, f.kind, _pct(checks["missing_share"]),
                _bounds(checks["missing_share"]), _pct(checks["type_mismatch_share"]),
                values,
                _pct(checks["became_constant"]), "FLAGGED" if f.flagged else "ok",
            ])  # fmt: skip
        print(text_table(
            ["feature", "kind", "missing", "missing_bounds", "mismatch", "values", "constant",
             "verdict"], rows,
        ))  # fmt: skip
        new = [f"{f.feature}: {', '.join(c.category for c in f.new_categories)}"
               for f in w.features if f.new_categories]  # fmt: skip
        if new:
            print("new categories — " + "; ".join(new))
        print()


def multivariate_request(args: argparse.Namespace) -> quality_pb2.GetMultivariateDriftRequest:
    reference, current = _windows(args)
    return quality_pb2.GetMultivariateDriftRequest(
        model=args.model, reference=reference, current=current,
        features=[f for f in (args.features or "").split(",") if f],
        window_seconds=int(parse_duration(args.window)) if args.window else 0,
        reference_chunks=args.reference_chunks, max_rows=args.max_rows, seed=args.seed,
        skip_classifier=args.no_classifier,
    )  # fmt: skip


def print_multivariate(r: quality_pb2.GetMultivariateDriftResponse) -> None:
    if r.no_data:
        print(f"{r.model}: no data in the current window (no inferences)")
        return
    features = len(r.numerical_features) + len(r.categorical_features)
    verdict = "MULTIVARIATE DRIFT" if r.drifted else "no multivariate drift"
    print(
        f"{r.model}: {verdict} — {features} features, {r.components} principal components "
        f"keep 65% of the variance; reference {r.reference_rows} sampled inferences, "
        f"error thresholds [{r.lower_threshold:.4g}, {r.upper_threshold:.4g}]"
    )
    print(text_table(
        ["window", "rows", "reconstruction_error", "alert", "classifier_auroc", "alert"],
        [[f"{when_text(w.start_unix_nano)} … {when_text(w.end_unix_nano)}", w.rows,
          w.reconstruction_error, w.alert, w.classifier_auroc if w.has_classifier else "-",
          w.classifier_alert] for w in r.windows],
    ))  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    try:
        if args.what == "quality":
            response: Message = _call(args, "GetDataQuality", quality_request(args))
        else:
            response = _call(args, "GetMultivariateDrift", multivariate_request(args))
    except grpc.RpcError as exc:
        print(f"error: {code_name(exc)}: {error_details(exc)}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "html", None) and isinstance(response, quality_pb2.GetDataQualityResponse):
        with open(args.html, "w", encoding="utf-8") as out:
            out.write(render_quality_report(response))
        print(f"wrote {args.html}", file=sys.stderr)
    if args.json:
        print(json_text(response))
    elif isinstance(response, quality_pb2.GetDataQualityResponse):
        print_quality(response)
    else:
        assert isinstance(response, quality_pb2.GetMultivariateDriftResponse)
        print_multivariate(response)
    return 0


def add_parsers(what: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`quality` and `multivariate` under `driftline query`, with drift's window flags."""
    quality = what.add_parser("quality", help="data quality per feature (missing, unseen, …)")
    window_flags(quality)
    quality.add_argument(
        "--thresholds", choices=["reference", "fixed"], default="reference",
        help="reference: learned from reference chunks (NannyML); fixed: fixed upper bounds",
    )  # fmt: skip
    quality.add_argument(
        "--threshold", action="append", default=[], metavar="CHECK=VALUE",
        help="fixed upper bound for a check, e.g. missing_share=0.1 (repeatable)",
    )  # fmt: skip
    quality.add_argument(
        "--range-quantile", type=float, default=0.0, choices=[0.0, 0.01, 0.05],
        help="out of range means outside the reference's [q, 1-q] quantiles (default: min/max)",
    )  # fmt: skip
    quality.add_argument("--html", metavar="FILE", help="also write an HTML report with plots")
    quality.add_argument("--json", action="store_true")
    quality.set_defaults(func=_run)

    multi = what.add_parser("multivariate", help="PCA reconstruction error, domain classifier")
    window_flags(multi)
    multi.add_argument("--max-rows", type=int, default=100_000, help="sample per side")
    multi.add_argument("--seed", type=int, default=16)
    multi.add_argument("--no-classifier", action="store_true", help="skip the domain classifier")
    multi.add_argument("--json", action="store_true")
    multi.set_defaults(func=_run)
