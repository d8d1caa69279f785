"""The timeline's model without a screen: a line that comes from the ring and live is kept
once, progress runs fold so they cannot push errors out of the bound, and only events about
our objects are taken, an event dropped for its age staying dropped."""

from __future__ import annotations

import dataclasses

from collectors.model import EventInfo, LogLine
from tests.tui.fakes import NOW, sample_snapshot
from tui.timeline import Timeline, our_events


def line(pod: str, text: str, at: float, kind: str = "plain") -> LogLine:
    return LogLine(pod, "lightning-asr", text, kind, at)


def test_a_line_that_comes_both_ways_is_kept_once_whatever_the_order() -> None:
    ring = [line("a", "one", 1.0), line("a", "two", 2.0), line("a", "two", 2.0)]
    late = [line("a", "two", 2.0), line("a", "two", 2.0), line("a", "three", 3.0)]
    for first, then in ((ring, late), (late, ring)):
        timeline = Timeline()
        timeline.add_lines(first)
        timeline.add_lines(then)
        texts = [e.source.text for e in timeline.entries if isinstance(e.source, LogLine)]
        assert texts == ["one", "two", "two", "three"]  # twice in one read is two lines


def test_progress_runs_fold_and_cannot_push_errors_out() -> None:
    timeline = Timeline(limit=10)
    timeline.add_lines([line("a", "ERROR early", 0.0, "error")])
    timeline.add_lines([line("a", f"{i}%", 1 + i, "progress") for i in range(500)])
    timeline.add_lines([line("a", "WARNING slow", 600.0, "warning")])
    timeline.add_lines([line("a", "99%", 601.0, "progress")])
    texts = [(e.source.text, e.repeats) for e in timeline.entries if isinstance(e.source, LogLine)]
    assert texts == [("ERROR early", 0), ("499%", 499), ("WARNING slow", 0), ("99%", 0)]


def test_events_are_ours_and_one_dropped_for_its_age_stays_dropped() -> None:
    snapshot = sample_snapshot()
    theirs = EventInfo("Pod", "api-server-1", "Warning", "BackOff", "not ours", 1, NOW)
    rs = EventInfo(
        "ReplicaSet", "lightning-asr-v2-5c4b7d9f6", "Warning", "FailedCreate", "", 1, NOW
    )
    claim = EventInfo("PersistentVolumeClaim", "models-aws-efs-pvc", "Normal", "Bound", "", 1, NOW)
    snapshot = dataclasses.replace(snapshot, events=(*snapshot.events, theirs, rs, claim))
    ours = our_events(snapshot)
    assert theirs not in ours and {rs, claim} <= set(ours) and len(ours) == 5
    timeline = Timeline(limit=3)
    timeline.add_lines([line("p", f"l{i}", NOW + i) for i in range(3)])
    assert not timeline.add_events(ours)  # all older than the oldest kept of a full timeline
    assert not timeline.add_events(ours)
    assert timeline.add_events([dataclasses.replace(claim, last_seen=NOW + 5)])  # it recurred
    assert [e.who for e in timeline.entries] == ["p", "p", "pvc/models-aws-efs-pvc"]


def test_lines_read_together_are_placed_when_they_were_written() -> None:
    """A crash loop's earlier runs are read in one go: received in the same second, written
    minutes apart, with an event between them."""
    read_at = NOW + 300
    earlier = LogLine("a", "c", "ERROR run 1: checksum mismatch", "error", read_at, NOW)
    later = LogLine("a", "c", "ERROR run 2: checksum mismatch", "error", read_at, NOW + 200)
    backoff = EventInfo("Pod", "a", "Warning", "BackOff", "restarting", 1, NOW + 100)
    timeline = Timeline()
    timeline.add_lines([later, earlier])
    timeline.add_events([backoff])
    assert [e.source for e in timeline.entries] == [earlier, backoff, later]
    assert [e.at for e in timeline.entries] == [NOW, NOW + 100, NOW + 200]
