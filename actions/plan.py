"""Action plans: what an action will do, as a value that can be shown, confirmed and tested.

An action is built as an ``ActionPlan`` first (no cluster needed to inspect it), then executed;
its outcome is an ``ActionResult``. The UI shows ``plan.describe()`` in the confirmation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from collectors.redact import redact_text

# What a plan that must not run is called, unless it says otherwise (``refused_as``).
REFUSED = "Refused"
NOTHING_TO_FIX = "Nothing to fix"

# A request body in a shown plan: indented, and cut after this many lines (a Job spec fits).
BODY_LINES = 60
BODY_LINE_CHARS = 160


@dataclass(frozen=True)
class Permission:
    """One RBAC permission an action needs (checked with SelfSubjectAccessReview)."""

    verb: str
    resource: str
    namespace: str
    group: str = ""
    subresource: str | None = None

    def describe(self) -> str:
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        grp = f".{self.group}" if self.group else ""
        return f"{self.verb} {res}{grp} in {self.namespace}"


@dataclass(frozen=True)
class ApiCall:
    """One Kubernetes API request the action will make."""

    verb: str  # create | delete | patch | get | list
    resource: str  # plural, e.g. "pods", "deployments", "jobs"
    namespace: str
    name: str | None = None
    group: str = ""
    subresource: str | None = None
    body: Mapping[str, Any] | None = None
    note: str = ""  # why this call, shown after it (e.g. "follow until Ready")

    def describe(self, inline_body: bool = True) -> str:
        """One line, the body compact on it (the audit log's form); without ``inline_body``
        the line only, for a shown plan, which prints the body apart (``body_block``)."""
        target = f"{self.resource}/{self.name}" if self.name else self.resource
        if self.subresource:
            target += f"/{self.subresource}"
        text = f"{self.verb.upper()} {target} (namespace {self.namespace})"
        if self.body is not None and inline_body:
            # Bodies can carry model URLs (pre-warm env): never show a signature or password.
            text += " " + redact_text(json.dumps(self.body, sort_keys=True, separators=(",", ":")))
        if self.note:
            text += f"  # {self.note}"
        return text


@dataclass(frozen=True)
class ExecStep:
    """One command run inside a container, as an argv list: never a shell string."""

    pod: str
    namespace: str
    argv: tuple[str, ...]
    container: str | None = None
    note: str = ""  # why this command, shown after it (e.g. "resolve paths in the pod")

    def describe(self, inline_body: bool = True) -> str:
        where = f"{self.pod}/{self.container}" if self.container else self.pod
        text = f"EXEC in {where}: " + " ".join(_quote(redact_text(a)) for a in self.argv)
        return text + (f"  # {self.note}" if self.note else "")


Step = ApiCall | ExecStep


@dataclass(frozen=True)
class ActionPlan:
    """Everything an action will do, decided before anything is done."""

    action: str  # registry id, e.g. "restart-pod"
    title: str  # one line for the confirmation dialog
    target: str  # e.g. "pod/lightning-asr-7d9f-abc" or "deployment/lightning-asr"
    namespace: str
    steps: tuple[Step, ...] = ()
    summary: str = ""  # why, in a sentence: the evidence behind the decision
    destructive: bool = False  # changes the cluster
    irreversible: bool = False  # deletes what cannot be brought back (a model, cache files)
    way_back: str = ""  # how to undo a reversible change, when there is a way
    warnings: tuple[str, ...] = ()
    refused: str | None = None  # set when the action must not run, and why
    # What a plan that must not run is called where it is shown: "Refused", or "Nothing to fix"
    # for a fix on a pod that downloads or serves (it must not run either, but nothing is wrong).
    refused_as: str = REFUSED
    permissions: tuple[Permission, ...] = ()
    affected_pods: tuple[str, ...] = ()
    decision: str = ""  # which branch an evidence-driven action took (fix: restart, evict, ...)
    diagnosis: str = ""  # that decision in words, for people ("the download stalled; ...")
    evidence: str = ""  # the quoted evidence behind it, where a later step needs it again
    # Confirming only looks: a helper pod comes and goes, no file changes, and what to do is
    # planned from what it saw and confirmed separately (fix on a volume no running pod sees).
    looks_only: bool = False
    # What to run by hand instead, each command whole (a refused fix's advice): shown apart
    # from the prose, one per line, so that it can be copied as it is. A runnable plan's are no
    # part of what confirming runs: shown after its steps, with ``commands_when``.
    commands: tuple[str, ...] = ()
    commands_when: str = ""  # when to run them, e.g. "only when the machine is really down"

    @property
    def runnable(self) -> bool:
        return self.refused is None

    @property
    def nothing_to_do(self) -> bool:
        """It must not run because nothing is wrong, not because something forbids it."""
        return self.refused is not None and self.refused_as != REFUSED

    @property
    def refusal(self) -> str:
        """Why it must not run, under its name: "Refused: …", "Nothing to fix: …"; '' when it
        may run."""
        return f"{self.refused_as}: {self.refused}" if self.refused is not None else ""

    @property
    def by_hand(self) -> str:
        """What a runnable plan's commands are, said before them: confirming does not run
        them."""
        when = f", {self.commands_when}" if self.commands_when else ""
        return f"Not run when confirmed; to run by hand{when}:"

    @property
    def consequence(self) -> str:
        """What confirming does to the cluster, in the dialog and at the CLI's prompt: "cannot
        be undone" only when it deletes what cannot be brought back; else the way back, when
        there is one. A plan that only looks says so, and that a second confirmation follows.
        Commands to run by hand beside the steps are said not to run."""
        many = "commands" if len(self.commands) > 1 else "command"
        aside = (
            f" Confirming runs the numbered steps, not the {many} to run by hand."
            if self.commands and self.runnable
            else ""
        )
        return self._consequence + aside

    @property
    def _consequence(self) -> str:
        if self.looks_only:
            return (
                "This only looks: it creates one helper pod, lists the cache and deletes the pod "
                "again; it changes no file. What to remove is shown next, for a second "
                "confirmation."
            )
        if self.irreversible:
            return "This changes the cluster and cannot be undone."
        if self.way_back:
            return f"This changes the cluster. Way back: {self.way_back}."
        return "This changes the cluster."

    def describe(self) -> str:
        lines = [self.title, f"target: {self.target} (namespace {self.namespace})"]
        if self.diagnosis:
            lines.append(f"diagnosis: {self.diagnosis}")
        elif self.decision:
            lines.append(f"decision: {self.decision}")
        if self.summary:
            lines.append(self.summary)
        if self.refused:
            lines.append(f"{self.refused_as.upper()}: {self.refused}")
            lines.extend(f"run by hand: {c}" for c in self.commands)
        lines.extend(f"warning: {w}" for w in self.warnings)
        lines.extend(
            f"{i}. {step.describe(inline_body=False)}" for i, step in enumerate(self.steps, 1)
        )
        if self.affected_pods:
            lines.append("pods affected: " + ", ".join(self.affected_pods))
        if self.commands and self.runnable:
            # After the steps, and said apart: confirming does not run them.
            lines.append(self.by_hand)
            lines.extend(f"run by hand: {c}" for c in self.commands)
        # Bodies come after every step, so a long Job or Pod spec never hides the steps.
        for i, step in enumerate(self.steps, 1):
            if isinstance(step, ApiCall) and step.body is not None:
                lines.append(f"body of step {i} ({step.verb.upper()} {step.resource}):")
                lines.append(body_block(step.body))
        return "\n".join(lines)


@dataclass(frozen=True)
class ActionResult:
    """What happened when a plan ran (or was refused, forbidden or dry-run)."""

    plan: ActionPlan
    ok: bool
    message: str
    dry_run: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)
    # The plan only looked: plan the same action on the same target again now (it is planned
    # from what was seen) and ask for its confirmation separately.
    replan: bool = False


def body_block(body: Mapping[str, Any], indent: str = "     ") -> str:
    """A request body as indented JSON, secrets redacted, at most ``BODY_LINES`` lines of at
    most ``BODY_LINE_CHARS``: a patch reads at a glance, and a huge spec cannot flood a
    dialog or a terminal."""
    lines = redact_text(json.dumps(body, sort_keys=True, indent=2)).splitlines()
    shown = [
        line if len(line) <= BODY_LINE_CHARS else line[: BODY_LINE_CHARS - 1] + "…"
        for line in lines[:BODY_LINES]
    ]
    if len(lines) > BODY_LINES:
        shown.append(f"… {len(lines) - BODY_LINES} more lines")
    return "\n".join(indent + line for line in shown)


def _quote(arg: str) -> str:
    """Quote for display only; execution always passes the argv list untouched."""
    safe = arg and all(c.isalnum() or c in "-_./=:@%+," for c in arg)
    return arg if safe else "'" + arg.replace("'", "'\"'\"'") + "'"
