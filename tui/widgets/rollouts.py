"""The rollouts panel: deployments with desired/updated/ready and which one takes traffic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from collectors.model import RolloutInfo
from collectors.redact import redact_url
from tui.widgets.keyed_table import KeyedTable


class RolloutsTable(KeyedTable):
    COLUMNS = (
        ("name", "DEPLOYMENT", 17),
        ("desired", "WANT", 4),
        ("updated", "UPD", 3),
        ("ready", "READY", 5),
        ("version", "MODEL", 5),
        ("serving", "TRAFFIC", 7),
    )

    def show(self, rollouts: Sequence[RolloutInfo]) -> bool:
        rows = [(r.name, r) for r in sorted(rollouts, key=lambda r: r.name)]
        return self.sync(rows, _cells)


def _cells(r: Any) -> tuple[Any, ...]:
    ready_style = "green" if r.ready >= r.desired else "dark_orange"
    if r.problem:
        ready_style = "bold red"
    if r.serving is True:
        serving = Text("◀ live", style="bold green")
    elif r.serving is False:
        serving = Text("idle", style="grey50")
    else:
        serving = Text("")
    return (
        r.name,
        str(r.desired),
        str(r.updated),
        Text(f"{r.ready}/{r.desired}", style=ready_style),
        r.model_version or "-",
        serving,
    )


class RolloutsPanel(Vertical):
    def compose(self) -> ComposeResult:
        yield RolloutsTable(id="rollouts-table", show_cursor=False)
        yield Static(id="rollout-problems")
        yield Static(id="serving")

    def on_mount(self) -> None:
        self.border_title = "Rollouts"

    _last_url: str | None = ""
    _last_problems: tuple[str, ...] = ()

    def show(self, rollouts: Sequence[RolloutInfo], serving_url: str | None) -> None:
        self.query_one(RolloutsTable).show(rollouts)
        problems = tuple(f"{r.name}: {r.problem}" for r in rollouts if r.problem)
        if problems != self._last_problems:
            self._last_problems = problems
            said = self.query_one("#rollout-problems", Static)
            said.update(Text("\n".join(f"‼ {p}" for p in problems), style="bold red"))
            said.display = bool(problems)
        if serving_url == self._last_url:  # an update re-lays out: only when it changed
            return
        self._last_url = serving_url
        line = Text("api-server → ", style="bold")
        line.append(redact_url(serving_url) if serving_url else "unknown", style="italic")
        self.query_one("#serving", Static).update(line)
