"""Messages that carry work results to the event loop, named for what happened.

Background threads (the feed, action workers, cache listings) only ever post these; handlers
on the app and screens turn them into screen updates.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.message import Message

from actions.plan import ActionPlan, ActionResult
from collectors.model import CacheFile, ClusterSnapshot, LogLine, VolumeUsage
from tui.switching import Connection
from tui.timeline import Timeline


class SnapshotUpdated(Message):
    """A new picture of the cluster. High rate: a newer one replaces a queued older one."""

    def __init__(self, snapshot: ClusterSnapshot, origin: object = None) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.origin = origin  # the bridge that posted it; None when posted directly

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotUpdated)


class LogLinesReceived(Message):
    """New log lines of the pods someone looks at: the open detail's pod, or every pod while
    the timeline is open (already bounded and redacted by the feed; each names its pod)."""

    def __init__(self, lines: Sequence[LogLine], origin: object = None) -> None:
        super().__init__()
        self.lines = tuple(lines)
        self.origin = origin


class RecentLogLoaded(Message):
    """The feed's kept history of a pod's log, fetched when its detail opens."""

    def __init__(self, pod: str, lines: Sequence[LogLine]) -> None:
        super().__init__()
        self.pod = pod
        self.lines = tuple(lines)


class TimelineLoaded(Message):
    """The timeline's first model, built in a thread from every pod's kept log and the events."""

    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline = timeline


class CacheListed(Message):
    """``df`` of a pod's cache mount and the files in its cache directory (or why not)."""

    def __init__(
        self,
        pod: str,
        usage: VolumeUsage | None,
        files: Sequence[CacheFile] | None,
        error: str | None = None,
    ) -> None:
        super().__init__()
        self.pod = pod
        self.usage = usage
        self.files = None if files is None else tuple(files)
        self.error = error


class PermissionsLoaded(Message):
    """What RBAC allows, per action id (``None`` = allowed, else why forbidden)."""

    def __init__(self, permissions: dict[str, str | None], error: str | None = None) -> None:
        super().__init__()
        self.permissions = permissions
        self.error = error


class ActionPlanned(Message):
    """A plan is ready to be shown for confirmation (or shown as refused)."""

    def __init__(self, plan: ActionPlan) -> None:
        super().__init__()
        self.plan = plan


class ActionPlanFailed(Message):
    """Planning itself failed (e.g. the API is gone); one sentence for the user."""

    def __init__(self, action_id: str, error: str) -> None:
        super().__init__()
        self.action_id = action_id
        self.error = error


class ActionConfirmed(Message):
    """The user confirmed a plan; it is being executed."""

    def __init__(self, plan: ActionPlan) -> None:
        super().__init__()
        self.plan = plan


class ActionProgressed(Message):
    """A running action said how far it has come. A newer line replaces a queued older one."""

    def __init__(self, plan: ActionPlan, text: str) -> None:
        super().__init__()
        self.plan = plan
        self.text = text

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ActionProgressed) and message.plan is self.plan


class ActionFinished(Message):
    """An executed plan's outcome, and how long it ran (seconds)."""

    def __init__(self, result: ActionResult, seconds: float = 0.0) -> None:
        super().__init__()
        self.result = result
        self.seconds = seconds


class ContextsListed(Message):
    """The kubeconfig's contexts, for the ``c`` picker (or why they could not be read)."""

    def __init__(self, names: Sequence[str], error: str | None = None) -> None:
        super().__init__()
        self.names = tuple(names)
        self.error = error


class FeedSwitched(Message):
    """A new namespace or context is connected (``connection``) or failed to (``error``)."""

    def __init__(
        self,
        context: str | None,
        namespace: str | None,
        error: str | None,
        connection: Connection | None = None,
    ) -> None:
        super().__init__()
        self.connection = connection
        self.context = context
        self.target_namespace = namespace
        self.error = error
