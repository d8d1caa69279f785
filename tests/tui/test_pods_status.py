"""The pods table's STATUS says what ``kubectl get pods`` says, not the phase."""

from __future__ import annotations

import dataclasses

from collectors.model import ModelState
from tests.polling import pilot_until
from tests.tui.conftest import make_app
from tests.tui.fakes import FakeFeed, pod, sample_snapshot
from tui.screens.detail import summary_text
from tui.widgets.pods import PodsTable, matches, ready_text

LOOPING = "lightning-asr-7d9f8c6b5-loop1"
INIT = "lightning-asr-7d9f8c6b5-init1"


def _pods():
    looping = dataclasses.replace(
        pod(LOOPING, ModelState.FAILED, restarts=5), kubectl_status="CrashLoopBackOff"
    )
    fetching = dataclasses.replace(
        pod(INIT, ModelState.DOWNLOADING, phase="Pending"), kubectl_status="Init:0/1"
    )
    return looping, fetching


async def test_a_crash_loop_and_an_init_download_in_kubectls_words() -> None:
    app = make_app(FakeFeed(sample_snapshot(pods=_pods())))
    async with app.run_test(size=(200, 30)) as pilot:
        table = app.screen.query_one(PodsTable)
        await pilot_until(pilot, lambda: table.row_count == 2)
        assert table.get_cell(LOOPING, "status").plain == "CrashLoopBackOff 0/1"
        assert table.get_cell(INIT, "status").plain == "Init:0/1 0/1"


def test_the_filter_finds_kubectls_word() -> None:
    looping, fetching = _pods()
    assert matches(looping, "crashloop") and not matches(fetching, "crashloop")
    assert matches(fetching, "init:")


def test_the_count_gives_way_before_the_word_and_the_phase_is_the_fallback() -> None:
    looping, fetching = _pods()
    assert ready_text(looping, 16) == "CrashLoopBackOff"
    assert ready_text(fetching, 11) == "Init:0/1"  # "Init:0/1 0/1" is 12
    assert ready_text(fetching, 12) == "Init:0/1 0/1"
    bare = pod("lightning-asr-x", ModelState.READY, ready=True)
    assert ready_text(bare) == "Running 1/1"  # not read from the API: its phase


def test_the_detail_says_it_too() -> None:
    looping, _ = _pods()
    assert "   CrashLoopBackOff  restarts 5" in summary_text(looping, LOOPING, 0.0).plain
