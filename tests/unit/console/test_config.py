"""`console` in the configuration: default loopback endpoint, the --console flag, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.cli.main import build_parser, config_from_args
from driftline.config.load import load_config
from driftline.errors import ConfigError


def test_the_console_defaults_to_loopback_4320() -> None:
    cfg = load_config(environ={})
    assert cfg.console.enabled and cfg.console.endpoint == "127.0.0.1:4320"


def test_the_flag_and_the_file_set_the_endpoint(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("console:\n  endpoint: 0.0.0.0:8080\n  enabled: false\n")
    cfg = load_config(config, environ={})
    assert cfg.console.endpoint == "0.0.0.0:8080" and not cfg.console.enabled
    args = build_parser().parse_args(["serve", "--config", str(config), "--console", "[::1]:0"])
    assert config_from_args(args).console.endpoint == "[::1]:0"


def test_a_bad_endpoint_names_its_key(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("console:\n  endpoint: nowhere\n")
    with pytest.raises(ConfigError, match=r"console\.endpoint: expected HOST:PORT"):
        load_config(config, environ={})
