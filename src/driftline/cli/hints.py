"""What the CLI adds to an answer so a typo does not cost a user their trust (#11.11).

- An `unknown model` from the server gets the known model names, closest first
  (`did you mean 'fraud'?`), read with ListModels.
- A label whose inference is not stored says so: labels are kept either way (the inference
  may still be on its way through the WAL), but a mistyped model or id shows at once.
"""

from __future__ import annotations

import difflib

import grpc

from driftline.api._gen.driftline.v1 import query_pb2
from driftline.cli.client import QueryClient
from driftline.cli.output import python_value

MAX_NAMES = 10


def known_models(client: QueryClient) -> list[str]:
    response: query_pb2.SqlResponse = client.call("ListModels", query_pb2.ListModelsRequest())
    column = [c.name for c in response.columns].index("model")
    return sorted({str(python_value(row.values[column])) for row in response.rows})


def model_hint(client: QueryClient, model: str) -> str:
    """`did you mean 'fraud'? known models: fraud, spam` (empty when `model` is known)."""
    try:
        names = known_models(client)
    except (grpc.RpcError, ValueError):
        return ""
    if model in names:
        return ""
    if not names:
        return "no model has sent inferences yet"
    close = difflib.get_close_matches(model, names, n=3, cutoff=0.5)
    shown = ", ".join(names[:MAX_NAMES]) + (", …" if len(names) > MAX_NAMES else "")
    guess = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return f"{guess}known models: {shown}"


def unmatched_labels(client: QueryClient, labels: list[query_pb2.Label]) -> list[query_pb2.Label]:
    """The labels whose (model, inference id) no stored inference has."""
    found: set[tuple[str, str]] = set()
    for model in sorted({label.model_name for label in labels}):
        ids = sorted({label.inference_id for label in labels if label.model_name == model})
        response = client.sql(
            "SELECT DISTINCT InferenceId FROM ml_inferences "
            "WHERE ModelName = {model:String} AND InferenceId IN {ids:Array(String)}",
            {"model": model, "ids": "[" + ",".join(_quoted(i) for i in ids) + "]"},
        )
        found |= {(model, str(python_value(row.values[0]))) for row in response.rows}
    return [label for label in labels if (label.model_name, label.inference_id) not in found]


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
