"""Server-side printing: `Table` answers with the columns kube-apiserver gives `kubectl get`.

Cells are computed the way Kubernetes' printers compute them (the pod STATUS reason from
init and container states, RESTARTS with "(5m ago)", job COMPLETIONS and DURATION, ages as
`HumanDuration`), so kubectl shows what it shows on a real cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from simcluster.selectors import selector_from_spec

Row = list[Any]
_NAME_DESC = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_AGE_DESC = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is "
    "in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)


def col(
    name: str, type_: str = "string", description: str = "", priority: int = 0, format_: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "format": format_,
        "description": description,
        "priority": priority,
    }


NAME = col("Name", format_="name", description=_NAME_DESC)
AGE = col("Age", description=_AGE_DESC)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def since(value: str | None, now: datetime) -> str:
    t = parse_time(value)
    if t is None:
        return "<unknown>"
    return human_duration((now - t).total_seconds())


def _age(obj: dict[str, Any], now: datetime) -> str:
    return since(obj["metadata"].get("creationTimestamp"), now)


def _phase(obj: dict[str, Any]) -> str:
    """A volume's or claim's STATUS: its phase, or Terminating once it is being deleted."""
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    phase: str = (obj.get("status") or {}).get("phase", "")
    return phase


def _selector_string(sel: dict[str, Any] | None) -> str:
    if not sel:
        return "<none>"
    text = str(selector_from_spec(sel))
    parts = sorted(text.split(",")) if text else []
    return ",".join(parts) or "<none>"


def _workload_wide(spec: dict[str, Any]) -> Row:
    """The cells under `_WORKLOAD_WIDE` and Selector, from a workload's (or job template's)
    spec: the pod template's containers and images, and the label selector."""
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
        _selector_string(spec.get("selector")),
    ]


# -- pods --------------------------------------------------------------------------------

POD_COLUMNS = [
    NAME,
    col("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    col("Status", description="The aggregate status of the containers in this pod."),
    col(
        "Restarts",
        description=(
            "The number of times the containers in this pod have been restarted and "
            "when the last container in this pod has restarted."
        ),
    ),
    AGE,
    col(
        "IP",
        priority=1,
        description=(
            "podIP address allocated to the pod. Routable at least within the "
            "cluster. Empty if not yet allocated."
        ),
    ),
    col("Node", priority=1, description="NodeName indicates in which node this pod is scheduled."),
    col(
        "Nominated Node",
        priority=1,
        description=(
            "nominatedNodeName is set only when this pod preempts other pods on the "
            "node, but it cannot be scheduled right away as preemption victims "
            "receive their graceful termination periods."
        ),
    ),
    col(
        "Readiness Gates",
        priority=1,
        description="If specified, all readiness gates will be evaluated for pod readiness.",
    ),
]


def _cond_true(status: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or []
    )


def _later(a: datetime | None, b: str | None) -> datetime | None:
    t = parse_time(b)
    if t is None:
        return a
    return t if a is None or t > a else a


def pod_row(pod: dict[str, Any], now: datetime) -> Row:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    restarts = 0
    total = len(spec.get("containers") or [])
    ready = 0
    last_restart: datetime | None = None
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    for c in status.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    initializing = False
    init_specs = spec.get("initContainers") or []
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(cs.get("restartCount", 0))
        last_restart = _later(
            last_restart, ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        )
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term is not None and term.get("exitCode", 0) == 0:
            continue
        if term is not None:
            if not term.get("reason"):
                reason = (
                    f"Init:Signal:{term['signal']}"
                    if term.get("signal")
                    else f"Init:ExitCode:{term.get('exitCode', 0)}"
                )
            else:
                reason = "Init:" + term["reason"]
        elif wait is not None and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    if not initializing or _cond_true(status, "Initialized"):
        restarts = 0
        last_restart = None
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount", 0))
            last_restart = _later(
                last_restart,
                ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"),
            )
            state = cs.get("state") or {}
            wait, term = state.get("waiting"), state.get("terminated")
            if wait is not None and wait.get("reason"):
                reason = wait["reason"]
            elif term is not None and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                reason = (
                    f"Signal:{term['signal']}"
                    if term.get("signal")
                    else f"ExitCode:{term.get('exitCode', 0)}"
                )
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _cond_true(status, "Ready") else "NotReady"
    deleting = pod["metadata"].get("deletionTimestamp")
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_str = str(restarts)
    if restarts and last_restart is not None:
        restarts_str = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"
    gates = spec.get("readinessGates") or []
    gates_str = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        passing = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
        gates_str = f"{passing}/{len(gates)}"
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        reason,
        restarts_str,
        _age(pod, now),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_str,
    ]


