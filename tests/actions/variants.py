"""Named scenarios changed the way the README invites ("copy a scenario and change it"), for the
few situations a shipped file does not reach. Each change is small and says why.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

from simcluster.scenarios import Scenario, load_scenario
from simcluster.scenarios.spec import FaultSpec, Size

HERE = Path(__file__).parent


def cache_in_emptydir(name: str) -> Scenario:
    """The named scenario with its pods' claim-backed cache moved to an emptyDir.

    An emptyDir goes with its pod, so a restart cannot resume a partial kept there: the one
    situation where fixing a stall must say the download starts again from zero.
    """
    scenario = load_scenario(name)
    objects = []
    for spec in scenario.objects:
        obj: dict[str, Any] = copy.deepcopy(spec.obj)
        if obj.get("kind") == "PersistentVolumeClaim":
            continue
        if obj.get("kind") == "Deployment":
            for volume in obj["spec"]["template"]["spec"].get("volumes") or ():
                if "persistentVolumeClaim" in volume:
                    del volume["persistentVolumeClaim"]
                    volume["emptyDir"] = {}
        objects.append(dataclasses.replace(spec, obj=obj))
    return dataclasses.replace(scenario, objects=tuple(objects))


def held(name: str, model: str, at_percent: float = 10.0) -> Scenario:
    """The named scenario with every response for ``model`` held after ``at_percent`` of the
    file, until the test clears the model's faults (``runtime.clear_faults``).

    The scenario's own faults for the model (a speed cap) are kept; the hold only makes "still
    downloading" a state the test controls instead of a race against a fast download.
    """
    scenario = load_scenario(name)
    stall = {"stall_after": Size(percent=at_percent)}
    faults = [
        dataclasses.replace(f, fields={**f.fields, **stall}) if f.model == model else f
        for f in scenario.faults
    ]
    if not any(f.model == model for f in scenario.faults):
        faults.append(FaultSpec(model, stall))
    return dataclasses.replace(scenario, faults=tuple(faults))


def faulted(name: str, model: str, **fields: Any) -> Scenario:
    """The named scenario with ``model``'s own faults replaced by ``fields`` (sizes may be
    ``Size`` values): a server that fails the same way on every run of a container."""
    kept = tuple(f for f in load_scenario(name).faults if f.model != model)
    return dataclasses.replace(load_scenario(name), faults=(*kept, FaultSpec(model, fields)))


def copied(file_name: str) -> Scenario:
    """A scenario file kept next to these tests (a copy of a built-in one, changed)."""
    return load_scenario(str(HERE / "scenarios" / file_name))


def with_env(scenario: Scenario, deployment: str, **env: str) -> Scenario:
    """The scenario with env variables set on every container (init containers too) of one
    Deployment."""
    objects = []
    for spec in scenario.objects:
        obj: dict[str, Any] = copy.deepcopy(spec.obj)
        if obj.get("kind") == "Deployment" and obj["metadata"]["name"] == deployment:
            pod_spec = obj["spec"]["template"]["spec"]
            for container in [*pod_spec.get("initContainers", ()), *pod_spec["containers"]]:
                kept = [e for e in container.get("env") or () if e["name"] not in env]
                container["env"] = kept + [{"name": k, "value": v} for k, v in env.items()]
        objects.append(dataclasses.replace(spec, obj=obj))
    return dataclasses.replace(scenario, objects=tuple(objects))
