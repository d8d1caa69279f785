"""What a refused fix tells a person to do: the change in words, and whole ``kubectl`` commands
to copy (``c`` in the dialog, ``run by hand:`` lines from the command line).

The tool never runs them: each changes what the operator owns (a Deployment's template rolls
every pod of it, a Secret holds a value only they know), and each is shown as it would be typed,
quoted for a shell, so that it can be pasted as it is.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

# What a command needs filled in by hand (a Secret's value): quoted, so a paste without editing
# stores these very characters and runs nothing else.
PLACEHOLDER = "<value>"


@dataclass(frozen=True)
class Advice:
    """What to change, in sentences, and the commands that change it."""

    said: str
    commands: tuple[str, ...] = ()


def kubectl(namespace: str, *args: str) -> str:
    """``kubectl -n NAMESPACE ARGS…``, quoted for a shell."""
    return shlex.join(["kubectl", "-n", namespace, *args])
