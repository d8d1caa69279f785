"""Sentences built around the cluster's own words end with one full stop, never two."""

from __future__ import annotations

import pytest

from actions.words import sentence, unstopped


@pytest.mark.parametrize(
    ("text", "said", "inside"),
    [
        ("no node fits", "No node fits.", "no node fits"),
        (
            "not helpful for scheduling.",
            "Not helpful for scheduling.",
            "not helpful for scheduling",
        ),
        ("exceeds the limit.  ", "Exceeds the limit.", "exceeds the limit"),
        (
            "Downloading model from URL...",
            "Downloading model from URL...",
            "Downloading model from URL...",
        ),
        ("is it?", "Is it?", "is it?"),
    ],
)
def test_a_quoted_full_stop_is_never_doubled(text: str, said: str, inside: str) -> None:
    assert sentence(text) == said
    assert unstopped(text) == inside
