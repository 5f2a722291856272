"""Fixtures shared by every test folder.

chDB opens exactly one data directory per process, for the life of the process: every
in-process engine test uses the one directory from `chdb_dir` (with its own database where it
needs isolation). Tests that need a whole driftline run it as a subprocess (see `serve.py`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

_CHDB_DIR_ENV = "DRIFTLINE_TEST_CHDB_DIR"


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The single embedded-engine directory of this test process."""
    existing = os.environ.get(_CHDB_DIR_ENV)
    if existing:
        yield Path(existing)
        return
    path = tmp_path_factory.mktemp("chdb")
    os.environ[_CHDB_DIR_ENV] = str(path)
    yield path


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A real headless Chromium (Debian's, driven by Playwright): see tests/browser.py.

    Module-scoped: Playwright's sync API keeps an asyncio loop running in this thread while
    the browser is open, and `asyncio.run` in any later test would refuse to start."""
    from tests.browser import launch

    with launch() as chromium:
        yield chromium
