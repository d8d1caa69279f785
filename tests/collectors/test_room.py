"""A claim too small for the model, even empty: its usage looks calm, so the dashboard's
health and ``status`` must say it from the download's own words about room."""

from __future__ import annotations

from collectors.model import ModelState, PodInfo, VolumeInfo, VolumeUsage
from collectors.report import volume_problems
from collectors.room import needed_and_free
from tests.actions.builders import pod, snapshot

MiB = 2**20
WORDS = (
    "log: no space left for model.bin in /app/models: 8.0 MiB more needed, 4.0 MiB free; the "
    "partial download is kept for a later resume"
)


def _claim(capacity: int) -> VolumeInfo:
    usage = VolumeUsage("kubelet", 4096, capacity, capacity - 4096)
    return VolumeInfo("models-ebs-pvc", "pvc", capacity_bytes=capacity, usage=usage)


def _failed(claim: str = "models-ebs-pvc", state: ModelState = ModelState.FAILED) -> PodInfo:
    return pod("asr-a", state=state, running=False, claim=claim, evidence=(WORDS,))


def test_the_downloaders_words_say_how_much_is_needed_and_free() -> None:
    assert needed_and_free(WORDS) == (8 * MiB, 4 * MiB)
    assert needed_and_free("the download failed after 5 attempts") is None


def test_a_claim_that_cannot_hold_what_the_download_still_needs_is_a_problem() -> None:
    small = _claim(4 * MiB)
    problems = volume_problems(snapshot(_failed(), volumes=(small,)))
    assert [(v.name, p) for v, p in problems] == [
        ("models-ebs-pvc", "too small for the model: 8.0 MiB needed, it holds 4.0 MiB in all")
    ]


def test_room_enough_elastic_volumes_and_other_claims_are_not() -> None:
    roomy = _claim(64 * MiB)  # full, perhaps, but the model fits once it is emptied
    assert not volume_problems(snapshot(_failed(), volumes=(roomy,)))
    efs = VolumeInfo("models-ebs-pvc", "pvc", usage=VolumeUsage("df", 4096, 2**63, 2**63 - 4096))
    assert not volume_problems(snapshot(_failed(), volumes=(efs,)))
    elsewhere = _failed(claim="another-claim")
    assert not volume_problems(snapshot(elsewhere, volumes=(_claim(4 * MiB),)))
    downloading = _failed(state=ModelState.DOWNLOADING)
    assert not volume_problems(snapshot(downloading, volumes=(_claim(4 * MiB),)))
