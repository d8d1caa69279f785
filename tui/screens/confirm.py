"""The confirmation dialog: exactly what an action will do, to which objects, before it runs.

A refused plan (e.g. a blue-green switch to a release that is not ready) opens the same
dialog with the reason and no way to confirm; a fix with nothing to fix says so, not "Refused".
A plan that only looks (a fix's first step on a volume no running pod sees) says so, and that a
second confirmation follows. Commands to run by hand come apart from the prose, to copy: a
refused plan's at the top (they are the advice), a runnable plan's after its steps, under a
line that says confirming does not run them.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from actions.plan import ActionPlan


def plan_text(plan: ActionPlan) -> Text:
    """``plan.describe()`` with its warning lines coloured; the refusal and the commands to run
    by hand are left out, as the dialog shows them apart (once is enough)."""
    before, after = _parts(plan)
    return _styled(before + after)


def _parts(plan: ActionPlan) -> tuple[list[str], list[str]]:
    """The plan's lines before and after where a runnable plan's commands go (its steps
    before, the request bodies after)."""
    apart = (f"{plan.refused_as.upper()}: ", "run by hand: ")
    lines = [line for line in plan.describe().splitlines() if not line.startswith(apart)]
    if plan.runnable and plan.by_hand in lines:
        at = lines.index(plan.by_hand)
        return lines[:at], lines[at + 1 :]
    return lines, []


def _styled(lines: list[str], first: bool = True) -> Text:
    text = Text()
    for i, line in enumerate(lines):
        if i:
            text.append("\n")
        if line.startswith("warning:"):
            text.append(line, style="dark_orange")
        elif i == 0 and first:
            text.append(line, style="bold")
        else:
            text.append(line)
    return text


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True only when the user confirms a runnable plan."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Confirm", show=False),
        Binding("n,escape", "cancel", "Cancel", show=False),
        Binding("c", "copy", "Copy the command", show=False),
    ]

    def __init__(self, plan: ActionPlan, *, destructive: bool = False) -> None:
        super().__init__(id="confirm")
        self.plan = plan
        self.destructive = not plan.looks_only and (
            destructive or plan.destructive or plan.irreversible
        )

    def compose(self) -> ComposeResult:
        plan = self.plan
        # Nothing to fix is no alarm: said as plainly as a look, not in a refusal's red.
        calm = "nothing" if plan.nothing_to_do else "refused"
        with Vertical(id="confirm-box", classes=calm if plan.refused else ""):
            if plan.refused:
                yield Static(Text(plan.refusal, style="bold"), id="confirm-refused", classes=calm)
            elif plan.looks_only:
                yield Static(Text(f"ⓘ {plan.consequence}", style="bold"), id="confirm-look")
            elif self.destructive:
                yield Static(Text(f"⚠ {plan.consequence}", style="bold"), id="confirm-warning")
            # Each command whole, apart from the prose: to copy with c, or with the mouse.
            said = Text("\n".join(plan.commands), style="bold cyan")
            commands = Static(said, id="confirm-commands")
            if plan.commands and not plan.runnable:
                yield commands
            before, after = _parts(plan)
            with VerticalScroll(id="confirm-plan"):
                yield Static(_styled(before))
                if plan.commands and plan.runnable:
                    # Not what y runs: after the steps, under a line that says so.
                    label = plan.by_hand.removesuffix(":") + "; c copies it:"
                    yield Static(Text(label, style="bold dark_orange"), id="confirm-by-hand")
                    yield commands
                if after:
                    yield Static(_styled(after, first=False))
            with Horizontal(id="confirm-buttons"):
                if plan.runnable:
                    yield Button(
                        "Confirm (y)",
                        id="confirm-yes",
                        variant="error" if self.destructive else "primary",
                    )
                    yield Button("Cancel (n)", id="confirm-no")
                else:
                    if plan.commands:
                        many = "commands" if len(plan.commands) > 1 else "command"
                        yield Button(f"Copy {many} (c)", id="confirm-copy")
                    yield Button("Close (esc)", id="confirm-no")

    def on_mount(self) -> None:
        box = self.query_one("#confirm-box")
        box.border_title = self.plan.title
        box.border_subtitle = self.plan.target
        # A destructive or refused plan starts on the safe button.
        self.query_one("#confirm-no", Button).focus()

    def action_confirm(self) -> None:
        if self.plan.runnable:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_copy(self) -> None:
        """The commands to run by hand, to the terminal's clipboard (OSC 52: most terminals
        take it; tmux needs ``set-clipboard on``, macOS Terminal ignores it)."""
        if not self.plan.commands:
            return
        self.app.copy_to_clipboard("\n".join(self.plan.commands))
        self.notify(
            "Copied to the clipboard (if your terminal accepts OSC 52; else select it)",
            title="Command copied",
        )

    @on(Button.Pressed, "#confirm-copy")
    def _copy(self) -> None:
        self.action_copy()

    @on(Button.Pressed, "#confirm-yes")
    def _yes(self) -> None:
        self.action_confirm()

    @on(Button.Pressed, "#confirm-no")
    def _no(self) -> None:
        self.action_cancel()
