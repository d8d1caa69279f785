"""What to change for a container killed for memory: its limit, above what loading the model
takes. Nothing this tool runs helps: the model is fine, and the next start is killed the same
way. How much loading takes is not measured anywhere the tool can read, so the value given is
an estimate, said as one: twice the current limit, or the model's size plus half when that is
more (the server holds the model and its own state while it loads)."""

from __future__ import annotations

from actions.advice import Advice, kubectl, raised
from actions.targets import deployment_of, owner_name
from collectors.model import ContainerInfo, PodInfo

HEADROOM = 0.5  # beyond the model's size, for the server's own memory while it loads


def memory_advice(namespace: str, pod: PodInfo, killed: ContainerInfo, model: int | None) -> Advice:
    """Raise ``killed``'s memory limit; with the ``kubectl set resources`` that does, when its
    limit and Deployment are known (``model``: the model's size, when a download showed it)."""
    what = f"{'init container' if killed.init else 'container'} {killed.name}"
    need = (
        ""
        if killed.init
        else " above what loading the model takes (at least the model's size, plus the server's "
        "own)"
    )
    said = (
        f"Raise {what}'s resources.limits.memory in {owner_name(pod)}{need}. Deleting the model, "
        "downloading it again or restarting the pod would not help: the next start is killed the "
        "same way."
    )
    deployment, limit = deployment_of(pod), killed.memory_limit
    if deployment is None or not limit:
        return Advice(said)
    size, how = raised(limit, model, HEADROOM)
    said += (
        f" The command below sets it to {size}, an estimate: {how}, rounded up to whole GiB (what "
        "loading takes is not measured here; if it is killed again, raise it further). It rolls "
        "out every pod of the Deployment."
    )
    command = kubectl(
        namespace,
        "set",
        "resources",
        f"deployment/{deployment}",
        "-c",
        killed.name,
        f"--limits=memory={size}",
    )
    return Advice(said, (command,))
