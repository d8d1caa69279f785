"""The overview: pods (most urgent first), cache volumes, rollouts and pre-warm jobs."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Input, Static

from collectors.model import ClusterSnapshot
from collectors.report import volume_problems
from tui import commands
from tui.screens.base import DataScreen
from tui.widgets.filter_box import FilterBox
from tui.widgets.header import ClusterHeader, StaleBanner
from tui.widgets.jobs import JobsTable
from tui.widgets.pods import PodsTable
from tui.widgets.rollouts import RolloutsPanel
from tui.widgets.volumes import VolumesPanel


class OverviewScreen(DataScreen):
    BINDINGS: ClassVar[list[BindingType]] = list(commands.bindings("overview"))
    # A tall screen lets the rollouts panel grow for a stuck rollout's reason (app.tcss).
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]

    def __init__(self) -> None:
        super().__init__(id="overview")
        self.needle = ""
        self._namespace_note = ""

    def compose(self) -> ComposeResult:
        yield ClusterHeader(id="header")
        yield StaleBanner(id="stale")
        with Vertical(id="pods-panel"):
            yield Static(id="pods-note")
            yield PodsTable(id="pods")
        yield VolumesPanel(id="volumes")
        with Horizontal(id="panels"):
            yield RolloutsPanel(id="rollouts")
            with Vertical(id="jobs-panel"):
                yield JobsTable(id="jobs", show_cursor=False)
        yield FilterBox("filter pods: name, node, state, version", returns_to="#pods", id="filter")
        yield Static(id="activity")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#pods-panel").border_title = "Pods"
        self.query_one("#jobs-panel").border_title = "Pre-warm jobs"
        self.query_one("#activity", Static).display = False
        self.query_one("#pods-note", Static).display = False
        self.query_one(PodsTable).focus()
        self.ready = True
        self.show(self.dash.snapshot, self.dash.now())

    @property
    def selected_pod(self) -> str | None:
        return self.query_one(PodsTable).selected_key

    def hold_cursor(self) -> None:
        """The cursor keeps its pod from now on (it no longer follows the most urgent)."""
        self.query_one(PodsTable).hold()

    def draw(self, snapshot: ClusterSnapshot | None, now: float) -> None:
        pods = snapshot.pods if snapshot else ()
        table = self.query_one(PodsTable)
        table.show(pods, now, self.needle)
        shown = table.row_count
        panel = self.query_one("#pods-panel")
        suffix = f" (filter: {self.needle!r})" if self.needle else ""
        subtitle = f"{shown} of {len(pods)}{suffix}" if pods else ""
        if panel.border_subtitle != subtitle:
            panel.border_subtitle = subtitle
        self._note_missing_namespace(snapshot, bool(pods))
        problems = {v.name: why for v, why in volume_problems(snapshot)} if snapshot else {}
        self.query_one(VolumesPanel).show(snapshot.volumes if snapshot else (), problems)
        self.query_one(RolloutsPanel).show(
            snapshot.rollouts if snapshot else (),
            snapshot.serving_url if snapshot else None,
            pods,
        )
        jobs = snapshot.jobs if snapshot else ()
        jobs_table = self.query_one(JobsTable)
        jobs_table.show(jobs, now)
        # No jobs: no table. Its header alone said nothing, and in a narrow panel its columns
        # overflowed into a horizontal scrollbar (a stray "▊" in the empty panel).
        jobs_table.display = bool(jobs)
        jobs_panel = self.query_one("#jobs-panel")
        can_prewarm = not (self.dash.read_only or self.dash.actions is None)
        none = "none · p pre-warms" if can_prewarm else "none"
        jobs_subtitle = "" if snapshot is None else (f"{len(jobs)}" if jobs else none)
        if jobs_panel.border_subtitle != jobs_subtitle:
            jobs_panel.border_subtitle = jobs_subtitle

    def _note_missing_namespace(self, snapshot: ClusterSnapshot | None, any_pods: bool) -> None:
        """An empty list from a namespace that does not exist is a typo, not an empty
        namespace: say so where the pods would be (not once pods show: then it exists)."""
        note = self.query_one("#pods-note", Static)
        namespace = snapshot.namespace if snapshot else self.dash.namespace_name
        missing = self.dash.namespace_missing and not any_pods
        said = f'namespace "{namespace}" does not exist' if missing else ""
        if said != self._namespace_note:
            self._namespace_note = said
            note.update(said)
            note.display = bool(said)

    # Keys ----------------------------------------------------------------------------------
    def action_filter(self) -> None:
        self.query_one("#filter", FilterBox).open()

    def action_back(self) -> None:
        if self.query_one("#filter", FilterBox).close():
            self._set_needle("")
        self.query_one(PodsTable).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._set_needle(event.value.strip())

    def _set_needle(self, needle: str) -> None:
        self.needle = needle
        self.show(self.dash.snapshot, self.dash.now())

    @on(DataTable.RowSelected, "#pods")
    def _open(self, event: DataTable.RowSelected) -> None:
        self.dash.open_detail(str(event.row_key.value))
