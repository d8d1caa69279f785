"""What a refused fix tells a person to do: the change in words, and whole ``kubectl`` commands
to copy (``c`` in the dialog, ``run by hand:`` lines from the command line).

The tool never runs them: each changes what the operator owns (a Deployment's template rolls
every pod of it, a Secret holds a value only they know), and each is shown as it would be typed,
quoted for a shell, so that it can be pasted as it is.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass

from collectors.model import ClusterSnapshot, PodInfo
from collectors.units import format_bytes

GiB = 2**30
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


def whole_gib(n: float) -> str:
    """A size for a pod's template, rounded up to whole GiB (``3Gi``): the unit a 20-30 GB
    model's memory and volumes are written in."""
    return f"{max(1, math.ceil(n / GiB))}Gi"


def model_size(snapshot: ClusterSnapshot, pod: PodInfo) -> int | None:
    """The model's size as a download showed it: this pod's, else a pod of its release's."""
    if pod.progress is not None and pod.progress.bytes_total:
        return pod.progress.bytes_total
    sizes = (
        p.progress.bytes_total
        for p in snapshot.pods
        if p.release == pod.release and p.progress is not None
    )
    return next((s for s in sizes if s), None)


def raised(limit: int, model: int | None, headroom: float) -> tuple[str, str]:
    """A new size for a limit found too small (memory, an emptyDir's sizeLimit): twice it, or
    the model's size plus ``headroom`` when that is more, rounded up to whole GiB; and how it
    was chosen, in words. An estimate: what the pod takes is not measured."""
    doubled = 2 * limit
    if model and model * (1 + headroom) > doubled:
        how = f"the model's {format_bytes(model)} plus {headroom:.0%}"
        return whole_gib(model * (1 + headroom)), how
    return whole_gib(doubled), f"twice the current limit of {format_bytes(limit)}"
