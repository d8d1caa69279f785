"""A pod object (plain dict) read into ``PodInfo``: containers, model settings from the env,
and which volume holds the model cache. Pure; the model state is decided in ``state.py``."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any

from collectors import kube
from collectors.kubectl_status import kubectl_status
from collectors.model import ContainerInfo, ModelSettings, PodInfo
from collectors.probes import probes_of
from collectors.redact import redact_url
from collectors.units import SizeError, parse_size

DEFAULT_CACHE_DIR = "/app/models"
DOWNLOADER_COMMANDS = ("asr-cache-download", "actions.downloader")


_State = tuple[str, str | None, str | None, int | None]


def _container_state(status: Mapping[str, Any] | None) -> _State:
    state = kube.dig(status, "state") if status else None
    if not isinstance(state, Mapping) or not state:
        return ("unknown" if status else "waiting", None, None, None)
    for key in ("running", "terminated", "waiting"):
        detail = state.get(key)
        if isinstance(detail, Mapping):
            code = detail.get("exitCode") if key == "terminated" else None
            return (
                key,
                detail.get("reason") if isinstance(detail.get("reason"), str) else None,
                detail.get("message") if isinstance(detail.get("message"), str) else None,
                code if isinstance(code, int) else None,
            )
    return ("unknown", None, None, None)


def containers_of(pod: kube.Obj) -> tuple[ContainerInfo, ...]:
    spec, status = kube.spec(pod), kube.status(pod)
    out: list[ContainerInfo] = []
    for init, spec_key, status_key in (
        (True, "initContainers", "initContainerStatuses"),
        (False, "containers", "containerStatuses"),
    ):
        statuses = {
            s.get("name"): s for s in kube.items(status.get(status_key)) if isinstance(s, Mapping)
        }
        for c in kube.items(spec.get(spec_key)):
            if not isinstance(c, Mapping):
                continue
            name = str(c.get("name") or "")
            st = statuses.get(name)
            state, reason, message, code = _container_state(st)
            last = kube.dig(st, "lastState", "terminated") if st is not None else None
            last = last if isinstance(last, Mapping) else {}
            last_code = None
            if state == "waiting" and isinstance(last.get("exitCode"), int):
                last_code = last["exitCode"]
            out.append(
                ContainerInfo(
                    name=name,
                    init=init,
                    image=str(c.get("image") or ""),
                    state=state,
                    ready=bool(st.get("ready")) if st else False,
                    restarts=int(st.get("restartCount") or 0) if st else 0,
                    reason=reason,
                    message=message,
                    exit_code=code if code is not None else last_code,
                    last_reason=_text(last.get("reason")),
                    memory_limit=kube.quantity(kube.dig(c, "resources", "limits", "memory")),
                    started_at=kube.timestamp(kube.dig(st, "state", "running", "startedAt")),
                    probes=probes_of(c),
                    started=bool(st.get("started")) if st else False,
                )
            )
    return tuple(out)


def _model_container(pod: kube.Obj) -> Mapping[str, Any] | None:
    """The container that knows the model: the first with MODEL_* env, main ones first."""
    candidates = kube.containers(kube.spec(pod))
    for c in candidates:
        if any(k.startswith("MODEL_") for k in kube.env_of(c)):
            return c
    return candidates[0] if candidates else None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def settings_of(pod: kube.Obj, default_url: str | None = None) -> ModelSettings:
    env: dict[str, str] = {}
    # Main containers' values win over init containers' for the same key.
    for c in kube.containers(kube.spec(pod), init_first=True):
        env.update({k: v for k, v in kube.env_of(c).items() if k.startswith("MODEL_")})
    url = env.get("MODEL_URL") or default_url
    size = env.get("MODEL_CACHE_MAX_SIZE")
    try:
        max_size = parse_size(size) if size else None
    except SizeError:
        max_size = None
    return ModelSettings(
        url=redact_url(url) if url else None,
        version=env.get("MODEL_VERSION"),
        cache_dir=env.get("MODEL_CACHE_DIR"),
        checksum=env.get("MODEL_CHECKSUM"),
        max_cache_size=max_size,
        eviction=env.get("MODEL_CACHE_EVICTION"),
        workers=_int(env.get("MODEL_DOWNLOAD_WORKERS")),
        model_path=env.get("MODEL_PATH"),
    )


def _inside(path: str, mount: str) -> bool:
    mount = mount.rstrip("/") or "/"
    return path == mount or path.startswith(mount + "/") or mount == "/"


def cache_location(
    pod: kube.Obj, settings: ModelSettings, cache_claims: frozenset[str] = frozenset()
) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(cache_dir, volume name, claim, kind, mount path) of the pod's model cache.

    The cache dir is MODEL_CACHE_DIR, else MODEL_PATH's directory, else the mount of a model
    volume (a known cache claim, or a volume whose name or mount says "model"), else
    /app/models. The volume is the one mounted at the longest prefix of that dir; none means
    the cache lives in the image's own file system.
    """
    spec = kube.spec(pod)
    volumes = {
        str(v.get("name")): v for v in kube.items(spec.get("volumes")) if isinstance(v, Mapping)
    }
    container = _model_container(pod)
    mounts: list[tuple[str, str]] = []
    for c in ([container] if container else []) + [
        c for c in kube.containers(spec) if c is not container
    ]:
        for m in kube.items(c.get("volumeMounts")):
            if isinstance(m, Mapping) and m.get("name") and m.get("mountPath"):
                mounts.append((str(m["name"]), str(m["mountPath"])))
    cache_dir = settings.cache_dir
    if not cache_dir and settings.model_path:
        cache_dir = settings.model_path.rsplit("/", 1)[0] or "/"
    if not cache_dir:
        for vname, path in mounts:
            claim = kube.dig(volumes.get(vname), "persistentVolumeClaim", "claimName")
            if claim in cache_claims or "model" in vname.lower() or "model" in path.lower():
                cache_dir = path
                break
    if not cache_dir:
        cache_dir = DEFAULT_CACHE_DIR
    best: tuple[str, str] | None = None
    for vname, path in mounts:
        if _inside(cache_dir, path) and (best is None or len(path) > len(best[1])):
            best = (vname, path)
    if best is None:
        return cache_dir, None, None, "image", None
    vol = volumes.get(best[0]) or {}
    claim = kube.dig(vol, "persistentVolumeClaim", "claimName")
    kind: str
    if isinstance(claim, str):
        kind = "pvc"
    elif "emptyDir" in vol:
        kind = "emptyDir"
    elif "hostPath" in vol:
        kind = "hostPath"
    else:
        kind = str(next((k for k in vol if k != "name"), "other"))
    return cache_dir, best[0], claim if isinstance(claim, str) else None, kind, best[1]