# -- storage -----------------------------------------------------------------------------

_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes(modes: list[str] | None) -> str:
    modes = modes or []
    return ",".join(short for full, short in _MODES if full in modes)


PVC_COLUMNS = [
    NAME,
    col("Status", description="phase represents the current phase of PersistentVolumeClaim."),
    col(
        "Volume",
        description=(
            "volumeName is the binding reference to the PersistentVolume backing this claim."
        ),
    ),
    col(
        "Capacity", description="capacity represents the actual resources of the underlying volume."
    ),
    col(
        "Access Modes",
        description=(
            "accessModes contains the actual access modes the volume backing the PVC "
            "has. More info: "
            "https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1"
        ),
    ),
    col("StorageClass", description="StorageClass of the pvc"),
    col("VolumeAttributesClass", description="VolumeAttributesClass of the pvc"),
    AGE,
    col(
        "VolumeMode",
        priority=1,
        description=(
            "volumeMode defines what type of volume is required by the claim. Value "
            "of Filesystem is implied when not included in claim spec."
        ),
    ),
]


def pvc_row(pvc: dict[str, Any], now: datetime) -> Row:
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    capacity, modes = "", ""
    if spec.get("volumeName"):
        modes = access_modes(status.get("accessModes"))
        capacity = (status.get("capacity") or {}).get("storage", "")
    sc = spec.get("storageClassName")
    if sc is None:
        sc = (pvc["metadata"].get("annotations") or {}).get(
            "volume.beta.kubernetes.io/storage-class", ""
        )
    return [
        pvc["metadata"]["name"],
        _phase(pvc),
        spec.get("volumeName", ""),
        capacity,
        modes,
        sc,
        spec.get("volumeAttributesClassName") or "<unset>",
        _age(pvc, now),
        spec.get("volumeMode") or "<unset>",
    ]


PV_COLUMNS = [
    NAME,
    col(
        "Capacity",
        description=(
            "capacity is the description of the persistent volume's resources and capacity."
        ),
    ),
    col("Access Modes", description="accessModes contains all ways the volume can be mounted."),
    col(
        "Reclaim Policy",
        description=(
            "persistentVolumeReclaimPolicy defines what happens to a persistent "
            "volume when released from its claim."
        ),
    ),
    col(
        "Status",
        description=(
            "phase indicates if a volume is available, bound to a claim, or released by a claim."
        ),
    ),
    col(
        "Claim",
        description=(
            "claimRef is part of a bi-directional binding between PersistentVolume "
            "and PersistentVolumeClaim."
        ),
    ),
    col(
        "StorageClass",
        description=(
            "storageClassName is the name of StorageClass to which this persistent volume belongs."
        ),
    ),
    col("VolumeAttributesClass", description="VolumeAttributesClass of the pv"),
    col("Reason", description="reason is a brief CamelCase string that describes any failure."),
    AGE,
    col(
        "VolumeMode",
        priority=1,
        description=(
            "volumeMode defines if a volume is intended to be used with a formatted "
            "filesystem or to remain in raw block state."
        ),
    ),
]


def pv_row(pv: dict[str, Any], now: datetime) -> Row:
    spec, status = pv.get("spec") or {}, pv.get("status") or {}
    ref = spec.get("claimRef") or {}
    claim = f"{ref.get('namespace')}/{ref.get('name')}" if ref else ""
    return [
        pv["metadata"]["name"],
        (spec.get("capacity") or {}).get("storage", ""),
        access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        _phase(pv),
        claim,
        spec.get("storageClassName", ""),
        spec.get("volumeAttributesClassName") or "<unset>",
        status.get("reason", ""),
        _age(pv, now),
        spec.get("volumeMode") or "<unset>",
    ]


