"""The volumes and jobs panels: the pods of a shared volume, a CronJob's name and schedule and
the usage numbers stay readable, wide and narrow (review findings 2 and 3)."""

from __future__ import annotations

import dataclasses

import pytest

from collectors.model import ClusterSnapshot, JobInfo
from tests.tui.conftest import make_app
from tests.tui.fakes import FakeFeed, sample_snapshot, sample_volumes
from tests.tui.screen import screen_text

SHARED = ("2schj", "69gwx", "blhsx", "k7q2p")


def snapshot() -> ClusterSnapshot:
    efs, empty = sample_volumes()
    efs = dataclasses.replace(efs, pods=tuple(f"lightning-asr-5c4857475b-{s}" for s in SHARED))
    jobs = (
        JobInfo("model-preload", "Job", "Complete", succeeded=1),
        JobInfo("model-preload", "CronJob", "Scheduled", schedule="0 */6 * * *", succeeded=3),
    )
    return sample_snapshot(volumes=(efs, empty), jobs=jobs)


def line_with(text: str, needle: str) -> str:
    (line,) = [ln for ln in text.splitlines() if needle in ln]
    return line


@pytest.mark.parametrize("size", [(150, 42), (160, 40)])
async def test_wide_panels_show_every_pod_of_a_volume_and_whole_job_names(
    size: tuple[int, int],
) -> None:
    app = make_app(FakeFeed(snapshot()))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        assert "4: " + ", ".join(SHARED) in line_with(text, "models-aws-efs-pvc  ")
        assert "model-preload (cronjob)" in text and "0 */6 * * *" in text, text


@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
async def test_narrow_volumes_keep_usage_numbers_and_the_pods(size: tuple[int, int]) -> None:
    app = make_app(FakeFeed(snapshot()))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        row = line_with(text, "models-aws-efs-pvc  ")
        assert "73% 36.5/50.0 GB" in row, row
        assert "4: 2schj" in row and "+" in row, row  # the count, the first pods, how many more
        if size[0] >= 100:  # (at 80 columns the jobs panel is 25 wide)
            # A CronJob and a Job of one name stay told apart, and named.
            jobs = [ln for ln in text.splitlines() if "model-p" in ln]
            assert any("(cron" in ln for ln in jobs), jobs
            assert any("(job)" in ln for ln in jobs), jobs