def pod_info(
    pod: kube.Obj,
    release_of_replicaset: Mapping[str, str] | None = None,
    cache_claims: frozenset[str] = frozenset(),
    default_url: str | None = None,
) -> PodInfo:
    """The pod as the dashboard shows it, model state not yet decided (``unknown``)."""
    md, st = kube.meta(pod), kube.status(pod)
    containers = containers_of(pod)
    owner = kube.controller_of(pod)
    release: str | None = None
    if owner:
        owner_kind, oname = owner
        release = oname
        if owner_kind == "ReplicaSet":
            release = (release_of_replicaset or {}).get(oname)
            if release is None and "-" in oname:
                release = oname.rsplit("-", 1)[0]
    ready_cond = kube.condition(pod, "Ready")
    unscheduled, unscheduled_since = _unscheduled(pod)
    settings = settings_of(pod, default_url)
    cache_dir, volume, claim, cache_kind, _mount = cache_location(pod, settings, cache_claims)
    if cache_dir and cache_dir != settings.cache_dir:
        settings = dataclasses.replace(settings, cache_dir=cache_dir)
    return PodInfo(
        name=str(md.get("name") or ""),
        namespace=str(md.get("namespace") or ""),
        uid=str(md.get("uid") or ""),
        node=kube.spec(pod).get("nodeName") or None,
        phase=str(st.get("phase") or "Pending"),
        ready=bool(ready_cond and ready_cond.get("status") == "True"),
        restarts=sum(c.restarts for c in containers),
        created_at=kube.timestamp(md.get("creationTimestamp")) or 0.0,
        owner=f"{owner[0]}/{owner[1]}" if owner else None,
        release=release,
        containers=containers,
        model=settings,
        cache_volume=volume,
        cache_claim=claim,
        cache_kind=cache_kind,
        deleting=bool(md.get("deletionTimestamp")),
        unscheduled=unscheduled,
        unscheduled_since=unscheduled_since,
        status_reason=_text(st.get("reason")),
        status_message=_text(st.get("message")),
        kubectl_status=kubectl_status(pod),
    )


def _text(value: object) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _unscheduled(pod: kube.Obj) -> tuple[str | None, float | None]:
    """The scheduler's word on a pod it could not place (PodScheduled=False), and since when."""
    cond = kube.condition(pod, "PodScheduled")
    if cond is None or cond.get("status") != "False":
        return None, None
    why = _text(cond.get("message")) or _text(cond.get("reason")) or "not scheduled"
    return why, kube.timestamp(cond.get("lastTransitionTime"))


def mount_path_of(
    pod: kube.Obj, volume: str, prefer: Collection[str] = ()
) -> tuple[str, str] | None:
    """(container, mountPath) where ``volume`` is mounted, main containers first; a container
    named in ``prefer`` (those running: an init container downloading into the cache while the
    main one waits) before any other."""
    found = [
        (str(c.get("name")), str(m["mountPath"]))
        for c in kube.containers(kube.spec(pod))
        for m in kube.items(c.get("volumeMounts"))
        if isinstance(m, Mapping) and m.get("name") == volume and m.get("mountPath")
    ]
    return next((w for w in found if w[0] in prefer), found[0] if found else None)


def is_downloader(pod: kube.Obj, container: str) -> bool:
    """Whether ``container`` runs the bundled downloader (so its exit code follows the contract)."""
    for c in kube.containers(kube.spec(pod)):
        if c.get("name") == container:
            argv = [str(a) for a in kube.items(c.get("command")) + kube.items(c.get("args"))]
            return any(cmd in a for a in argv for cmd in DOWNLOADER_COMMANDS)
    return False


def claims_of(pod: kube.Obj) -> list[str]:
    """The PersistentVolumeClaims the pod's volumes name."""
    return [
        str(claim)
        for vol in kube.items(kube.spec(pod).get("volumes"))
        if (claim := kube.dig(vol, "persistentVolumeClaim", "claimName"))
    ]


def containers_mounting(pod: kube.Obj, volume: str) -> list[str]:
    """Names of the containers (init ones too) that mount ``volume``."""
    return [
        str(c.get("name"))
        for c in kube.containers(kube.spec(pod), init_first=True)
        if any(
            isinstance(m, Mapping) and m.get("name") == volume
            for m in kube.items(c.get("volumeMounts"))
        )
    ]


def has_model_env(pod: kube.Obj) -> bool:
    """Whether any container (init ones too) is configured with ``MODEL_*`` settings."""
    return any(
        isinstance(entry, Mapping) and str(entry.get("name", "")).startswith("MODEL_")
        for c in kube.containers(kube.spec(pod))
        for entry in kube.items(c.get("env"))
    )
