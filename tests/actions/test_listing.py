"""The cache listing reads df with the collectors' parser: a wrapped device line still gives
the free space; output it cannot read leaves the free space unknown instead of failing."""

from __future__ import annotations

from typing import Any

import pytest

from actions.listing import listing_steps, read_listing
from actions.plan import ExecStep
from collectors.execs import ExecOutcome

MANIFEST = '{"entries": [{"path": "v1/model.bin", "size": 10, "last_used": 1}]}'
HEAD = "Filesystem 1-blocks Used Available Capacity Mounted on\n"


class FakeKube:
    """Answers ``cat`` with a manifest and ``df`` with what the test says."""

    def __init__(self, df: ExecOutcome) -> None:
        self.df = df
        self.ran: list[tuple[str, ...]] = []

    def exec(self, step: ExecStep, **_kwargs: Any) -> ExecOutcome:
        self.ran.append(step.argv)
        return ExecOutcome(0, MANIFEST, "") if step.argv[0] == "cat" else self.df


def _read(df: ExecOutcome) -> tuple[int | None, int | None]:
    kube: Any = FakeKube(df)
    steps = listing_steps("asr-1", "smallest", None, "/app/models")
    facts = read_listing(kube, steps, "/app/models", timeout=5.0)
    assert [argv[0] for argv in kube.ran] == ["cat", "df"]
    assert len(facts.entries) == 1
    return facts.available_bytes, facts.capacity_bytes


def test_free_space_and_size() -> None:
    out = HEAD + "/dev/sdb1 1073741824 2097152 1071644672 1% /app/models\n"
    assert _read(ExecOutcome(0, out, "")) == (1071644672, 1073741824)


def test_a_wrapped_device_line() -> None:
    out = HEAD + "fs-0123.efs.us-east-1.amazonaws.com:/\n 9000 1000 8000 12% /app/models\n"
    assert _read(ExecOutcome(0, out, "")) == (8000, 9000)


@pytest.mark.parametrize(
    "df",
    [
        ExecOutcome(0, HEAD + "/dev/sdb1 1.0G 2.0M 1022M 1% /app/models\n", ""),
        ExecOutcome(0, "", ""),
        ExecOutcome(0, HEAD + "/dev/sdb1 12 34\n", ""),
        ExecOutcome(1, "", "df: /app/models: Transport endpoint is not connected\n"),
    ],
    ids=["human sizes", "nothing", "too few numbers", "df failed"],
)
def test_unreadable_df_leaves_the_free_space_unknown(df: ExecOutcome) -> None:
    assert _read(df) == (None, None)
