"""The actions' reader of the downloader's JSON lines (pre-warm Jobs, verify): every
well-formed event becomes one status line, anything else is skipped without a crash."""

from __future__ import annotations

import json

import pytest

from actions.progresslines import last_event, parse_line


def line(**fields: object) -> str:
    return json.dumps({"v": 1, "ts": "2026-11-27T10:32:10.340Z", "file": "model.bin", **fields})


def test_progress_and_done_become_status_lines() -> None:
    event = parse_line(line(event="progress", done=512, total=1024, rate=2048.0))
    assert event is not None
    assert event.summary() == "downloading model.bin 50% 512 B/1.0 KiB 2.0 KiB/s"
    log = "\n".join([line(event="start", resumed_from=0), line(event="done", cached=True)])
    last = last_event(log + "\nnot json\n")
    assert last is not None and last.summary() == "done model.bin (already cached)"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "INFO: Downloading model from URL...",
        '{"v": 1, "event": "progress", "done": ',  # torn
        '{"v": 2, "event": "progress"}',  # another version of the contract
        '{"v": 1, "event": 7}',
        '["v", 1]',
        '{"v": 1, "event": ' + "[" * 8000 + "]" * 8000 + "}",  # too deep for json
    ],
)
def test_anything_else_is_skipped(text: str) -> None:
    assert parse_line(text) is None
    assert last_event(text) is None
