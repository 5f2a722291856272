"""YAML + environment + flags → `DriftlineConfig`.

Precedence, lowest first: defaults, the YAML file, environment variables
(`DRIFTLINE_INGEST_TOKEN`, `DRIFTLINE_QUERY_TOKEN`), command-line flags. `${env:NAME}` inside a
YAML string is replaced by that variable, as in the Collector. A field whose name ends in `_s`
is written in YAML without the suffix and takes a duration (`250ms`, `5s`, `72h`, or a number of
seconds). Unknown keys and wrong types are errors that name the key path; all are reported at once.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

from driftline.config.duration import parse_config_duration
from driftline.config.duration import parse_duration as parse_duration  # re-exported
from driftline.config.model import DriftlineConfig
from driftline.errors import ConfigError

T = TypeVar("T")

_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")

ENV_INGEST_TOKEN = "DRIFTLINE_INGEST_TOKEN"
ENV_QUERY_TOKEN = "DRIFTLINE_QUERY_TOKEN"


def yaml_key(field_name: str) -> str:
    return field_name[:-2] if field_name.endswith("_s") else field_name


def _expand_env(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: env.get(m.group(1), ""), value)
    if isinstance(value, dict):
        return {k: _expand_env(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, env) for v in value]
    return value


def _convert(tp: Any, value: Any, path: str, problems: list[str], duration: bool) -> Any:
    if dataclasses.is_dataclass(tp):
        return build(tp, value, path, problems)  # type: ignore[arg-type]
    if duration:
        try:
            return parse_config_duration(value)
        except ValueError as e:
            problems.append(f"{path}: {e}")
            return None
    if get_origin(tp) is Literal:
        if value not in get_args(tp):
            problems.append(f"{path}: {choice_problem(get_args(tp), value)}")
            return None  # the default stands in, so validate() can still check the rest
        return value
    if tp is bool:
        if not isinstance(value, bool):
            problems.append(f"{path}: expected true or false, got {value!r}")
            return None
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{path}: expected an integer, got {value!r}")
            return None
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{path}: expected a number, got {value!r}")
            return None
        return float(value)
    if tp is str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            problems.append(f"{path}: expected a string, got {value!r}")
            return None
        return str(value)
    if get_origin(tp) is tuple and get_args(tp)[-1] is Ellipsis:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return None
        item = get_args(tp)[0]
        return tuple(
            _convert(item, v, f"{path}[{i}]", problems, duration=False) for i, v in enumerate(value)
        )
    if isinstance(tp, types.UnionType):
        return value
    return value


def choice_problem(choices: tuple[Any, ...], value: Any) -> str:
    """`must be one of always, interval, never, got 'sometimes'` (the empty "not given" choice
    left out), with the closest choice when one is close."""
    named = [str(c) for c in choices if c != ""]
    close = difflib.get_close_matches(str(value), named, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"must be one of {', '.join(named)}, got {value!r}{hint}"


def build(cls: type[T], data: Any, path: str, problems: list[str]) -> T:
    """Build dataclass `cls` from a mapping, collecting problems instead of raising."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        problems.append(f"{path or '<root>'}: expected a mapping, got {type(data).__name__}")
        return cls()
    hints = get_type_hints(cls)
    by_key = {yaml_key(f.name): f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else str(key)
        field = by_key.get(str(key))
        if field is None:
            known = ", ".join(sorted(by_key))
            problems.append(f"{key_path}: unknown key (known keys here: {known})")
            continue
        converted = _convert(
            hints[field.name], value, key_path, problems, duration=field.name.endswith("_s")
        )
        if converted is not None:
            kwargs[field.name] = converted
    try:
        return cls(**kwargs)
    except TypeError as e:  # a wrong type slipped through; it is already in problems
        problems.append(f"{path or '<root>'}: {e}")
        return cls()


def _key_of(problem: str) -> str:
    return problem.partition(": ")[0]


def _validated(cfg: DriftlineConfig) -> list[str]:
    try:
        return cfg.validate()
    except (TypeError, ValueError, AttributeError):  # a part built from defaults cannot tell
        return []


def replace_path(cfg: T, dotted: str, value: Any) -> T:
    """Return a copy of `cfg` with the field at `dotted` (Python field names) set to `value`."""
    head, _, rest = dotted.partition(".")
    if not rest:
        return dataclasses.replace(cfg, **{head: value})  # type: ignore[type-var]
    return dataclasses.replace(  # type: ignore[type-var]
        cfg, **{head: replace_path(getattr(cfg, head), rest, value)}
    )


def load_config(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> DriftlineConfig:
    """Load, apply environment and flag overrides (dotted paths), validate. Raises ConfigError."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    data: Any = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as e:
            raise ConfigError([f"{path}: cannot read: {e.strerror}"]) from e
        except yaml.YAMLError as e:
            raise ConfigError([f"{path}: not valid YAML: {e}"]) from e
        data = _expand_env(data, env)
    cfg = build(DriftlineConfig, data, "", problems)
    # What could not be built took its default; validate the rest now, so that every problem
    # is listed in one run (not one batch per fix). A key already reported is not reported
    # twice.
    reported = {_key_of(p) for p in problems}
    problems += [p for p in _validated(cfg) if _key_of(p) not in reported]
    if problems:
        raise ConfigError(problems)
    if env.get(ENV_INGEST_TOKEN):
        cfg = replace_path(cfg, "receivers.otlp.auth_token", env[ENV_INGEST_TOKEN])
    if env.get(ENV_QUERY_TOKEN):
        cfg = replace_path(cfg, "query.auth_token", env[ENV_QUERY_TOKEN])
    for dotted, value in (overrides or {}).items():
        if value is not None:
            cfg = replace_path(cfg, dotted, value)
    problems = cfg.validate()
    if problems:
        raise ConfigError(problems)
    return cfg
