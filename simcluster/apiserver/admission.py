"""Defaulting and validation: what kube-apiserver fills in and refuses on every write.

The store calls `admit(plural, obj, old)` before it stores a created or replaced object, so
objects written by clients, controllers and kubelets all look like a real server's (a pod
has `status.phase`, a Job its selector and `controller-uid` labels) and a malformed object
is a 422 Invalid whoever wrote it.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import itertools
import re
from typing import Any

from simcluster import errors
from simcluster.apiserver.pvcupdate import update_causes as pvc_update_causes
from simcluster.qos import default_requests_from_limits, pod_qos
from simcluster.quantity import QuantityError, canonical_quantity, parse_quantity
from simcluster.resources import RESOURCES

Cause = tuple[str, str, str]
_service_ips = itertools.count(10)


def _required(field: str) -> Cause:
    return (field, "FieldValueRequired", "Required value")


def _invalid(field: str, value: Any, why: str) -> Cause:
    return (field, "FieldValueInvalid", f"Invalid value: {_show(value)}: {why}")


def _unsupported(field: str, value: Any, allowed: list[str]) -> Cause:
    quoted = ", ".join(f'"{a}"' for a in allowed)
    return (
        field,
        "FieldValueNotSupported",
        f"Unsupported value: {_show(value)}: supported values: {quoted}",
    )


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _pull_policy(image: str) -> str:
    tail = image.rsplit("/", 1)[-1]
    if "@" in tail:
        return "IfNotPresent"
    if ":" not in tail or tail.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for kind in ("initContainers", "containers"):
        for c in spec.get(kind) or []:
            if not isinstance(c, dict):
                continue
            if isinstance(c.get("image"), str):
                c.setdefault("imagePullPolicy", _pull_policy(c["image"]))
            c.setdefault("resources", {})
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            for port in c.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
            for probe in PROBES:
                _default_probe(c.get(probe))
    for vol in spec.get("volumes") or []:
        if isinstance(vol, dict) and "emptyDir" in vol and vol["emptyDir"] is None:
            vol["emptyDir"] = {}


PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_PROBE_NUMBERS = (
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
    "terminationGracePeriodSeconds",
)


_PROBE_DEFAULTS = {
    "timeoutSeconds": 1,
    "periodSeconds": 10,
    "successThreshold": 1,
    "failureThreshold": 3,
}


def _default_probe(probe: Any) -> None:
    """What the v1 defaulting fills into a probe: a missing or zero timing takes its default
    (a zero is "unset" to the Go types); initialDelaySeconds stays absent."""
    if not isinstance(probe, dict):
        return
    for key, value in _PROBE_DEFAULTS.items():
        if not probe.get(key):
            probe[key] = value
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")
    grpc = probe.get("grpc")
    if isinstance(grpc, dict):
        grpc.setdefault("service", "")


def _validate_probes(c: dict[str, Any], where: str, init: bool, causes: list[Cause]) -> None:
    """The real server's checks: one handler, numbers not negative, liveness and startup
    successThreshold 1, and no probes on an init container unless it is a sidecar."""
    for kind in PROBES:
        probe = c.get(kind)
        if probe is None:
            continue
        path = f"{where}.{kind}"
        if init and c.get("restartPolicy") != "Always":
            causes.append(
                (
                    path,
                    "FieldValueForbidden",
                    "Forbidden: may not be set for init containers without restartPolicy=Always",
                )
            )
            continue
        if not isinstance(probe, dict):
            causes.append(_invalid(path, "", "must be an object"))
            continue
        handlers = [h for h in PROBE_HANDLERS if probe.get(h) is not None]
        if not handlers:
            causes.append(
                (path, "FieldValueRequired", "Required value: must specify a handler type")
            )
        for extra in handlers[1:]:
            causes.append(
                (
                    f"{path}.{extra}",
                    "FieldValueForbidden",
                    "Forbidden: may not specify more than 1 handler type",
                )
            )
        for key in _PROBE_NUMBERS:
            _int_field(probe, key, path, causes)
        threshold = probe.get("successThreshold") or 1  # 0 or absent: defaulted to 1 later
        if kind != "readinessProbe" and threshold != 1:
            causes.append(_invalid(f"{path}.successThreshold", threshold, "must be 1"))


def _validate_containers(spec: Any, prefix: str, causes: list[Cause]) -> None:
    if not isinstance(spec, dict):
        causes.append(_required(prefix))
        return
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        causes.append(_required(f"{prefix}.containers"))
        return
    seen: set[str] = set()
    for kind in ("initContainers", "containers"):
        items = spec.get(kind) or []
        if not isinstance(items, list):
            causes.append(_invalid(f"{prefix}.{kind}", "", "must be a list"))
            continue
        for i, c in enumerate(items):
            where = f"{prefix}.{kind}[{i}]"
            if not isinstance(c, dict):
                causes.append(_invalid(where, "", "must be an object"))
                continue
            name = c.get("name")
            if not name or not isinstance(name, str):
                causes.append(_required(f"{where}.name"))
            elif name in seen:
                causes.append(
                    (f"{where}.name", "FieldValueDuplicate", f'Duplicate value: "{name}"')
                )
            else:
                seen.add(name)
            if not c.get("image"):
                causes.append(_required(f"{where}.image"))
            for key in ("command", "args"):
                if key in c and not (
                    isinstance(c[key], list) and all(isinstance(a, str) for a in c[key])
                ):
                    causes.append(_invalid(f"{where}.{key}", "", "must be a list of strings"))
            for j, env in enumerate(c.get("env") or []):
                if not isinstance(env, dict) or not env.get("name"):
                    causes.append(_required(f"{where}.env[{j}].name"))
            _validate_resources(c.get("resources"), f"{where}.resources", causes)
            _validate_probes(c, where, kind == "initContainers", causes)
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in ("Always", "OnFailure", "Never"):
        causes.append(
            _unsupported(f"{prefix}.restartPolicy", policy, ["Always", "OnFailure", "Never"])
        )


def _validate_resources(resources: Any, where: str, causes: list[Cause]) -> None:
    """Requests and limits must be quantities (the kubelet sizes cgroups from them)."""
    if not isinstance(resources, dict):
        return
    for kind in ("limits", "requests"):
        values = resources.get(kind)
        if not isinstance(values, dict):
            continue
        for name, value in values.items():
            try:
                parse_quantity(str(value))
            except QuantityError as exc:
                causes.append(_invalid(f"{where}.{kind}[{name}]", value, str(exc)))


def _template_labels_match(obj: dict[str, Any], causes: list[Cause]) -> None:
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        causes.append(_required("spec.selector"))
        return
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            causes.append(
                _invalid(
                    "spec.template.metadata.labels",
                    ",".join(f"{a}={b}" for a, b in sorted(labels.items())),
                    "`selector` does not match template `labels`",
                )
            )
            return


def _int_field(spec: dict[str, Any], key: str, prefix: str, causes: list[Cause]) -> None:
    value = spec.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        causes.append(_invalid(f"{prefix}.{key}", value, "must be greater than or equal to 0"))


def admit(plural: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Fill defaults into `obj` (in place) and raise 422 Invalid if it is malformed."""
    spec = obj.get("spec")
    if spec is not None and not isinstance(spec, dict):
        raise errors.invalid(
            RESOURCES[plural].kind,
            _name(obj),
            [_invalid("spec", "", "must be an object")],
            RESOURCES[plural].group,
        )
    causes: list[Cause] = []
    handler = _ADMIT.get(plural)
    if handler is not None:
        handler(obj, old, causes)
    if causes:
        rtype = RESOURCES[plural]
        raise errors.invalid(rtype.kind, _name(obj), causes, rtype.group)


