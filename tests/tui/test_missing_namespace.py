"""A mistyped namespace is said to be missing, not shown as an empty one: in the
notification of the switch and in the pods panel (a namespace we cannot read says nothing)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from kubernetes.client.exceptions import ApiException

from tests.actions.world import World
from tests.polling import pilot_until
from tests.tui.conftest import SIZE, Recorder, make_app
from tests.tui.fakes import FakeActions, FakeFeed, sample_snapshot
from tests.tui.screen import screen_text
from tests.tui.test_e2e_scenarios import dashboard, until
from tui.screens.prompts import NamespacePrompt
from tui.switching import Connection

MISSING = 'namespace "prod" does not exist'


class Switcher:
    """Connects anywhere; "prod" does not exist."""

    def __init__(self) -> None:
        self.feeds: list[FakeFeed] = []

    def contexts(self) -> Sequence[str]:
        return ["kind-asr"]

    def connect(self, context: str, namespace: str) -> Connection:
        feed = FakeFeed(sample_snapshot(context=context, namespace=namespace, pods=()))
        self.feeds.append(feed)
        return Connection(
            feed, FakeActions(), context, namespace, namespace_missing=namespace == "prod"
        )


async def switch_to(pilot, app, namespace: str) -> None:
    await pilot.press("n")
    await pilot_until(pilot, lambda: isinstance(app.screen, NamespacePrompt))
    await pilot.press("ctrl+u", *namespace, "enter")


async def test_a_missing_namespace_is_said_in_the_notice_and_the_pods_panel(
    recorder: Recorder,
) -> None:
    switcher = Switcher()
    app = make_app(switcher=switcher, recorder=recorder)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await switch_to(pilot, app, "prod")
        await pilot_until(pilot, lambda: MISSING in recorder.texts())
        assert ("Now watching prod in kind-asr: " + MISSING + ".", "warning") in recorder.notes
        await pilot_until(pilot, lambda: MISSING in screen_text(app))
        # Once pods show there, it exists (created meanwhile): the note goes.
        switcher.feeds[-1].push(sample_snapshot(namespace="prod"))
        await pilot_until(pilot, lambda: MISSING not in screen_text(app))
        # A namespace that exists says nothing of the kind.
        await switch_to(pilot, app, "staging")
        await pilot_until(pilot, lambda: "Now watching staging in kind-asr." in recorder.texts())
        assert "does not exist" not in screen_text(app)


async def test_given_at_launch_it_is_said_too() -> None:
    app = make_app(FakeFeed(sample_snapshot(namespace="prod", pods=())), namespace_missing=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot_until(pilot, lambda: MISSING in screen_text(app))


def test_the_cluster_tells_missing_from_unknown(start: Callable[..., World]) -> None:
    world = start("efs-shared")
    assert world.cluster.namespace_exists() is True
    world.cluster.namespace = "prod"
    assert world.cluster.namespace_exists() is False

    def forbidden(*args: object, **kwargs: object) -> None:
        raise ApiException(status=403, reason="Forbidden")

    world.cluster.core.read_namespace = forbidden
    assert world.cluster.namespace_exists() is None  # cannot tell: say nothing


async def test_n_to_a_missing_namespace_on_the_simulator(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start("efs-shared")
    app = dashboard(world, recorder, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "lightning-asr-" in screen_text(app), "the pods")
        await switch_to(pilot, app, "prod")
        await until(pilot, lambda: MISSING in recorder.texts(), "the notice")
        await until(pilot, lambda: MISSING in screen_text(app), "the pods panel saying it")
