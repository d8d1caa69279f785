"""Deployments as rollouts, and which release the api-server sends traffic to.

Blue-green: the api-server reaches Lightning ASR through ``LIGHTNING_ASR_BASE_URL`` (the
docs' blue-green example) or ``lightning_asr_url`` in its config map (the chart's
``api.toml``). The URL's host is a Service; the release behind it is the serving one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from collectors import kube
from collectors.model import RolloutInfo
from collectors.redact import redact_url

BASE_URL_ENV = "LIGHTNING_ASR_BASE_URL"
_TOML_URL = re.compile(r"""lightning_asr_url\s*=\s*["']([^"']+)["']""")
_SERVICE_SUFFIXES = ("-internal", "-svc", "-service")


def _containers(dep: kube.Obj) -> list[kube.Obj]:
    return kube.containers(kube.dig(dep, "spec", "template", "spec"))


def template_env(dep: kube.Obj) -> dict[str, str]:
    env: dict[str, str] = {}
    for c in _containers(dep):
        env.update(kube.env_of(c))
    return env


def template_labels(dep: kube.Obj) -> Mapping[str, str]:
    labels = kube.dig(dep, "spec", "template", "metadata", "labels")
    return labels if isinstance(labels, Mapping) else {}


def find_api_server(deployments: Iterable[kube.Obj]) -> kube.Obj | None:
    """The api-server Deployment: it names the ASR URL in its env, or is called api-server."""
    deps = list(deployments)
    for dep in deps:
        if BASE_URL_ENV in template_env(dep):
            return dep
    for dep in deps:
        if "api-server" in kube.name_of(dep):
            return dep
    return None


def configmap_names(dep: kube.Obj) -> list[str]:
    names: list[str] = []
    tpl = kube.dig(dep, "spec", "template", "spec") or {}
    for vol in kube.items(tpl.get("volumes") if isinstance(tpl, Mapping) else None):
        name = kube.dig(vol, "configMap", "name")
        if isinstance(name, str) and name not in names:
            names.append(name)
    for c in _containers(dep):
        for src in kube.items(c.get("envFrom")):
            name = kube.dig(src, "configMapRef", "name")
            if isinstance(name, str) and name not in names:
                names.append(name)
    return names


def url_from_configmap(cm: kube.Obj) -> str | None:
    data = cm.get("data")
    if not isinstance(data, Mapping):
        return None
    if isinstance(data.get(BASE_URL_ENV), str):
        return str(data[BASE_URL_ENV])
    for value in data.values():
        if isinstance(value, str):
            match = _TOML_URL.search(value)
            if match:
                return match[1]
    return None


def service_name(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.split(".", 1)[0] if host else None


def serving_deployment(
    url: str | None,
    deployments: Iterable[kube.Obj],
    service_selector: Mapping[str, str] | None = None,
) -> str | None:
    """The Deployment behind ``url``: its name is the Service's (minus ``-internal``...), or
    its pod template carries the Service's selector."""
    if not url:
        return None
    service = service_name(url)
    if not service:
        return None
    deps = list(deployments)
    names = [kube.name_of(d) for d in deps]
    if service in names:
        return service
    for suffix in _SERVICE_SUFFIXES:
        if service.endswith(suffix) and service[: -len(suffix)] in names:
            return service[: -len(suffix)]
    if service_selector:
        matching = [
            kube.name_of(d)
            for d in deps
            if all(template_labels(d).get(k) == v for k, v in service_selector.items())
        ]
        if len(matching) == 1:
            return matching[0]
    return None


def rollout_info(dep: kube.Obj, serving: str | None, api_server_known: bool) -> RolloutInfo:
    spec, status = kube.spec(dep), kube.status(dep)
    annotations = kube.annotations_of(dep)
    tpl_annotations = kube.dig(dep, "spec", "template", "metadata", "annotations") or {}
    name = kube.name_of(dep)
    env = template_env(dep)
    is_asr = "MODEL_URL" in env or "MODEL_VERSION" in env or name.startswith("lightning-asr")
    replicas = spec.get("replicas")
    return RolloutInfo(
        name=name,
        desired=replicas if isinstance(replicas, int) else 1,
        updated=int(status.get("updatedReplicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        revision=annotations.get("deployment.kubernetes.io/revision"),
        restarted_at=tpl_annotations.get("kubectl.kubernetes.io/restartedAt")
        if isinstance(tpl_annotations, Mapping)
        else None,
        model_version=env.get("MODEL_VERSION"),
        serving=(name == serving) if (is_asr and api_server_known) else None,
        problem=rollout_problem(dep),
    )


def rollout_problem(dep: kube.Obj) -> str | None:
    """``ReplicaFailure=True`` or ``Progressing=False`` as ``Reason: message``, else None."""
    failure = kube.condition(dep, "ReplicaFailure")
    progressing = kube.condition(dep, "Progressing")
    for cond, bad in ((failure, "True"), (progressing, "False")):
        if cond is not None and cond.get("status") == bad:
            reason = str(cond.get("reason") or cond.get("type"))
            message = str(cond.get("message") or "").strip()
            return f"{reason}: {message}" if message else reason
    return None


def redacted(url: str | None) -> str | None:
    return redact_url(url) if url else None
