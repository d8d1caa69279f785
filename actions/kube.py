"""The actions' door to the cluster: plan steps (ApiCall, ExecStep) carried out via the client.

One place maps an ``ApiCall`` to the official client's typed method, passes ``dryRun=All`` when
asked, and turns an ``ApiException`` into one sentence. The API client itself comes from
``collectors.cluster`` (the only module that builds clients); this wraps it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes.client.rest import ApiException

from actions.context import ActionFailed
from actions.options import FIELD_MANAGER
from actions.plan import ApiCall, ExecStep
from collectors import kube
from collectors.cluster import Cluster
from collectors.execs import ExecOutcome, exec_stream
from collectors.nodes import node_health
from collectors.redact import redact_text

_SINGULAR = {
    "pods": "pod",
    "deployments": "deployment",
    "jobs": "job",
    "cronjobs": "cron_job",
    "events": "event",
}
_DELETE_KEYS = {
    "propagationPolicy": "propagation_policy",
    "gracePeriodSeconds": "grace_period_seconds",
}
MUTATING = ("create", "patch", "delete", "update")


def api_error(exc: ApiException, what: str) -> str:
    """One sentence for a refused request, naming the request and the server's reason."""
    reason = exc.reason or "error"
    message = ""
    try:
        body = json.loads(exc.body or "{}")
        message = str(body.get("message") or "")
    except (ValueError, TypeError, AttributeError):
        message = ""
    text = f"The API server refused {what}: {exc.status} {reason}"
    if message:
        text += f" ({message.rstrip('.')})"
    return redact_text(text) + "."


