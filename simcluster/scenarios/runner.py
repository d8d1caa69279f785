"""Applying a checked scenario to a running SimCluster, and keeping it going while it runs.

    runtime = await apply_scenario(cluster, "efs-shared", ScenarioOptions(model_size=4 << 20))
    ...
    await runtime.stop()

    start_scenario(cluster, "efs-shared")          # from another thread (the demo, sync tests)

    async with run_scenario("efs-shared", root_dir, model_size=4 << 20) as world:
        world.cluster, world.runtime                # a cluster of its own with the scenario

Applying means: serve the model files (sizes scaled by the options, speed capped per
connection), set the model server's faults, the ASR stand-in's load memory factor and the
health endpoints' answers, add the nodes, register the baked images, create the objects
(classes, claims and config first), seed the volumes, then create everything else. While it
runs, the runtime keeps the scenario's timed parts going: stalls that hold, flaky network
faults re-armed now and then, and the scenario's steps (scale up, delete a pod, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import shutil
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from simcluster.apiserver.patch import strategic_merge
from simcluster.errors import ApiError
from simcluster.kubelet.network import network_down
from simcluster.kubelet.power import power_off
from simcluster.kubelet.programs import standins
from simcluster.kubelet.registry import agents
from simcluster.modelserver import Faults, ModelFile
from simcluster.quantity import quantity_bytes
from simcluster.resources import RESOURCES
from simcluster.scenarios.loader import ScenarioError, load_scenario
from simcluster.scenarios.spec import (
    FaultSpec,
    FlakySpec,
    ObjectSpec,
    Scenario,
    Size,
    Source,
    StepSpec,
    VolumeSeed,
)
from simcluster.scenarios.template import TemplateError, mapping_resolver, render, render_text

log = logging.getLogger("simcluster.scenarios")

POLL = 0.1
EARLY_KINDS = (
    "Namespace",
    "StorageClass",
    "ConfigMap",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Service",
)
_KIND_TO_PLURAL = {t.kind: t.plural for t in RESOURCES.values() if t.stored}


@dataclass(frozen=True)
class ScenarioOptions:
    """How to scale a scenario: model size (bytes), speed (bytes/s per connection; 0 = no
    cap; None = the scenario's own), a seed for content and random faults, and how long a
    silent node stays Ready (seconds; None = the scenario's own, else the cluster's)."""

    model_size: int | None = None
    speed: int | None = None
    seed: int = 0
    node_monitor_grace: float | None = None


_RUNTIMES: weakref.WeakKeyDictionary[Any, ScenarioRuntime] = weakref.WeakKeyDictionary()


def runtime_for(cluster: Any) -> ScenarioRuntime | None:
    """The scenario running on a cluster, if any."""
    return _RUNTIMES.get(cluster)


class ScenarioRuntime:
    """A scenario applied to one cluster: its model files, faults and background tasks."""

    def __init__(self, cluster: Any, scenario: Scenario, options: ScenarioOptions) -> None:
        self.cluster = cluster
        self.scenario = scenario
        self.options = options
        self.namespace = scenario.namespace
        self.models: dict[str, ModelFile] = {}
        self.speed: int | None = scenario.speed if options.speed is None else options.speed or None
        self.base_faults: dict[str, Faults] = {}
        self.rng = random.Random(options.seed)
        self._tasks: list[asyncio.Task[None]] = []
        self._holds: dict[str, asyncio.Task[None]] = {}
        self._installed = False
        self.steps_done: list[int] = []

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def model_server(self) -> Any:
        return self.cluster.model_server

    # -- start ------------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.scenario
        standins.install()
        self._installed = True
        _RUNTIMES[self.cluster] = self
        await self._serve_models()
        if s.load_memory_factor is not None:
            agents(self.cluster).settings.load_memory_factor = s.load_memory_factor
        for h in s.health:
            agents(self.cluster).settings.health[(s.namespace, f"{h.kind}/{h.name}")] = h.status
        values = self._values()
        grace = self.options.node_monitor_grace
        grace = s.node_monitor_grace if grace is None else grace
        if grace is not None:  # before the nodes: their heartbeats follow it
            self.cluster.node_monitor_grace = grace
        for node in s.nodes:
            if self.cluster.store.peek("nodes", None, node.name) is None:
                await self.cluster.add_node(node.name, node.labels or None)
        self._ensure_namespace(s.namespace)
        for image in s.images:
            if image.pull:
                self.cluster.refuse_image(image.image, image.pull)
                continue
            files = {path: self._image_source(src) for path, src in image.files}
            self.cluster.register_image(image.image, files)
        objects = self._render_objects(values)
        early = [(o, spec) for o, spec in objects if o.get("kind") in EARLY_KINDS]
        late = [(o, spec) for o, spec in objects if o.get("kind") not in EARLY_KINDS]
        self._create(early)
        for seed in s.volumes:
            await self._seed(seed, values)
        self._create(late)
        for fault in s.faults:
            self._start_fault(fault)
        for flaky in s.flaky:
            self._spawn(self._flaky(flaky), f"flaky {flaky.model}")
        for i, step in enumerate(s.steps):
            self._spawn(self._step(i, step), f"step {i}")

    async def _serve_models(self) -> None:
        ms = self.model_server
        for name, spec in self.scenario.models.items():
            size = self.scenario.model_bytes(name, self.options.model_size)
            self.models[name] = ms.add_file(spec.path, size, seed=spec.seed + self.options.seed)
            self.base_faults[spec.path] = Faults(rate_limit=self.speed)
            ms.set_faults(spec.path, self.base_faults[spec.path])
        files = list(self.models.values())
        await asyncio.to_thread(lambda: [f.sha256 for f in files])

    def _values(self, local: dict[str, str] | None = None) -> dict[str, Any]:
        ms = self.model_server
        values: dict[str, Any] = {
            "server": ms.base_url,
            "namespace": self.namespace,
            "scenario": self.scenario.name,
        }
        for name, f in self.models.items():
            values[f"model.{name}.url"] = ms.url(f.path)
            values[f"model.{name}.sha256"] = f.sha256
            values[f"model.{name}.size"] = f.size
            values[f"model.{name}.path"] = f.path
            values[f"model.{name}.file"] = f.path.rsplit("/", 1)[-1]
        values.update(local or {})
        return values

    def _ensure_namespace(self, namespace: str) -> None:
        store = self.cluster.store
        if store.peek("namespaces", None, namespace) is None:
            store.create("namespaces", {"metadata": {"name": namespace}})

    def _render_objects(self, values: dict[str, Any]) -> list[tuple[dict[str, Any], ObjectSpec]]:
        out = []
        for spec in self.scenario.objects:
            copies = _copies(spec.repeat)
            for local in copies:
                try:
                    obj = render(spec.obj, mapping_resolver({**values, **local}))
                except TemplateError as exc:
                    raise ScenarioError(self.scenario.file, spec.line, str(exc)) from None
                plural = _KIND_TO_PLURAL[obj["kind"]]
                if RESOURCES[plural].namespaced:
                    obj.setdefault("metadata", {}).setdefault("namespace", self.namespace)
                out.append((obj, spec))
        return out

    def _create(self, objects: list[tuple[dict[str, Any], ObjectSpec]]) -> None:
        for obj, spec in objects:
            ns = obj["metadata"].get("namespace")
            if ns:
                self._ensure_namespace(ns)
            try:
                self.cluster.apply(obj)
            except ApiError as exc:
                name = f"{obj.get('kind')} {obj['metadata'].get('name')}"
                raise ScenarioError(
                    self.scenario.file, spec.line, f"{name} was refused: {exc.message}"
                ) from None

    # -- files --------------------------------------------------------------------------------

    def _image_source(self, src: Source) -> Any:
        if src.kind == "model":
            f = self.models[src.model or ""]
            if src.corrupt_at is not None:
                return _Corrupted(f, src.corrupt_at.of(f.size))
            return f
        if src.kind == "text":
            return src.text or ""
        if src.kind == "host":
            return src.host
        raise ScenarioError(self.scenario.file, 0, f"{src.kind} files cannot be baked into images")

    async def _seed(self, seed: VolumeSeed, values: dict[str, Any]) -> None:
        copies = _copies(seed.repeat)
        for local in copies:
            resolve = mapping_resolver({**values, **local})
            claim = str(render_text(seed.claim, resolve))
            pvc = self.cluster.store.peek("persistentvolumeclaims", seed.namespace, claim)
            if pvc is None:
                raise ScenarioError(
                    self.scenario.file,
                    seed.line,
                    f"volume seed names PersistentVolumeClaim {claim!r}, which the scenario "
                    f"does not create in namespace {seed.namespace!r}",
                )
            spec = pvc.get("spec") or {}
            request = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
            size = quantity_bytes(str(request)) if request else 0
            sc = str(spec.get("storageClassName") or "")
            vol = await agents(self.cluster).volumes.pvc(seed.namespace, claim, size, sc)
            for rel, src in seed.files:
                path = str(render_text(rel, resolve))
                try:
                    await asyncio.to_thread(self._write_seed, vol.host_path, path, src)
                except OSError as exc:
                    raise ScenarioError(
                        self.scenario.file,
                        seed.line,
                        f"cannot seed {path} on PVC {claim}: {exc.strerror or exc}",
                    ) from None

    def _write_seed(self, root: Path, rel: str, src: Source) -> None:
        target = (root / rel).resolve()
        if root.resolve() not in target.parents:
            raise OSError(f"{rel} is outside the volume")
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.kind == "sparse":
            with open(target, "wb") as fh:
                fh.truncate(self.models[src.model or ""].size)
        elif src.kind == "model":
            f = self.models[src.model or ""]
            corrupt = src.corrupt_at.of(f.size) if src.corrupt_at is not None else None
            _write_model(target, f, corrupt)
        elif src.kind == "text":
            target.write_text(src.text or "")
        elif src.host is not None:
            shutil.copyfile(src.host, target)

    # -- faults -------------------------------------------------------------------------------

    def model_path(self, model: str) -> str:
        try:
            return self.scenario.models[model].path
        except KeyError:
            known = ", ".join(self.scenario.models) or "none"
            raise LookupError(
                f"no model {model!r} in scenario {self.name} (models: {known})"
            ) from None

    def faults_for(self, model: str, fields: dict[str, Any]) -> Faults:
        """The scenario's base faults (speed cap) with `fields` (sizes may be Size values)."""
        f = self.models[model]
        concrete: dict[str, Any] = {
            k: (v.of(f.size) if isinstance(v, Size) else v) for k, v in fields.items()
        }
        return replace(self.base_faults[f.path], **concrete)

    def set_faults(self, model: str, fields: dict[str, Any]) -> Faults:
        path = self.model_path(model)
        self._cancel_hold(path)
        faults = self.faults_for(model, fields)
        self.model_server.set_faults(path, faults)
        return faults

    def clear_faults(self, model: str | None = None) -> list[str]:
        """Back to the plain speed cap, and let stalled responses go on."""
        names = list(self.scenario.models) if model in (None, "all") else [model or ""]
        for name in names:
            path = self.model_path(name)
            self._cancel_hold(path)
            self.model_server.set_faults(path, self.base_faults[path])
            self.model_server.release_stalls(path)
        return names

    def _start_fault(self, spec: FaultSpec) -> None:
        path = self.model_path(spec.model)
        self.model_server.set_faults(path, self.faults_for(spec.model, spec.fields))
        if spec.hold:
            task = self._spawn(self._hold(spec.model, path), f"hold {spec.model}")
            self._holds[path] = task

    def _cancel_hold(self, path: str) -> None:
        task = self._holds.pop(path, None)
        if task is not None:
            task.cancel()

    async def _hold(self, model: str, path: str) -> None:
        """After the first stall, every later request stalls at once too, until cleared."""
        ms = self.model_server
        seen = ms.stats(path).stalls
        await _poll(lambda: ms.stats(path).stalls > seen)
        ms.set_faults(path, self.faults_for(model, {"stall_after": 0}))

    async def _flaky(self, spec: FlakySpec) -> None:
        """Arm one drop and/or one error answer; re-arm once they fired (or after a while)."""
        ms = self.model_server
        path = self.model_path(spec.model)
        size = self.models[spec.model].size
        first = True
        while True:
            fields: dict[str, Any] = {}
            if spec.drop_after is not None and (first or self.rng.random() < 0.6):
                lo, hi = spec.drop_after[0].of(size), spec.drop_after[1].of(size)
                fields["drop_after"] = self.rng.randint(min(lo, hi), max(lo, hi))
                fields["drop_requests"] = 1
            if spec.fail_status is not None and (first or self.rng.random() < 0.5):
                fields.update(fail_status=spec.fail_status, fail_first=1)
                if spec.retry_after is not None:
                    fields["retry_after"] = spec.retry_after
            before = ms.stats(path)
            ms.set_faults(path, self.faults_for(spec.model, fields))
            first = False
            await asyncio.sleep(spec.every * (0.5 + self.rng.random()))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(
                    _poll(partial(_armed_fired, ms, path, before, fields)), 4 * spec.every
                )

    # -- steps --------------------------------------------------------------------------------

    async def _step(self, index: int, step: StepSpec) -> None:
        if step.ready_deployment is not None:
            name, wanted = step.ready_deployment, step.ready_replicas
            await _poll(lambda: self._ready(name) >= wanted)
        if step.complete_job is not None:
            job = step.complete_job
            await _poll(lambda: self._complete(job))
        if step.after:
            await asyncio.sleep(step.after)
        store = self.cluster.store
        ns = self.namespace
        try:
            if step.scale is not None:
                name, replicas = step.scale

                def scale(obj: dict[str, Any]) -> None:
                    obj["spec"]["replicas"] = replicas

                store.mutate("deployments", ns, name, scale)
            elif step.delete_pods is not None:
                selector, count = step.delete_pods
                pods, _ = store.list("pods", ns, label_selector=selector)
                pods = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
                pods.sort(key=lambda p: p["metadata"].get("creationTimestamp", ""))
                for pod in pods[:count]:
                    store.delete("pods", ns, pod["metadata"]["name"])
            elif step.clear_faults is not None:
                self.clear_faults(step.clear_faults)
            elif step.node_down is not None:
                kubelet = agents(self.cluster).kubelets.get(step.node_down)
                if kubelet is not None and kubelet.powered:
                    await power_off(kubelet)
            elif step.node_not_ready is not None:
                kubelet = agents(self.cluster).kubelets.get(step.node_not_ready)
                if kubelet is not None and kubelet.powered and kubelet.network_error is None:
                    network_down(kubelet)
            elif step.patch is not None:
                name, body = step.patch
                try:
                    rendered = render(body, mapping_resolver(self._values()))
                except TemplateError as exc:
                    raise ScenarioError(self.scenario.file, step.line, str(exc)) from None
                current = store.get("deployments", ns, name)
                store.update("deployments", strategic_merge(current, rendered))
        except ApiError as exc:
            log.warning("scenario %s step %d failed: %s", self.name, index + 1, exc.message)
            return
        self.steps_done.append(index)

    def _complete(self, job: str) -> bool:
        obj = self.cluster.store.peek("jobs", self.namespace, job)
        conditions = ((obj or {}).get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Complete" and c.get("status") == "True" for c in conditions)

    def _ready(self, deployment: str) -> int:
        obj = self.cluster.store.peek("deployments", self.namespace, deployment)
        return int(((obj or {}).get("status") or {}).get("readyReplicas") or 0)

    # -- lifecycle ----------------------------------------------------------------------------

    def _spawn(self, coro: Any, what: str) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        task.set_name(f"scenario {self.name}: {what}")
        task.add_done_callback(_log_failure)
        self._tasks.append(task)
        return task

    async def stop(self) -> None:
        """Stop the background tasks and unregister the stand-in commands."""
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._installed:
            self._installed = False
            standins.uninstall()
        if _RUNTIMES.get(self.cluster) is self:
            del _RUNTIMES[self.cluster]


def _copies(repeat: Any) -> list[dict[str, str]]:
    """One set of local placeholder values per copy of a (possibly repeated) entry."""
    return [{}] if repeat is None else [{repeat.var: v} for v in repeat.values()]


async def _poll(predicate: Callable[[], bool]) -> None:
    """Wait until predicate() holds, checking every POLL seconds (stats live in other threads)."""
    while True:
        if predicate():
            return
        await asyncio.sleep(POLL)


def _armed_fired(ms: Any, path: str, before: Any, fields: dict[str, Any]) -> bool:
    return _fired(before, ms.stats(path), fields)


def _fired(before: Any, now: Any, fields: dict[str, Any]) -> bool:
    """Whether the faults armed since `before` (stats) have all happened."""
    if "drop_after" in fields and now.drops <= before.drops:
        return False
    status = fields.get("fail_status")
    return not (status and now.statuses.get(status, 0) <= before.statuses.get(status, 0))


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s failed: %r", task.get_name(), task.exception())


class _Corrupted:
    """A model's content with one byte flipped (a baked or seeded copy that is wrong)."""

    def __init__(self, f: ModelFile, offset: int) -> None:
        self.size = f.size
        self._f = f
        self._at = min(max(offset, 0), max(f.size - 1, 0))

    def iter_bytes(self) -> Iterator[bytes]:
        pos = 0
        for chunk in self._f.iter_bytes():
            if pos <= self._at < pos + len(chunk):
                b = bytearray(chunk)
                b[self._at - pos] ^= 0xFF
                chunk = bytes(b)
            pos += len(chunk)
            yield chunk


def _write_model(target: Path, f: ModelFile, corrupt: int | None) -> None:
    source: Any = _Corrupted(f, corrupt) if corrupt is not None else f
    tmp = target.with_name(target.name + ".seeding")
    with open(tmp, "wb") as fh:
        for chunk in source.iter_bytes():
            fh.write(chunk)
    os.replace(tmp, target)


# -- entry points ---------------------------------------------------------------------------


def _scenario(scenario: Scenario | str) -> Scenario:
    return load_scenario(scenario) if isinstance(scenario, str) else scenario


async def apply_scenario(
    cluster: Any, scenario: Scenario | str, options: ScenarioOptions | None = None
) -> ScenarioRuntime:
    """Apply a scenario (name, path or checked Scenario) to a started cluster, on its loop."""
    existing = runtime_for(cluster)
    if existing is not None:
        raise ValueError(f"scenario {existing.name} is already running on this cluster")
    runtime = ScenarioRuntime(cluster, _scenario(scenario), options or ScenarioOptions())
    try:
        await runtime.start()
    except BaseException:
        await runtime.stop()
        raise
    return runtime


def start_scenario(
    cluster: Any,
    scenario: Scenario | str,
    options: ScenarioOptions | None = None,
    timeout: float = 60.0,
) -> ScenarioRuntime:
    """`apply_scenario` from another thread (a cluster started with run_in_thread)."""
    runtime: ScenarioRuntime = cluster.run(
        apply_scenario(cluster, scenario, options), timeout=timeout
    )
    return runtime


async def stop_scenario(cluster: Any) -> None:
    """Stop the scenario running on a cluster (SimCluster.stop calls this)."""
    runtime = runtime_for(cluster)
    if runtime is not None:
        await runtime.stop()


@dataclass
class World:
    """A cluster of its own with a scenario applied (tests, the CLI)."""

    cluster: Any
    runtime: ScenarioRuntime
    extras: dict[str, Any] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def run_scenario(
    scenario: Scenario | str,
    root_dir: Path | str,
    options: ScenarioOptions | None = None,
    **cluster_kwargs: Any,
) -> AsyncIterator[World]:
    """Start a SimCluster (no default nodes: the scenario names them) with the scenario."""
    from simcluster.cluster import SimCluster

    spec = _scenario(scenario)
    cluster_kwargs.setdefault("nodes", 0)
    async with SimCluster(root_dir, **cluster_kwargs) as cluster:
        runtime = await apply_scenario(cluster, spec, options)
        try:
            yield World(cluster, runtime)
        finally:
            await runtime.stop()
