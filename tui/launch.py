"""``asr-cache-tui`` without a subcommand: connect, then run the dashboard until ``q``.

A failure to connect is one message on stderr (which kubeconfig, which context, what went
wrong, what to try) and exit code 2, never a traceback. ``--demo`` wraps the same path around
a simulated cluster that is stopped when the dashboard exits.

Exit codes: 0 after a normal quit, 2 when the flags or the connection are unusable.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from actions.plan import ActionPlan, ActionResult
from collectors.model import ClusterSnapshot, VerificationResult
from collectors.redact import redact_text
from tui.actions_port import VERIFY, ActionProvider, ProgressCallback
from tui.kubecontexts import kubeconfig_paths, list_contexts
from tui.switching import Connection

if TYPE_CHECKING:
    from tui.app import AsrCacheApp

EXIT_OK = 0
EXIT_USAGE = 2


class LaunchError(Exception):
    """Connecting failed; ``str()`` is the whole message shown to the user, ``reason`` the
    one sentence of what went wrong."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


def run(args: argparse.Namespace, *, err: TextIO | None = None) -> int:
    err = err or sys.stderr
    if getattr(args, "demo", None):
        from tui.demo import DemoError, on_demo

        if err.isatty():  # the simulator takes seconds to start: not a blank terminal meanwhile
            print(f"Starting the simulated cluster ({args.demo})…", file=err, flush=True)
        try:
            with on_demo(args) as demo:
                return run_dashboard(args, err=err, title=f"demo: {demo.scenario}")
        except DemoError as exc:
            print(f"asr-cache-tui --demo: {exc}", file=err)
            return EXIT_USAGE
    return run_dashboard(args, err=err)


def run_dashboard(args: argparse.Namespace, *, err: TextIO, title: str = "") -> int:
    try:
        connection = connect(args)
    except LaunchError as exc:
        print(str(exc), file=err)
        return EXIT_USAGE
    app = build_app(args, connection, title=title)
    try:
        app.run()
    finally:
        app.feed.stop()  # the app stops it on unmount; stop() is idempotent: be sure
    return app.return_code or EXIT_OK


def build_app(args: argparse.Namespace, connection: Connection, *, title: str = "") -> AsrCacheApp:
    """The dashboard on a connection (tests drive it with ``run_test``)."""
    from tui.app import AsrCacheApp

    app = AsrCacheApp(
        connection.feed,
        connection.actions,
        read_only=bool(args.read_only),
        context=connection.context,
        namespace=connection.namespace,
        server=connection.server,
        namespace_missing=connection.namespace_missing,
        switcher=KubeSwitcher(args),
        cache_refresh=float(args.refresh),
    )
    if title:
        app.sub_title = title
    return app


def connect(
    args: argparse.Namespace, context: str | None = None, namespace: str | None = None
) -> Connection:
    """Build the live feed (and actions unless read-only) after one request proves the server
    answers. Blocking: call before the app runs or from a thread."""
    settings_args = argparse.Namespace(**vars(args))
    if context is not None:
        settings_args.context = context
    if namespace is not None:
        settings_args.namespace = namespace
    try:
        from collectors.cluster import ClusterError, ConnectionSettings
        from collectors.cluster import connect as connect_cluster
        from collectors.live import LiveFeed, options_from_args
    except ImportError as exc:
        raise LaunchError(f"asr-cache-tui: the cluster feed is not available ({exc}).") from None
    try:
        options = options_from_args(settings_args)
        cluster = connect_cluster(ConnectionSettings.from_args(settings_args))
    except (ClusterError, ValueError) as exc:
        raise LaunchError(explain(settings_args, str(exc)), str(exc)) from None
    try:
        cluster.check()
    except ClusterError as exc:
        cluster.close()
        raise LaunchError(explain(settings_args, str(exc), cluster.context), str(exc)) from None
    missing = cluster.namespace_exists() is False  # None (cannot tell): say nothing
    feed = LiveFeed(cluster, options, owns_cluster=True)
    actions = None if settings_args.read_only else _actions_for(cluster, feed)
    return Connection(feed, actions, cluster.context, cluster.namespace, cluster.server, missing)


def explain(args: argparse.Namespace, error: str, context: str | None = None) -> str:
    """The connection failure as the user needs it: what, where, what to try."""
    paths = ", ".join(str(p) for p in kubeconfig_paths(getattr(args, "kubeconfig", None)))
    source = (
        "--kubeconfig"
        if getattr(args, "kubeconfig", None)
        else ("$KUBECONFIG" if os.environ.get("KUBECONFIG", "").strip() else "default")
    )
    ctx = context or getattr(args, "context", None) or "(its current context)"
    ns = getattr(args, "namespace", None) or "(the context's, else smallest)"
    return "\n".join(
        [
            f"asr-cache-tui: cannot connect: {redact_text(error)}",
            f"  kubeconfig: {paths} ({source})",
            f"  context:    {ctx}",
            f"  namespace:  {ns}",
            "  try: `kubectl config get-contexts`, then `kubectl --context NAME get pods -n NS`;",
            "       pass --kubeconfig/--context/-n to pick another, or `asr-cache-tui --demo`",
            "       to see the dashboard on a simulated cluster.",
        ]
    )


def _actions_for(cluster: Any, feed: Any) -> ActionProvider | None:
    """The actions package's provider, or None (the dashboard then offers no actions)."""
    try:
        from actions.provider import ServiceActionProvider
        from actions.service import ActionService
    except ImportError:
        return None
    return FeedAwareActions(ServiceActionProvider(ActionService(cluster)), feed)


class FeedAwareActions:
    """Hands verify results to the feed, so a mismatch shows as ``corrupt`` at once."""

    def __init__(self, inner: ActionProvider, feed: Any) -> None:
        self.inner = inner
        self.feed = feed

    def permissions(self) -> Mapping[str, str | None]:
        return self.inner.permissions()

    def plan(self, action_id: str, snapshot: ClusterSnapshot, pod_name: str | None) -> ActionPlan:
        return self.inner.plan(action_id, snapshot, pod_name)

    def execute(
        self,
        plan: ActionPlan,
        progress: ProgressCallback | None = None,
        cancel: Any = None,
    ) -> ActionResult:
        result = self.inner.execute(plan, progress, cancel)
        data = result.details.get("verification") if plan.action == VERIFY else None
        record = getattr(self.feed, "record_verification", None)
        if isinstance(data, Mapping) and record is not None:
            # A result shape this build does not know only leaves the pods table without it.
            with contextlib.suppress(TypeError):
                record(plan.target.partition("/")[2], VerificationResult(**dict(data)))
        return result


class KubeSwitcher:
    """``n``/``c``: reconnect with the same flags and another namespace or context."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def contexts(self) -> Sequence[str]:
        return list_contexts(getattr(self.args, "kubeconfig", None))

    def connect(self, context: str, namespace: str) -> Connection:
        try:
            return connect(self.args, context=context, namespace=namespace)
        except LaunchError as exc:
            raise LaunchError(exc.reason) from None  # one sentence, for a notification