class KubeGateway:
    """Typed API access for the actions, with a timeout on every request."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.api_client = cluster.api_client
        self.request_timeout: Any = cluster.timeout
        self.core = cluster.core
        self.apps = cluster.apps
        self.batch = cluster.batch
        self.authz = cluster.authorization

    # -- generic API calls ------------------------------------------------------------------

    def _api(self, call: ApiCall) -> Any:
        if call.group == "apps":
            return self.apps
        if call.group == "batch":
            return self.batch
        if call.group == "":
            return self.core
        raise ActionFailed(f"The API group {call.group!r} is not supported by the actions.")

    def call(
        self, call: ApiCall, *, dry_run: bool = False, field_manager: str = FIELD_MANAGER
    ) -> dict[str, Any]:
        """Carry out one ``ApiCall``; mutating calls get ``dryRun=All`` when ``dry_run``."""
        singular = _SINGULAR.get(call.resource)
        if singular is None:
            raise ActionFailed(f"The resource {call.resource!r} is not supported by the actions.")
        api = self._api(call)
        verb = {"get": "read"}.get(call.verb, call.verb)
        method = getattr(api, f"{verb}_namespaced_{singular}", None)
        if method is None:
            raise ActionFailed(f"{call.verb} {call.resource} is not supported by the actions.")
        kwargs: dict[str, Any] = {"_request_timeout": self.request_timeout}
        if call.verb in MUTATING and dry_run:
            kwargs["dry_run"] = "All"
        args: list[Any] = []
        if call.verb in ("get", "delete", "patch", "update"):
            args.append(call.name)
        args.append(call.namespace)
        if call.verb == "create":
            kwargs["body"] = dict(call.body or {})
            kwargs["field_manager"] = field_manager
        elif call.verb == "patch":
            kwargs["body"] = dict(call.body or {})
            kwargs["field_manager"] = field_manager
            kwargs["_content_type"] = "application/strategic-merge-patch+json"
        elif call.verb == "delete":
            for key, value in (call.body or {}).items():
                if key in _DELETE_KEYS:
                    kwargs[_DELETE_KEYS[key]] = value
        try:
            result = method(*args, **kwargs)
        except ApiException as exc:
            raise ActionFailed(api_error(exc, _what(call))) from None
        return self.plain(result)

    def plain(self, obj: Any) -> dict[str, Any]:
        data = self.api_client.sanitize_for_serialization(obj)
        return data if isinstance(data, dict) else {}

    # -- reads used while executing -----------------------------------------------------------

    def pod_object(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            obj = self.core.read_namespaced_pod(
                name, namespace, _request_timeout=self.request_timeout
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ActionFailed(api_error(exc, f"GET pods/{name}")) from None
        return self.plain(obj)

    def volume_expansion(self, storage_class: str) -> bool | None:
        """Whether a StorageClass lets its claims grow; None when it cannot be read (a
        cluster-scoped read that a namespaced role may not have, or no such class)."""
        try:
            obj = self.cluster.storage.read_storage_class(
                storage_class, _request_timeout=self.request_timeout
            )
        except ApiException:
            return None
        return bool(obj.allow_volume_expansion)

    def ready_nodes(self) -> tuple[str, ...] | None:
        """The nodes that take new pods (Ready, not cordoned), by name; None when they cannot
        be listed (nodes are cluster-scoped: a namespaced role may not)."""
        try:
            data = self.cluster.get_json(self.core.list_node)
        except (ApiException, ValueError):
            return None
        listed = kube.items(data.get("items") if isinstance(data, Mapping) else None)
        healths = (node_health(n) for n in listed if isinstance(n, Mapping))
        return tuple(sorted(h.name for h in healths if h.takes_pods))

    def deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            obj = self.apps.read_namespaced_deployment(
                name, namespace, _request_timeout=self.request_timeout
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ActionFailed(api_error(exc, f"GET deployments/{name}")) from None
        return self.plain(obj)

    def job(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            obj = self.batch.read_namespaced_job(
                name, namespace, _request_timeout=self.request_timeout
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ActionFailed(api_error(exc, f"GET jobs/{name}")) from None
        return self.plain(obj)

    def list_pods(self, namespace: str, label_selector: str | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"_request_timeout": self.request_timeout}
        if label_selector:
            kwargs["label_selector"] = label_selector
        try:
            result = self.core.list_namespaced_pod(namespace, **kwargs)
        except ApiException as exc:
            raise ActionFailed(api_error(exc, "LIST pods")) from None
        items = self.plain(result).get("items") or []
        return [i for i in items if isinstance(i, dict)]

    def log_tail(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        lines: int = 50,
        previous: bool = False,
    ) -> str:
        """The last ``lines`` of a container's log ('' when there is none yet)."""
        kwargs: dict[str, Any] = {
            "tail_lines": lines,
            "limit_bytes": 256 * 1024,
            "_request_timeout": self.request_timeout,
        }
        if previous:
            kwargs["previous"] = True
        if container:
            kwargs["container"] = container
        try:
            text = self.core.read_namespaced_pod_log(pod, namespace, **kwargs)
        except ApiException as exc:
            if exc.status in (400, 404):
                return ""
            raise ActionFailed(api_error(exc, f"GET pods/{pod}/log")) from None
        return text if isinstance(text, str) else str(text or "")

    # -- exec -------------------------------------------------------------------------------

    def exec(
        self,
        step: ExecStep,
        *,
        timeout: float,
        on_line: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ExecOutcome:
        """Run one ``ExecStep`` (an argv list, never a shell string) and wait for it."""
        try:
            with self.cluster.exec_core() as core:
                return exec_stream(
                    core,
                    step.namespace,
                    step.pod,
                    step.argv,
                    container=step.container,
                    timeout=timeout,
                    on_line=on_line,
                    cancel=cancel,
                )
        except ApiException as exc:
            raise ActionFailed(api_error(exc, f"exec in pod {step.pod}")) from None
        except (OSError, ValueError) as exc:
            raise ActionFailed(
                redact_text(f"Exec in pod {step.pod} failed: {exc}".rstrip(".")) + "."
            ) from None

    # -- authorization and events ---------------------------------------------------------------

    def access_review(
        self,
        verb: str,
        resource: str,
        namespace: str,
        group: str = "",
        subresource: str | None = None,
    ) -> tuple[bool, str]:
        """SelfSubjectAccessReview: (allowed, the server's reason or '')."""
        attrs: dict[str, Any] = {"verb": verb, "resource": resource, "namespace": namespace}
        if group:
            attrs["group"] = group
        if subresource:
            attrs["subresource"] = subresource
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attrs},
        }
        try:
            result = self.authz.create_self_subject_access_review(
                body, _request_timeout=self.request_timeout
            )
        except ApiException as exc:
            raise ActionFailed(api_error(exc, "a SelfSubjectAccessReview")) from None
        status = self.plain(result).get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")

    def create_event(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.call(ApiCall("create", "events", namespace, body=body))


def _what(call: ApiCall) -> str:
    target = f"{call.resource}/{call.name}" if call.name else call.resource
    return f"{call.verb.upper()} {target}"
