"""The rollouts panel: deployments with desired/updated/ready, the model version their Ready
pods serve, and which one takes traffic.

"◀ live" marks the release the api-server points at (its ``LIGHTNING_ASR_BASE_URL``), not a
version: a Deployment whose template moved to v2 while its rollout is stuck still serves v1
from its old pods, so MODEL says what the Ready pods run (``v1→v2`` while the template wants
another), not what the template asks for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from collectors.model import PodInfo, RolloutInfo
from collectors.redact import redact_url
from tui.widgets.keyed_table import KeyedTable


def serving_versions(release: str, pods: Sequence[PodInfo]) -> tuple[str, ...]:
    """The model versions the release's Ready pods run: what its traffic meets."""
    return tuple(
        sorted(
            {
                p.model.version
                for p in pods
                if p.release == release and p.ready and not p.deleting and p.model.version
            }
        )
    )


def model_cell(wanted: str | None, serving: tuple[str, ...]) -> Text:
    """``v1`` when the Ready pods run what the template asks; ``v1→v2`` while they run another;
    the template's version greyed when no Ready pod runs any yet."""
    if not serving:
        return Text(wanted or "-", style="grey50" if wanted else "")
    said = "/".join(serving)
    if wanted and serving != (wanted,):
        return Text(f"{said}→{wanted}", style="dark_orange")
    return Text(said)


class RolloutsTable(KeyedTable):
    COLUMNS = (
        ("name", "DEPLOYMENT", 17),
        ("desired", "WANT", 4),
        ("updated", "UPD", 3),
        ("ready", "READY", 5),
        ("version", "MODEL", 5),
        ("serving", "TRAFFIC", 7),
    )

    def show(self, rollouts: Sequence[RolloutInfo], pods: Sequence[PodInfo] = ()) -> bool:
        rows = [
            (r.name, (r, serving_versions(r.name, pods)))
            for r in sorted(rollouts, key=lambda r: r.name)
        ]
        return self.sync(rows, _cells)


def _cells(source: Any) -> tuple[Any, ...]:
    r, serving_now = source
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
        model_cell(r.model_version, serving_now) if _is_release(r) else "-",
        serving,
    )


def _is_release(r: RolloutInfo) -> bool:
    """An ASR release (its template names a model version, or the api-server may point at
    it); the api-server itself has no model."""
    return r.model_version is not None or r.serving is not None


def serving_line(url: str | None, rollouts: Sequence[RolloutInfo], pods: Sequence[PodInfo]) -> Text:
    """``api-server → URL (serving v1)``: where traffic goes (the release marked live), and
    which model it meets there: what that release's Ready pods run."""
    line = Text("api-server → ", style="bold")
    line.append(redact_url(url) if url else "unknown", style="italic")
    live = next((r for r in rollouts if r.serving is True), None)
    if live is not None:
        versions = serving_versions(live.name, pods)
        line.append(f" (serving {'/'.join(versions)})" if versions else " (no Ready pod)")
    return line


class RolloutsPanel(Vertical):
    def compose(self) -> ComposeResult:
        yield RolloutsTable(id="rollouts-table", show_cursor=False)
        yield Static(id="rollout-problems")
        yield Static(id="serving")

    def on_mount(self) -> None:
        self.border_title = "Rollouts"

    _last_serving: Text | None = None
    _last_problems: tuple[str, ...] = ()

    def show(
        self,
        rollouts: Sequence[RolloutInfo],
        serving_url: str | None,
        pods: Sequence[PodInfo] = (),
    ) -> None:
        self.query_one(RolloutsTable).show(rollouts, pods)
        problems = tuple(f"{r.name}: {r.problem}" for r in rollouts if r.problem)
        if problems != self._last_problems:
            self._last_problems = problems
            said = self.query_one("#rollout-problems", Static)
            said.update(Text("\n".join(f"‼ {p}" for p in problems), style="bold red"))
            said.display = bool(problems)
            # A stuck rollout's reason is the only sign of it: the panel widens to say it whole.
            self.set_class(bool(problems), "-problem")
        line = serving_line(serving_url, rollouts, pods)
        if line == self._last_serving:  # an update re-lays out: only when it changed
            return
        self._last_serving = line
        self.query_one("#serving", Static).update(line)