# -- workloads ---------------------------------------------------------------------------

_WORKLOAD_WIDE = [
    col("Containers", priority=1, description="Names of each container in the template."),
    col("Images", priority=1, description="Images referenced by each container in the template."),
]

DEPLOYMENT_COLUMNS = [
    NAME,
    col("Ready", description="Number of the pod with ready state"),
    col(
        "Up-to-date",
        "integer",
        (
            "Total number of non-terminated pods targeted by this deployment that "
            "have the desired template spec."
        ),
    ),
    col(
        "Available",
        "integer",
        (
            "Total number of available pods (ready for at least minReadySeconds) "
            "targeted by this deployment."
        ),
    ),
    AGE,
    *_WORKLOAD_WIDE,
    col(
        "Selector",
        priority=1,
        description=(
            "Label selector for pods. Existing ReplicaSets whose pods are selected by"
            " this will be the ones affected by this deployment."
        ),
    ),
]


def deployment_row(d: dict[str, Any], now: datetime) -> Row:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    return [
        d["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(d, now),
        *_workload_wide(spec),
    ]


REPLICASET_COLUMNS = [
    NAME,
    col("Desired", "integer", "Replicas is the number of desired replicas."),
    col("Current", "integer", "Replicas is the most recently observed number of replicas."),
    col("Ready", "integer", "The number of ready replicas for this replica set."),
    AGE,
    *_WORKLOAD_WIDE,
    col(
        "Selector",
        priority=1,
        description="Selector is a label query over pods that should match the replica count.",
    ),
]


def replicaset_row(rs: dict[str, Any], now: datetime) -> Row:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    return [
        rs["metadata"]["name"],
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(rs, now),
        *_workload_wide(spec),
    ]


JOB_COLUMNS = [
    NAME,
    col("Status", description="Status of the job."),
    col(
        "Completions",
        description=(
            "The number of pods which reached phase Succeeded. The value increases "
            "monotonically for a given spec. However, it may decrease in reaction to "
            "scale down of elastic indexed jobs."
        ),
    ),
    col("Duration", description="Time required to complete the job."),
    AGE,
    *_WORKLOAD_WIDE,
    col(
        "Selector",
        priority=1,
        description="A label query over pods that should match the pod count.",
    ),
]


def job_status_word(job: dict[str, Any]) -> str:
    status = job.get("status") or {}
    if _cond_true(status, "Complete"):
        return "Complete"
    if _cond_true(status, "Failed"):
        return "Failed"
    if job["metadata"].get("deletionTimestamp"):
        return "Terminating"
    if _cond_true(status, "SuccessCriteriaMet"):
        return "SuccessCriteriaMet"
    if _cond_true(status, "Suspended"):
        return "Suspended"
    if _cond_true(status, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def job_row(job: dict[str, Any], now: datetime) -> Row:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif spec.get("parallelism") is not None and spec["parallelism"] > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = ""
    if start is not None:
        duration = human_duration(((end or now) - start).total_seconds())
    return [
        job["metadata"]["name"],
        job_status_word(job),
        completions,
        duration,
        _age(job, now),
        *_workload_wide(spec),
    ]


CRONJOB_COLUMNS = [
    NAME,
    col(
        "Schedule",
        description="The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
    ),
    col(
        "Timezone",
        description=(
            "The time zone name for the given schedule, see "
            "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not "
            "specified, this will default to the time zone of the "
            "kube-controller-manager process. The set of valid time zone names and "
            "the time zone offset is loaded from the system-wide time zone database "
            "by the API server during CronJob validation and the controller manager "
            "during execution. If no system-wide time zone database can be found a "
            "bundled version of the database is used instead. If the time zone name "
            "becomes invalid during the lifetime of a CronJob or due to a change in "
            "host configuration, the controller will stop creating new new Jobs and "
            "will create a system event with the reason UnknownTimeZone. More "
            "information can be found in "
            "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones"
        ),
    ),
    col(
        "Suspend",
        "boolean",
        (
            "This flag tells the controller to suspend subsequent executions, it does"
            " not apply to already started executions.  Defaults to false."
        ),
    ),
    col("Active", "integer", "A list of pointers to currently running jobs."),
    col(
        "Last Schedule",
        description="Information when was the last time the job was successfully scheduled.",
    ),
    AGE,
    *_WORKLOAD_WIDE,
    col(
        "Selector",
        priority=1,
        description=(
            "A label query over pods that should match the pod count. Normally, the "
            "system sets this field for you. More info: "
            "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
        ),
    ),
]


def cronjob_row(cj: dict[str, Any], now: datetime) -> Row:
    spec, status = cj.get("spec") or {}, cj.get("status") or {}
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    last = status.get("lastScheduleTime")
    return [
        cj["metadata"]["name"],
        spec.get("schedule", ""),
        spec.get("timeZone") or "<none>",
        "True" if spec.get("suspend") else "False",
        len(status.get("active") or []),
        since(last, now) if last else "<none>",
        _age(cj, now),
        *_workload_wide(job_spec),
    ]


# -- cluster -----------------------------------------------------------------------------

NODE_COLUMNS = [
    NAME,
    col("Status", description="The status of the node"),
    col("Roles", description="The roles of the node"),
    AGE,
    col("Version", description="Kubelet Version reported by the node."),
    col(
        "Internal-IP",
        priority=1,
        description=(
            "List of addresses reachable to the node. Queried from cloud provider, if"
            " available. More info: "
            "https://kubernetes.io/docs/reference/node/node-status/#addresses Note: "
            "This field is declared as mergeable, but the merge key is not "
            "sufficiently unique, which can cause data corruption when it is merged. "
            "Callers should instead use a full-replacement patch. See "
            "https://pr.k8s.io/79391 for an example. Consumers should assume that "
            "addresses can change during the lifetime of a Node. However, there are "
            "some exceptions where this may not be possible, such as Pods that "
            "inherit a Node's address in its own status or consumers of the downward "
            "API (status.hostIP)."
        ),
    ),
    col(
        "External-IP",
        priority=1,
        description=(
            "List of addresses reachable to the node. Queried from cloud provider, if available."
        ),
    ),
    col(
        "OS-Image",
        priority=1,
        description=(
            "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."
        ),
    ),
    col(
        "Kernel-Version",
        priority=1,
        description=(
            "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."
        ),
    ),
    col(
        "Container-Runtime",
        priority=1,
        description="ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
    ),
]


def node_row(node: dict[str, Any], now: datetime) -> Row:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    words = []
    for c in status.get("conditions") or []:
        if c.get("type") == "Ready":
            # False and Unknown alike print NotReady, as kubectl's node printer does
            words.append("Ready" if c.get("status") == "True" else "NotReady")
    if not words:
        words.append("Unknown")
    if spec.get("unschedulable"):
        words.append("SchedulingDisabled")
    roles = sorted(
        k.split("/", 1)[1]
        for k in (node["metadata"].get("labels") or {})
        if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1]
    )
    info = status.get("nodeInfo") or {}
    addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    return [
        node["metadata"]["name"],
        ",".join(words),
        ",".join(roles) or "<none>",
        _age(node, now),
        info.get("kubeletVersion", ""),
        addrs.get("InternalIP") or "<none>",
        addrs.get("ExternalIP") or "<none>",
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


NAMESPACE_COLUMNS = [NAME, col("Status", description="The status of the namespace"), AGE]


def namespace_row(ns: dict[str, Any], now: datetime) -> Row:
    return [ns["metadata"]["name"], (ns.get("status") or {}).get("phase", ""), _age(ns, now)]


EVENT_COLUMNS = [
    col(
        "Last Seen",
        description="The time at which the most recent occurrence of this event was recorded.",
    ),
    col(
        "Type",
        description="Type of this event (Normal, Warning), new types could be added in the future",
    ),
    col(
        "Reason",
        description=(
            "This should be a short, machine understandable string that gives the "
            "reason for the transition into the object's current status."
        ),
    ),
    col("Object", description="The object that this event is about."),
    col(
        "Subobject",
        priority=1,
        description=(
            "If referring to a piece of an object instead of an entire object, this "
            "string should contain a valid JSON/Go field access statement, such as "
            "desiredState.manifest.containers[2]."
        ),
    ),
    col(
        "Source",
        priority=1,
        description=(
            "The component reporting this event. Should be a short machine understandable string."
        ),
    ),
    col("Message", description="A human-readable description of the status of this operation."),
    col(
        "First Seen",
        priority=1,
        description=(
            "The time at which the event was first recorded. (Time of server receipt "
            "is in TypeMeta.)"
        ),
    ),
    col("Count", priority=1, description="The number of times this event has occurred."),
    col("Name", priority=1, format_="name", description=_NAME_DESC),
]


def event_row(ev: dict[str, Any], now: datetime) -> Row:
    first = (
        since(ev.get("firstTimestamp"), now)
        if ev.get("firstTimestamp")
        else since(ev.get("eventTime"), now)
    )
    last = since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 1
    series = ev.get("series")
    if series:
        last = since(series.get("lastObservedTime"), now)
        count = series.get("count", count)
    inv = ev.get("involvedObject") or {}
    target = (
        f"{inv.get('kind', '').lower()}/{inv['name']}"
        if inv.get("name")
        else inv.get("kind", "").lower()
    )
    source = ev.get("source") or {}
    component = source.get("component") or ev.get("reportingComponent", "")
    host = source.get("host") or ev.get("reportingInstance", "")
    return [
        last,
        ev.get("type", ""),
        ev.get("reason", ""),
        target,
        inv.get("fieldPath", ""),
        f"{component}, {host}" if host else component,
        (ev.get("message") or "").strip(),
        first,
        int(count),
        ev["metadata"]["name"],
    ]


SERVICE_COLUMNS = [
    NAME,
    col("Type", description="type determines how the Service is exposed."),
    col(
        "Cluster-IP",
        description="clusterIP is the IP address of the service and is usually assigned randomly.",
    ),
    col(
        "External-IP",
        description=(
            "externalIPs is a list of IP addresses for which nodes in the cluster "
            "will also accept traffic for this service."
        ),
    ),
    col("Port(s)", description="The list of ports that are exposed by this service."),
    AGE,
    col(
        "Selector",
        priority=1,
        description=(
            "Route service traffic to pods with label keys and values matching this selector."
        ),
    ),
]


def service_row(svc: dict[str, Any], now: datetime) -> Row:
    spec = svc.get("spec") or {}
    ports = []
    for p in spec.get("ports") or []:
        text = f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        if p.get("nodePort"):
            text = f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}"
        ports.append(text)
    external = ",".join(spec.get("externalIPs") or []) or (
        "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
    )
    selector = spec.get("selector") or {}
    return [
        svc["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        external,
        ",".join(ports) or "<none>",
        _age(svc, now),
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>",
    ]


CONFIGMAP_COLUMNS = [NAME, col("Data", "integer", "Data contains the configuration data."), AGE]


STORAGECLASS_COLUMNS = [
    NAME,
    col(
        "Provisioner",
        description="provisioner indicates the type of the provisioner.",
    ),
    col(
        "ReclaimPolicy",
        description=(
            "reclaimPolicy controls the reclaimPolicy for dynamically provisioned "
            "PersistentVolumes of this storage class. Defaults to Delete."
        ),
    ),
    col(
        "VolumeBindingMode",
        description=(
            "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and "
            "bound.  When unset, VolumeBindingImmediate is used. This field is only honored by "
            "servers that enable the VolumeScheduling feature."
        ),
    ),
    col(
        "AllowVolumeExpansion",
        description="allowVolumeExpansion shows whether the storage class allow volume expand.",
    ),
    AGE,
]

_DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def storageclass_row(sc: dict[str, Any], now: datetime) -> Row:
    annotations = sc["metadata"].get("annotations") or {}
    name = sc["metadata"]["name"]
    if any(annotations.get(a) == "true" for a in _DEFAULT_CLASS_ANNOTATIONS):
        name += " (default)"
    return [
        name,
        sc.get("provisioner", ""),
        sc.get("reclaimPolicy") or "Delete",
        sc.get("volumeBindingMode") or "Immediate",
        bool(sc.get("allowVolumeExpansion")),
        _age(sc, now),
    ]


def configmap_row(cm: dict[str, Any], now: datetime) -> Row:
    return [
        cm["metadata"]["name"],
        len(cm.get("data") or {}) + len(cm.get("binaryData") or {}),
        _age(cm, now),
    ]


SECRET_COLUMNS = [
    NAME,
    col("Type", "string", "Used to facilitate programmatic handling of secret data."),
    col("Data", "string", "Data contains the secret data."),
    AGE,
]


def secret_row(secret: dict[str, Any], now: datetime) -> Row:
    return [
        secret["metadata"]["name"],
        secret.get("type", "Opaque"),
        len(secret.get("data") or {}),
        _age(secret, now),
    ]


RESOURCEQUOTA_COLUMNS = [
    NAME,
    AGE,
    col(
        "Request",
        description=(
            "Request represents a minimum amount of cpu/memory that a container may consume."
        ),
    ),
    col(
        "Limit",
        description=(
            "Limits control the maximum amount of cpu/memory that a container may use "
            "independent of contention on the node."
        ),
    ),
]


def resourcequota_row(quota: dict[str, Any], now: datetime) -> Row:
    """REQUEST and LIMIT as `name: used/hard` pairs from status (limits.* under LIMIT)."""
    status = quota.get("status") or {}
    hard, used = status.get("hard") or {}, status.get("used") or {}
    request: list[str] = []
    limit: list[str] = []
    for name in sorted(hard):
        pieces = name.split(".")
        target = limit if len(pieces) > 1 and pieces[0] == "limits" else request
        target.append(f"{name}: {used.get(name, '0')}/{hard[name]}")
    return [quota["metadata"]["name"], _age(quota, now), ", ".join(request), ", ".join(limit)]


DEFAULT_COLUMNS = [NAME, col("Created At", "date", _AGE_DESC)]


def default_row(obj: dict[str, Any], now: datetime) -> Row:
    return [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp")]


PRINTERS: dict[str, tuple[list[dict[str, Any]], Callable[[dict[str, Any], datetime], Row]]] = {
    "pods": (POD_COLUMNS, pod_row),
    "persistentvolumeclaims": (PVC_COLUMNS, pvc_row),
    "persistentvolumes": (PV_COLUMNS, pv_row),
    "deployments": (DEPLOYMENT_COLUMNS, deployment_row),
    "replicasets": (REPLICASET_COLUMNS, replicaset_row),
    "jobs": (JOB_COLUMNS, job_row),
    "cronjobs": (CRONJOB_COLUMNS, cronjob_row),
    "nodes": (NODE_COLUMNS, node_row),
    "namespaces": (NAMESPACE_COLUMNS, namespace_row),
    "events": (EVENT_COLUMNS, event_row),
    "services": (SERVICE_COLUMNS, service_row),
    "configmaps": (CONFIGMAP_COLUMNS, configmap_row),
    "storageclasses": (STORAGECLASS_COLUMNS, storageclass_row),
    "secrets": (SECRET_COLUMNS, secret_row),
    "resourcequotas": (RESOURCEQUOTA_COLUMNS, resourcequota_row),
}


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(
    plural: str,
    objects: list[dict[str, Any]],
    resource_version: str | None,
    include_object: str = "Metadata",
    headers: bool = True,
    list_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table of `objects` with the columns of `plural`."""
    columns, printer = PRINTERS.get(plural, (DEFAULT_COLUMNS, default_row))
    now = datetime.now(timezone.utc)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer(obj, now)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    meta: dict[str, Any] = dict(list_meta or {})
    if resource_version is not None:
        meta["resourceVersion"] = resource_version
    out: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    if headers:
        out["columnDefinitions"] = columns
    else:
        out["columnDefinitions"] = None
    out["rows"] = rows
    return out
