"""The downloader starts in every pod and Job: what it imports is start-up time (see the
note on httpx's command-line client at the top of http_source.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest


@pytest.mark.skipif(
    importlib.util.find_spec("click") is None, reason="httpx imports its CLI only with click"
)
def test_httpx_command_line_client_is_not_imported() -> None:
    probe = (
        "import sys, actions.downloader.cli, actions.downloader.runner, "
        "actions.downloader.http_source; "
        "print([m for m in ('click', 'rich', 'pygments', 'httpx._main') if sys.modules.get(m)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