def _name(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata")
    return str(meta.get("name") or meta.get("generateName") or "") if isinstance(meta, dict) else ""


def _admit_pod(obj: dict[str, Any], old: dict[str, Any] | None, causes: list[Cause]) -> None:
    spec = obj.setdefault("spec", {})
    _validate_containers(spec, "spec", causes)
    if causes:
        return
    default_pod_spec(spec)
    default_requests_from_limits(spec)  # a Pod's only, not a template's
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    add_default_tolerations(spec)
    status = obj.setdefault("status", {})
    if old is None:
        status.setdefault("phase", "Pending")
    status.setdefault("qosClass", pod_qos(spec))
    if old is not None:
        _immutable_pod_spec(obj, old, causes)


DEFAULT_TOLERATION_SECONDS = 300


def add_default_tolerations(spec: dict[str, Any]) -> None:
    """The DefaultTolerationSeconds admission plugin: tolerate the not-ready and unreachable
    NoExecute taints for 300 s, each only if the pod has no toleration of its own for it."""
    tolerations = spec.setdefault("tolerations", [])
    for name in ("not-ready", "unreachable"):
        key = f"node.kubernetes.io/{name}"
        if any(
            t.get("key", "") in ("", key) and t.get("effect", "") in ("", "NoExecute")
            for t in tolerations
        ):
            continue
        tolerations.append(
            {
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }
        )


def _immutable_pod_spec(obj: dict[str, Any], old: dict[str, Any], causes: list[Cause]) -> None:
    new_spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
    mutable = {"activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "nodeName"}
    for key in set(new_spec) | set(old_spec):
        if key in mutable or key in ("containers", "initContainers"):
            continue
        if new_spec.get(key) != old_spec.get(key):
            causes.append(
                (
                    "spec",
                    "FieldValueForbidden",
                    (
                        "Forbidden: pod updates may not change fields other than "
                        "`spec.containers[*].image`, `spec.initContainers[*].image`, "
                        "`spec.activeDeadlineSeconds`, `spec.tolerations` (only "
                        "additions to existing tolerations) or "
                        "`spec.terminationGracePeriodSeconds` (allow it to be set to "
                        "1 if it was previously negative)"
                    ),
                )
            )
            return
    for kind in ("containers", "initContainers"):
        strip = lambda cs: [{k: v for k, v in c.items() if k != "image"} for c in cs or []]  # noqa: E731
        if strip(new_spec.get(kind)) != strip(old_spec.get(kind)):
            causes.append(
                (
                    "spec",
                    "FieldValueForbidden",
                    (
                        "Forbidden: pod updates may not change fields other than "
                        "`spec.containers[*].image`"
                    ),
                )
            )
            return


def _admit_replicated(obj: dict[str, Any], causes: list[Cause]) -> dict[str, Any] | None:
    """What a Deployment and a ReplicaSet check alike: the selector matches the template's
    labels, its containers are valid and `replicas` (1 when unset) is an integer. Returns
    the spec when all is well."""
    spec: dict[str, Any] = obj.setdefault("spec", {})
    _template_labels_match(obj, causes)
    template = spec.get("template")
    _validate_containers(
        template.get("spec") if isinstance(template, dict) else None, "spec.template.spec", causes
    )
    _int_field(spec, "replicas", "spec", causes)
    if causes:
        return None
    spec.setdefault("replicas", 1)
    return spec


def _admit_deployment(obj: dict[str, Any], old: dict[str, Any] | None, causes: list[Cause]) -> None:
    spec = _admit_replicated(obj, causes)
    if spec is None:
        return
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.setdefault("rollingUpdate", {})
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    elif strategy["type"] != "Recreate":
        causes.append(
            _unsupported("spec.strategy.type", strategy["type"], ["Recreate", "RollingUpdate"])
        )
        return
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    template = spec["template"]
    default_pod_spec(template["spec"])
    template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    if old is not None and old.get("spec", {}).get("selector") != spec.get("selector"):
        causes.append(_invalid("spec.selector", "", "field is immutable"))


def _admit_replicaset(obj: dict[str, Any], old: dict[str, Any] | None, causes: list[Cause]) -> None:
    spec = _admit_replicated(obj, causes)
    if spec is not None:
        default_pod_spec(spec["template"]["spec"])


def _admit_job(obj: dict[str, Any], old: dict[str, Any] | None, causes: list[Cause]) -> None:
    spec = obj.setdefault("spec", {})
    template = spec.get("template")
    if not isinstance(template, dict):
        causes.append(_required("spec.template"))
        return
    pod_spec = template.get("spec")
    _validate_containers(pod_spec, "spec.template.spec", causes)
    for key in (
        "completions",
        "parallelism",
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
    ):
        _int_field(spec, key, "spec", causes)
    if causes:
        return
    assert isinstance(pod_spec, dict)
    if pod_spec.get("restartPolicy") not in ("OnFailure", "Never"):
        causes.append(
            (
                "spec.template.spec.restartPolicy",
                "FieldValueRequired"
                if "restartPolicy" not in pod_spec
                else "FieldValueNotSupported",
                'Required value: valid values: "OnFailure", "Never"'
                if "restartPolicy" not in pod_spec
                else f'Unsupported value: "{pod_spec["restartPolicy"]}": '
                'supported values: "OnFailure", "Never"',
            )
        )
        return
    if old is None:
        spec.setdefault("parallelism", 1)
        if "completions" not in spec:
            spec["completions"] = 1
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        spec.setdefault("manualSelector", None)
        if spec.get("manualSelector") is None:
            spec.pop("manualSelector")
        if "uid" in obj.get("metadata", {}):
            job_selector(obj)
    default_pod_spec(pod_spec)
    template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    if old is not None:
        old_spec = old.get("spec") or {}
        for key in ("template", "completions", "selector", "completionMode"):
            if key in old_spec and spec.get(key) != old_spec.get(key):
                causes.append(_invalid(f"spec.{key}", "", "field is immutable"))
                return


def job_selector(job: dict[str, Any]) -> None:
    """Give a new Job the selector and template labels kube-apiserver generates from its uid."""
    spec, meta = job["spec"], job["metadata"]
    if spec.get("manualSelector") or spec.get("selector"):
        return
    uid, name = meta["uid"], meta["name"]
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = spec["template"].setdefault("metadata", {}).setdefault("labels", {}) or {}
    spec["template"]["metadata"]["labels"] = labels
    labels.update(
        {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
    )
    meta.setdefault("labels", {}).update(
        {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
    )


def _admit_cronjob(obj: dict[str, Any], old: dict[str, Any] | None, causes: list[Cause]) -> None:
    from simcluster.controllers.cron import CronError, parse_schedule

    spec = obj.setdefault("spec", {})
    schedule = spec.get("schedule")
    if not schedule or not isinstance(schedule, str):
        causes.append(_required("spec.schedule"))
    else:
        try:
            parse_schedule(schedule)
        except CronError as exc:
            causes.append(_invalid("spec.schedule", schedule, str(exc)))
    jt = spec.get("jobTemplate")
    if not isinstance(jt, dict) or not isinstance(jt.get("spec"), dict):
        causes.append(_required("spec.jobTemplate"))
        return
    template = jt["spec"].get("template")
    _validate_containers(
        (template or {}).get("spec") if isinstance(template, dict) else None,
        "spec.jobTemplate.spec.template.spec",
        causes,
    )
    if causes:
        return
    policy = spec.setdefault("concurrencyPolicy", "Allow")
    if policy not in ("Allow", "Forbid", "Replace"):
        causes.append(
            _unsupported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"])
        )
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    default_pod_spec(template["spec"])
    jt["spec"]["template"].setdefault("metadata", {}).setdefault("creationTimestamp", None)
    jt.setdefault("metadata", {}).setdefault("creationTimestamp", None)


def _admit_pvc(obj: dict[str, Any], old: dict[str, Any] | None, causes: list[Cause]) -> None:
    spec = obj.setdefault("spec", {})
    modes = spec.get("accessModes")
    allowed = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
    if not modes:
        causes.append(_required("spec.accessModes"))
    else:
        for m in modes:
            if m not in allowed:
                causes.append(_unsupported("spec.accessModes", m, allowed))
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if not storage:
        causes.append(_required("spec.resources[storage]"))
    else:
        try:
            parse_quantity(str(storage))
        except QuantityError as exc:
            causes.append(_invalid("spec.resources.requests[storage]", storage, str(exc)))
    if causes:
        return
    spec.setdefault("volumeMode", "Filesystem")
    obj.setdefault("status", {}).setdefault("phase", "Pending")
    if old is not None:
        causes.extend(pvc_update_causes(obj, old))
    if old is None:
        finalizers = obj["metadata"].setdefault("finalizers", [])
        if "kubernetes.io/pvc-protection" not in finalizers:
            finalizers.append("kubernetes.io/pvc-protection")


def _admit_pv(obj: dict[str, Any], old: dict[str, Any] | None, causes: list[Cause]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    obj.setdefault("status", {}).setdefault("phase", "Available")


def _admit_storageclass(
    obj: dict[str, Any], old: dict[str, Any] | None, causes: list[Cause]
) -> None:
    if not obj.get("provisioner"):
        causes.append(_required("provisioner"))
        return
    policy = obj.setdefault("reclaimPolicy", "Delete")
    if policy not in ("Delete", "Retain"):
        causes.append(_unsupported("reclaimPolicy", policy, ["Delete", "Retain"]))
    mode = obj.setdefault("volumeBindingMode", "Immediate")
    if mode not in ("Immediate", "WaitForFirstConsumer"):
        causes.append(
            _unsupported("volumeBindingMode", mode, ["Immediate", "WaitForFirstConsumer"])
        )
    if old is not None:
        for key in ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"):
            if obj.get(key) != old.get(key):
                causes.append(_invalid(key, obj.get(key), "field is immutable"))


def _admit_namespace(obj: dict[str, Any], old: dict[str, Any] | None, causes: list[Cause]) -> None:
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")
    meta = obj["metadata"]
    labels = meta.get("labels") or {}
    labels["kubernetes.io/metadata.name"] = meta.get("name", "")
    meta["labels"] = labels


def _admit_service(obj: dict[str, Any], old: dict[str, Any] | None, causes: list[Cause]) -> None:
    spec = obj.setdefault("spec", {})
    stype = spec.setdefault("type", "ClusterIP")
    if stype not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        causes.append(
            _unsupported(
                "spec.type", stype, ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
            )
        )
        return
    for i, port in enumerate(spec.get("ports") or []):
        if not isinstance(port, dict) or not isinstance(port.get("port"), int):
            causes.append(_required(f"spec.ports[{i}].port"))
            continue
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port["port"])
    spec.setdefault("sessionAffinity", "None")
    if old is not None:
        for key in ("clusterIP", "clusterIPs"):
            if key in (old.get("spec") or {}):
                spec[key] = old["spec"][key]
    elif stype != "ExternalName" and "clusterIP" not in spec:
        n = next(_service_ips)
        ip = str(ipaddress.IPv4Address("10.96.0.0") + n)
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


def _admit_configmap(obj: dict[str, Any], old: dict[str, Any] | None, causes: list[Cause]) -> None:
    for key in ("data", "binaryData"):
        data = obj.get(key)
        if data is not None and (
            not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values())
        ):
            causes.append(_invalid(key, "", "values must be strings"))


_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
SECRET_MAX_BYTES = 1024 * 1024
# Keys a Secret of these types must carry (pkg/apis/core/validation ValidateSecret).
_SECRET_KEYS = {
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def _base64_error(value: str) -> str | None:
    """Go's error for a value `[]byte` cannot decode (`illegal base64 data at input byte N`)."""
    bad = next((i for i, ch in enumerate(value) if ch not in _BASE64_ALPHABET), None)
    if bad is None:
        try:
            base64.b64decode(value, validate=True)
            return None
        except (binascii.Error, ValueError):
            bad = len(value) - len(value) % 4 if len(value) % 4 else max(value.find("="), 0)
    return f"illegal base64 data at input byte {bad}"


def _admit_secret(obj: dict[str, Any], old: dict[str, Any] | None, causes: list[Cause]) -> None:
    """`stringData` is written into `data` (base64) and dropped; `data` must be base64."""
    data = obj.get("data") or {}
    string_data = obj.pop("stringData", None) or {}
    for field, values in (("data", data), ("stringData", string_data)):
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise errors.bad_request(
                f'Secret in version "v1" cannot be handled as a Secret: {field} values must be '
                "strings"
            )
    for value in data.values():
        why = _base64_error(value)
        if why:
            raise errors.bad_request(f'Secret in version "v1" cannot be handled as a Secret: {why}')
    merged = dict(data)
    for key, text in string_data.items():
        merged[key] = base64.b64encode(text.encode()).decode()
    if merged or "data" in obj:
        obj["data"] = merged
    kind = obj["type"] = obj.get("type") or "Opaque"
    size = 0
    for key, value in merged.items():
        if not _CONFIG_KEY.match(key):
            causes.append(
                _invalid(
                    f"data[{key}]",
                    key,
                    "a valid config key must consist of alphanumeric characters, '-', '_' or "
                    "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                    "validation is '[-._a-zA-Z0-9]+')",
                )
            )
        size += len(base64.b64decode(value))  # checked above
    if size > SECRET_MAX_BYTES:
        causes.append(
            ("data", "FieldValueTooLong", f"Too long: must have at most {SECRET_MAX_BYTES} bytes")
        )
    for key in _SECRET_KEYS.get(str(kind), ()):
        if key not in merged:
            causes.append(_required(f"data[{key}]"))
    if old is not None:
        if old.get("type", "Opaque") != kind:
            causes.append(_invalid("type", kind, "field is immutable"))
        if old.get("immutable") and (
            merged != (old.get("data") or {}) or obj.get("immutable") is not True
        ):
            causes.append(
                (
                    "data",
                    "FieldValueForbidden",
                    "Forbidden: field is immutable when `immutable` is set",
                )
            )


def _admit_resourcequota(
    obj: dict[str, Any], old: dict[str, Any] | None, causes: list[Cause]
) -> None:
    """spec.hard holds quantities (stored canonical, as the server re-encodes them); a new
    quota starts without status, which the quota controller fills in."""
    hard = (obj.get("spec") or {}).get("hard") or {}
    if not isinstance(hard, dict):
        causes.append(_invalid("spec.hard", "", "must be an object"))
        return
    for name, value in list(hard.items()):
        try:
            amount = parse_quantity(str(value))
        except QuantityError as exc:
            raise errors.bad_request(
                f'ResourceQuota in version "v1" cannot be handled as a ResourceQuota: {exc}'
            ) from None
        if amount < 0:
            causes.append(
                _invalid(f"spec.hard[{name}]", str(value), "must be greater than or equal to 0")
            )
        hard[name] = canonical_quantity(str(value))
    if old is None:
        obj["status"] = {}


def _admit_event(obj: dict[str, Any], old: dict[str, Any] | None, causes: list[Cause]) -> None:
    if not isinstance(obj.get("involvedObject"), dict):
        causes.append(_required("involvedObject"))


_ADMIT = {
    "pods": _admit_pod,
    "deployments": _admit_deployment,
    "replicasets": _admit_replicaset,
    "jobs": _admit_job,
    "cronjobs": _admit_cronjob,
    "persistentvolumeclaims": _admit_pvc,
    "persistentvolumes": _admit_pv,
    "storageclasses": _admit_storageclass,
    "namespaces": _admit_namespace,
    "services": _admit_service,
    "configmaps": _admit_configmap,
    "secrets": _admit_secret,
    "events": _admit_event,
    "resourcequotas": _admit_resourcequota,
}
