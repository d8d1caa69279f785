"""What to say of a pod whose model is loaded but whose readiness probe fails: the model cache is
fine, the server's health check is not, and nothing this tool runs would change that.

A restart loads the same good model and meets the same failing health check; a new download or
deleting the model only makes it slower. What is wrong is whatever the server's health endpoint
depends on, which its own log says: the advice points there, with the command that shows it.
"""

from __future__ import annotations

from actions.advice import Advice, kubectl
from actions.words import unstopped
from collectors.model import ContainerInfo, PodInfo

LOG_LINES = 100  # enough of the server's log to see why its health check fails


def unready(pod: PodInfo) -> ContainerInfo | None:
    """The running container whose readiness probe keeps the pod out of its Service."""
    return next(
        (
            c
            for c in pod.containers
            if not c.init and c.state == "running" and not c.ready and c.probe("readiness")
        ),
        None,
    )


def readiness_why(pod: PodInfo) -> str:
    """The evidence: the model is loaded, and the probe's latest failure."""
    failure = unstopped(pod.unready_because or "no failure recorded")
    return (
        f"the model is loaded (the server logged that it is ready), but pod {pod.name} is not "
        f"Ready: {_probe(pod)} fails: {failure}"
    )


def readiness_advice(namespace: str, pod: PodInfo) -> Advice:
    """Why nothing here helps and what to check; and the ``kubectl logs`` that shows the
    server's own words, when the container is known."""
    c = unready(pod)
    spec = c.probe("readiness") if c is not None else None
    endpoint = f" ({spec.handler})" if spec is not None else ""
    said = (
        "The model is loaded and fine: this is not a model-cache problem. The pod stays out of "
        "its Service because its readiness probe fails (the evidence says how). A restart, a new "
        "download or deleting the model would not help: the server would load the same model "
        f"and fail the same check. Check what the server's health endpoint{endpoint} depends "
        "on, and the server's log"
    )
    if c is None:
        return Advice(said + ".")
    command = kubectl(namespace, "logs", pod.name, "-c", c.name, f"--tail={LOG_LINES}")
    return Advice(said + " (the command below).", (command,))


def _probe(pod: PodInfo) -> str:
    """The probe in words: what it checks and how often."""
    c = unready(pod)
    spec = c.probe("readiness") if c is not None else None
    if spec is None:
        return "its readiness probe"
    return f"its readiness probe ({spec.handler}, every {spec.period} s)"
