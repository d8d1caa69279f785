"""Small dialogs for ``n`` (type a namespace) and ``c`` (pick a kubeconfig context)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

# A Kubernetes namespace is a DNS label (RFC 1123).
_DNS_LABEL_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


def namespace_error(name: str) -> str | None:
    """None when ``name`` can be a namespace, else one sentence saying why not."""
    if not name:
        return "a namespace name cannot be empty"
    if len(name) > 63:
        return f"namespace {name!r} is longer than 63 characters"
    if not set(name) <= _DNS_LABEL_CHARS or name[0] == "-" or name[-1] == "-":
        return f"namespace {name!r} is not a DNS label (lowercase letters, digits and '-')"
    return None


class NamespacePrompt(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str) -> None:
        super().__init__(id="namespace-prompt")
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt-box"):
            yield Input(value=self.current, placeholder="namespace", id="namespace-input")
            yield Static("enter switches · esc cancels", id="namespace-error")

    def on_mount(self) -> None:
        self.query_one(".prompt-box").border_title = "Namespace"

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        error = namespace_error(name)
        if error:
            self.query_one("#namespace-error", Static).update(error)
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ContextPicker(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, contexts: Sequence[str], current: str) -> None:
        super().__init__(id="context-picker")
        self.contexts = tuple(contexts)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt-box"):
            yield OptionList(
                *[Option(("● " if c == self.current else "  ") + c, id=c) for c in self.contexts],
                id="contexts",
            )

    def on_mount(self) -> None:
        self.query_one(".prompt-box").border_title = "Context"
        if self.current in self.contexts:
            self.query_one(OptionList).highlighted = self.contexts.index(self.current)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
