"""Headless actions: ``asr-cache-tui prewarm|verify|purge|restart|fix|switch TARGET``.

Prints the plan, asks for confirmation on a terminal (``--yes`` skips it; without a terminal
and without ``--yes`` nothing runs), executes with progress on stderr, and prints the outcome,
as text or as one JSON object (``-o json``). A fix on a full volume that no running pod sees
goes in two steps, each printed and asked for: a look through a helper pod, then the eviction
planned from what it saw. ``--yes`` confirms both, so ``fix POD --yes`` ends the same way
whether or not a pod happened to run (and the look alone changes no file). Exit codes:

  0  done (or the dry run was accepted, or there was nothing to do)
  1  the action ran and failed (or did not finish within --timeout)
  2  usage or connection error
  3  refused: the plan must not run (not ready, hostile path, ...), or --read-only
  4  forbidden by RBAC (the missing verb and resource are printed)
  5  not confirmed
  130 cancelled (Ctrl-C)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from actions import registry
from actions.audit import plan_record, result_record
from actions.context import ActionContext
from actions.options import ActionOptions
from actions.plan import ActionPlan, ActionResult
from actions.rbac import forbidden_reason
from actions.service import READ_ONLY, ActionService
from collectors.cluster import ClusterError, ConnectionSettings, connect

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_FORBIDDEN = 4
EXIT_NOT_CONFIRMED = 5
EXIT_CANCELLED = 130


def action_id(args: argparse.Namespace) -> str:
    if args.command == "restart":
        target = (args.target or "").lower()
        if getattr(args, "rollout", False) or target.startswith(("deployment/", "deploy/")):
            return registry.ROLLOUT_RESTART
        return registry.RESTART_POD
    return {s.command: s.id for s in registry.SPECS if s.id != registry.ROLLOUT_RESTART}[
        args.command
    ]


def options_of(args: argparse.Namespace) -> ActionOptions:
    defaults = ActionOptions()
    return ActionOptions(
        rollout=bool(getattr(args, "rollout", False)),
        path=getattr(args, "path", None),
        image=getattr(args, "image", None) or defaults.image,
        schedule=getattr(args, "schedule", None),
        version=getattr(args, "model_version", None),
        url=getattr(args, "url", None) if args.command == "prewarm" else None,
        checksum=getattr(args, "checksum", None),
        back=bool(getattr(args, "back", False)),
        switch_url=getattr(args, "url", None) if args.command == "switch" else None,
        api_server=getattr(args, "api_server", None) or defaults.api_server,
        follow=not getattr(args, "no_follow", False),
        timeout=float(getattr(args, "timeout", None) or defaults.timeout),
        container=getattr(args, "container", None),
        dry_run=bool(getattr(args, "dry_run", False)),
    )


def same_terminal(out: TextIO, err: TextIO) -> bool:
    """Both streams are the one terminal a person reads (not a pipe a script reads apart)."""
    try:
        if not (out.isatty() and err.isatty()):
            return False
        a, b = os.fstat(out.fileno()), os.fstat(err.fileno())
    except (OSError, ValueError):
        return False
    return (a.st_dev, a.st_ino, a.st_rdev) == (b.st_dev, b.st_ino, b.st_rdev)


class _Printer:
    def __init__(self, json_mode: bool, out: TextIO, err: TextIO) -> None:
        self.json_mode = json_mode
        self.out = out
        self.err = err
        self.one_screen = same_terminal(out, err)

    def progress(self, line: str) -> None:
        if not self.json_mode:
            print(f"  … {line}", file=self.err, flush=True)

    def plan(self, plan: ActionPlan) -> None:
        if not self.json_mode:
            print(plan.describe(), file=self.out, flush=True)

    def step(self, result: ActionResult) -> None:
        """The outcome of a first step (a fix's look) before the plan it leads to."""
        if not self.json_mode:
            print(result.message, file=self.out, flush=True)
            self._recorded(result)

    def finish(
        self,
        code: int,
        plan: ActionPlan | None,
        result: ActionResult | None,
        message: str,
        look: tuple[ActionPlan, ActionResult] | None = None,
    ) -> int:
        if self.json_mode:
            doc: dict[str, Any] = {
                "exit_code": code,
                "message": message,
                "plan": plan_record(plan) if plan else None,
                "result": result_record(result) if result else None,
                # A fix that had to look first: that step's plan and outcome.
                "look": (
                    {"plan": plan_record(look[0]), "result": result_record(look[1])}
                    if look
                    else None
                ),
            }
            print(json.dumps(doc, indent=2, sort_keys=True), file=self.out, flush=True)
        else:
            # A refusal's reason ends the plan just printed; on stderr too for scripts, but
            # not twice on one terminal.
            said = plan is not None and plan.refused is not None
            if not (said and self.one_screen):
                stream = self.out if code == EXIT_OK and not said else self.err
                print(message, file=stream, flush=True)
            if result is not None:
                self._recorded(result)
        return code

    def _recorded(self, result: ActionResult) -> None:
        for key in ("event", "audit_log", "event_error", "audit_error"):
            if key in result.details:
                print(f"{key.replace('_', ' ')}: {result.details[key]}", file=self.out)


def confirm(plan: ActionPlan, stdin: TextIO, err: TextIO) -> bool | None:
    """True/False from the user, or None when there is no terminal to ask on."""
    if not stdin.isatty():
        return None
    changes = plan.destructive or plan.irreversible or plan.looks_only
    prompt = f"{plan.consequence} Proceed? [y/N] " if changes else "Proceed? [y/N] "
    print(prompt, end="", file=err, flush=True)
    answer = stdin.readline().strip().lower()
    return answer in ("y", "yes")


SnapshotFn = Callable[[Any, argparse.Namespace], Any]


def take_snapshot(cluster: Any, args: argparse.Namespace) -> Any:
    """One snapshot of the namespace (the same view ``status`` prints)."""
    from collectors.live import LiveFeed, options_from_args

    try:
        options = options_from_args(args)
    except ValueError as exc:
        raise ClusterError(str(exc)) from None
    return LiveFeed(cluster, options).collect()


def run(
    args: argparse.Namespace,
    *,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    snapshot_fn: SnapshotFn | None = None,
) -> int:
    stdin = stdin or sys.stdin
    printer = _Printer(
        getattr(args, "output", "text") == "json", out or sys.stdout, err or sys.stderr
    )
    aid = action_id(args)
    if getattr(args, "read_only", False):
        return printer.finish(EXIT_REFUSED, None, None, f"Not run: {READ_ONLY} (--read-only).")
    options = options_of(args)
    try:
        cluster = connect(ConnectionSettings.from_args(args))
    except ClusterError as exc:
        return printer.finish(EXIT_USAGE, None, None, str(exc))
    try:
        service = ActionService(cluster)
        try:
            snapshot = (snapshot_fn or take_snapshot)(cluster, args)
        except ClusterError as exc:
            return printer.finish(EXIT_USAGE, None, None, str(exc))
        plan = service.plan(aid, snapshot, args.target, options)
        code, result, message = _step(service, printer, plan, args, stdin, options)
        look: tuple[ActionPlan, ActionResult] | None = None
        if result is not None and result.ok and result.replan:
            # The fix only looked (no running pod sees the volume): plan it again from what
            # the look saw, and confirm that plan on its own; --yes covers it too.
            look = (plan, result)
            printer.step(result)
            try:
                snapshot = (snapshot_fn or take_snapshot)(cluster, args)
            except ClusterError as exc:
                return printer.finish(EXIT_USAGE, plan, result, str(exc), look=None)
            plan = service.plan(aid, snapshot, args.target, options)
            if plan.looks_only:
                printer.plan(plan)
                kept = "What the look saw was not kept: nothing removed."
                return printer.finish(EXIT_FAILED, plan, None, kept, look)
            code, result, message = _step(service, printer, plan, args, stdin, options)
            if code == EXIT_NOT_CONFIRMED:
                message += " The look's helper pod is already deleted."
        return printer.finish(code, plan, result, message, look)
    finally:
        cluster.close()


def _step(
    service: ActionService,
    printer: _Printer,
    plan: ActionPlan,
    args: argparse.Namespace,
    stdin: TextIO,
    options: ActionOptions,
) -> tuple[int, ActionResult | None, str]:
    """Print one plan, check it, ask for it (unless --yes or --dry-run) and execute it."""
    printer.plan(plan)
    if plan.refused:
        # Nothing to fix is no failure: a cron job's `fix POD --yes` on a healthy pod is fine.
        return (EXIT_OK if plan.nothing_to_do else EXIT_REFUSED), None, plan.refusal
    missing = service.access.missing(plan.permissions)
    if missing:
        return EXIT_FORBIDDEN, None, f"Forbidden: {forbidden_reason(missing)}."
    if not plan.steps:
        return EXIT_OK, None, plan.summary or "Nothing to do."
    if not args.dry_run and not args.yes:
        answer = confirm(plan, stdin, printer.err)
        if answer is None:
            return (
                EXIT_NOT_CONFIRMED,
                None,
                "Not confirmed: there is no terminal to ask on; pass --yes to run it.",
            )
        if not answer:
            return EXIT_NOT_CONFIRMED, None, "Not confirmed: nothing done."
    cancel = threading.Event()
    ctx = ActionContext(
        service.kube,
        dry_run=bool(args.dry_run),
        cancel=cancel,
        progress=printer.progress,
        timeout=options.timeout,
    )
    with _cancel_on_sigint(cancel):
        result = service.execute(plan, ctx)
    return exit_code(result), result, result.message


def exit_code(result: ActionResult) -> int:
    if result.ok:
        return EXIT_OK
    if result.details.get("cancelled"):
        return EXIT_CANCELLED
    if result.details.get("forbidden"):
        return EXIT_FORBIDDEN
    if result.details.get("refused"):
        return EXIT_REFUSED
    return EXIT_FAILED


class _cancel_on_sigint:
    """Ctrl-C sets the cancel event (the action stops at its next check) instead of killing."""

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel
        self.previous: Any = None

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, lambda *_: self.cancel.set())

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
