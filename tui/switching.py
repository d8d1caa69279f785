"""The port for ``n`` (namespace) and ``c`` (context): reconnecting is the launcher's business.

The app knows nothing of kubeconfigs; the launcher gives it a ``FeedSwitcher`` that lists
contexts and builds a new feed (and action provider) for another context or namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from collectors.feed import ClusterFeed
from tui.actions_port import ActionProvider


@dataclass(frozen=True)
class Connection:
    """A ready feed for one context and namespace (not started yet). ``namespace_missing``:
    the API said the namespace does not exist (its pods list would only look empty)."""

    feed: ClusterFeed
    actions: ActionProvider | None
    context: str
    namespace: str
    server: str = ""
    namespace_missing: bool = False


class FeedSwitcher(Protocol):
    """Both methods may block (they read kubeconfig, may probe the server): call from threads."""

    def contexts(self) -> Sequence[str]: ...

    def connect(self, context: str, namespace: str) -> Connection:
        """Raise an exception with a one-sentence message when it cannot connect."""
