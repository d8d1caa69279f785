"""REST verbs on stored resources: list, get, create, replace, patch, delete, status, scale.

Each answer has the shape kube-apiserver gives it: lists with `kind: XList` and a
resourceVersion (items without kind, as the server sends them), 201 on create, deleted
pods returned as objects and other deletions as a `Status` with details, `Table` when the
client asks for one (kubectl get).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import yaml
from aiohttp import web

from simcluster import errors
from simcluster.apiserver import patch as patching
from simcluster.apiserver import tables
from simcluster.apiserver.auth import User, decide
from simcluster.apiserver.protobuf import PROTOBUF_CREATES, PROTOBUF_TYPE
from simcluster.apiserver.protobuf import decode as decode_protobuf
from simcluster.apiserver.requestinfo import RequestInfo
from simcluster.resources import ResourceType
from simcluster.selectors import parse_field_selector, parse_label_selector, selector_from_spec
from simcluster.store import Store, deep_copy

JSON_TYPE = "application/json"
MAX_LIMIT = 100_000
_STATUS_SUBRESOURCE = frozenset(
    {
        "pods",
        "deployments",
        "replicasets",
        "jobs",
        "cronjobs",
        "persistentvolumeclaims",
        "persistentvolumes",
        "services",
        "nodes",
        "namespaces",
        "resourcequotas",
    }
)
JOB_ORPHAN_WARNING = (
    '299 - "child pods are preserved by default when jobs are deleted; set '
    "propagationPolicy=Background to remove them or set propagationPolicy=Orphan to "
    'suppress this warning"'
)


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def respond(
    obj: Any,
    status: int = 200,
    content_type: str = JSON_TYPE,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return web.Response(
        body=dumps(obj).encode(),
        status=status,
        content_type=None,
        headers={"Content-Type": content_type, **(headers or {})},
    )


def _media_params(part: str) -> dict[str, str]:
    return {
        p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip()
        for p in part.split(";")[1:]
        if "=" in p
    }


def table_version(request: web.Request) -> str | None:
    """The Table version the client asks for first (`v1`, `v1beta1`), None for no Table."""
    for part in request.headers.get("Accept", "").split(","):
        params = _media_params(part)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return params.get("v", "v1")
    return None


def wants_table(request: web.Request) -> bool:
    return table_version(request) is not None


def table_content_type(request: web.Request) -> str:
    return f"application/json;as=Table;v={table_version(request) or 'v1'};g=meta.k8s.io"


async def read_body(request: web.Request, allow_empty: bool = False, protobuf: bool = False) -> Any:
    """The request body as JSON (or YAML); a missing Content-Type means JSON, as upstream."""
    raw = await request.read()
    if not raw.strip():
        if allow_empty:
            return None
        raise errors.bad_request("the request body is empty; expected a JSON object")
    media = (
        request.headers.get("Content-Type", JSON_TYPE).split(";", 1)[0].strip().lower() or JSON_TYPE
    )
    if media in (JSON_TYPE, "*/*", "text/plain") or (
        media in patching.PATCH_TYPES and media != patching.APPLY
    ):
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.bad_request(
                f"couldn't get version/kind; json parse error: {exc}"
            ) from None
    if protobuf and media == PROTOBUF_TYPE:
        return decode_protobuf(raw)
    if media in ("application/yaml", "application/x-yaml", patching.APPLY):
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None
    raise errors.unsupported_media_type(media)


def _check_type(rtype: ResourceType, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.bad_request(
            f"the object provided is unrecognized or malformed: expected a {rtype.kind} object"
        )
    kind, api_version = body.get("kind"), body.get("apiVersion")
    if kind and kind != rtype.kind:
        raise errors.bad_request(
            f"the kind of the provided object ({kind}) does not match the resource ({rtype.kind})"
        )
    if api_version and api_version != rtype.api_version:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({rtype.api_version})"
        )
    meta = body.get("metadata")
    if meta is None:
        body["metadata"] = {}
    elif not isinstance(meta, dict):
        raise errors.bad_request("metadata must be an object")
    return body


def _set_namespace(rtype: ResourceType, info: RequestInfo, body: dict[str, Any]) -> None:
    meta = body["metadata"]
    if not rtype.namespaced:
        return
    ns = meta.get("namespace")
    if ns and ns != info.namespace:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    meta["namespace"] = info.namespace


def _strip_item(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


def _encode_continue(rv: int, key: tuple[str, str]) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{key[0]}/{key[1]}\x00"})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        start = str(data["start"]).rstrip("\x00")
        ns, _, name = start.partition("/")
        return ns, name
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion "
            "(version meta.k8s.io/v1)"
        ) from None


def _int_param(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f'invalid {name} "{value}": must be an integer') from None


class Rest:
    """Handlers for one store; `authorize` is consulted only by SelfSubjectAccessReview."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- reads ---------------------------------------------------------------------------

    def list(self, request: web.Request, rtype: ResourceType, info: RequestInfo) -> web.Response:
        labels = parse_label_selector(request.query.get("labelSelector"))
        fields = parse_field_selector(request.query.get("fieldSelector"), rtype.plural)
        items, rv = self.store.list(
            rtype.plural, info.namespace or None, labels, fields, copy=False
        )
        cont = request.query.get("continue")
        if cont:
            start = _decode_continue(cont)
            items = [
                o
                for o in items
                if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start
            ]
        limit = _int_param(request, "limit") or 0
        list_meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if 0 < limit < len(items):
            last = items[limit - 1]["metadata"]
            list_meta["continue"] = _encode_continue(rv, (last.get("namespace", ""), last["name"]))
            list_meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if wants_table(request):
            include = request.query.get("includeObject", "Metadata")
            body = tables.table(rtype.plural, items, None, include, list_meta=list_meta)
            return respond(body, content_type=table_content_type(request))
        return respond(
            {
                "kind": rtype.list_kind,
                "apiVersion": rtype.api_version,
                "metadata": list_meta,
                "items": [_strip_item(o) for o in items],
            }
        )

    def _peek(self, rtype: ResourceType, info: RequestInfo) -> dict[str, Any]:
        obj = self.store.peek(rtype.plural, info.namespace or None, info.name)
        if obj is None:
            raise errors.not_found(rtype.plural, info.name, rtype.group)
        return obj

    def get(self, request: web.Request, rtype: ResourceType, info: RequestInfo) -> web.Response:
        obj = self._peek(rtype, info)
        if wants_table(request):
            include = request.query.get("includeObject", "Metadata")
            body = tables.table(
                rtype.plural, [obj], obj["metadata"].get("resourceVersion"), include
            )
            return respond(body, content_type=table_content_type(request))
        return respond(obj)

    # -- writes --------------------------------------------------------------------------

    async def create(
        self, request: web.Request, rtype: ResourceType, info: RequestInfo, user: User
    ) -> web.Response:
        ssar = rtype.plural == "selfsubjectaccessreviews"
        protobuf = rtype.plural in PROTOBUF_CREATES
        body = _check_type(rtype, await read_body(request, protobuf=protobuf))
        if ssar:
            return respond(self_subject_access_review(user, body), 201)
        _set_namespace(rtype, info, body)
        if _dry_run(request):
            return respond(body, 201)
        created = self.store.create(rtype.plural, body)
        return respond(created, 201)

    async def update(
        self, request: web.Request, rtype: ResourceType, info: RequestInfo
    ) -> web.Response:
        body = _check_type(rtype, await read_body(request))
        self._check_name(body, info)
        _set_namespace(rtype, info, body)
        old = self._peek(rtype, info)
        if rtype.plural in _STATUS_SUBRESOURCE:
            if "status" in old:
                body["status"] = deep_copy(old["status"])
            else:
                body.pop("status", None)
        if _dry_run(request):
            return respond(body)
        return respond(self.store.update(rtype.plural, body))

    async def patch(
        self, request: web.Request, rtype: ResourceType, info: RequestInfo
    ) -> web.Response:
        body = await read_body(request)
        current = self.store.get(rtype.plural, info.namespace or None, info.name)
        patched = patching.apply_patch(request.headers.get("Content-Type", ""), current, body)
        self._keep_identity(patched, current, rtype)
        if rtype.plural in _STATUS_SUBRESOURCE:
            if "status" in current:
                patched["status"] = current["status"]
            else:
                patched.pop("status", None)
        if _dry_run(request):
            return respond(patched)
        return respond(self.store.update(rtype.plural, patched))

    @staticmethod
    def _keep_identity(
        patched: dict[str, Any], current: dict[str, Any], rtype: ResourceType
    ) -> None:
        meta = patched.get("metadata")
        if not isinstance(meta, dict):
            raise errors.invalid(
                rtype.kind,
                current["metadata"]["name"],
                [("metadata", "FieldValueRequired", "Required value")],
                rtype.group,
            )
        meta["name"] = current["metadata"]["name"]
        if rtype.namespaced:
            meta["namespace"] = current["metadata"]["namespace"]
        patched["kind"], patched["apiVersion"] = rtype.kind, rtype.api_version

    @staticmethod
    def _check_name(body: dict[str, Any], info: RequestInfo) -> None:
        name = body["metadata"].get("name")
        if not name:
            body["metadata"]["name"] = info.name
        elif name != info.name:
            raise errors.bad_request(
                f"the name of the object ({name}) does not match the name on the URL ({info.name})"
            )

    async def delete(
        self, request: web.Request, rtype: ResourceType, info: RequestInfo
    ) -> web.Response:
        opts = await read_body(request, allow_empty=True) or {}
        if not isinstance(opts, dict):
            raise errors.bad_request("DeleteOptions must be a JSON object")
        policy = opts.get("propagationPolicy") or request.query.get("propagationPolicy")
        orphan = opts.get("orphanDependents")
        if orphan is None and request.query.get("orphanDependents") is not None:
            orphan = request.query.get("orphanDependents") in ("true", "1")
        headers: dict[str, str] = {}
        if policy is None and orphan is not None:
            policy = "Orphan" if orphan else "Background"
        if policy is None:
            policy = "Orphan" if rtype.plural == "jobs" else "Background"
            if rtype.plural == "jobs":
                headers["Warning"] = JOB_ORPHAN_WARNING
        grace = opts.get("gracePeriodSeconds")
        if grace is None:
            grace = _int_param(request, "gracePeriodSeconds")
        obj = self._peek(rtype, info)
        pre = opts.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
            raise errors.ApiError(
                409,
                "Conflict",
                f"Precondition failed: UID in precondition: {pre['uid']}, "
                f"UID in object meta: {obj['metadata']['uid']}",
                {"name": info.name, "kind": rtype.plural},
            )
        if (
            pre.get("resourceVersion")
            and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]
        ):
            raise errors.ApiError(
                409,
                "Conflict",
                "Precondition failed: ResourceVersion in precondition: "
                f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                f"{obj['metadata']['resourceVersion']}",
                {"name": info.name, "kind": rtype.plural},
            )
        if _dry_run(request):
            return respond(obj, headers=headers)
        result = self.store.delete(
            rtype.plural,
            info.namespace or None,
            info.name,
            propagation=policy,
            grace=grace != 0,
            grace_seconds=grace if grace else None,
        )
        still_there = self.store.peek(rtype.plural, info.namespace or None, info.name) is not None
        if still_there or rtype.plural in ("pods", "namespaces"):
            return respond(result, headers=headers)
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": info.name,
                "group": rtype.group,
                "kind": rtype.plural,
                "uid": obj["metadata"]["uid"],
            },
        }
        if not rtype.group:
            del status["details"]["group"]
        return respond(status, headers=headers)

    async def delete_collection(
        self, request: web.Request, rtype: ResourceType, info: RequestInfo
    ) -> web.Response:
        opts = await read_body(request, allow_empty=True) or {}
        labels = parse_label_selector(request.query.get("labelSelector"))
        fields = parse_field_selector(request.query.get("fieldSelector"), rtype.plural)
        items, _ = self.store.list(rtype.plural, info.namespace or None, labels, fields)
        policy = (
            (opts.get("propagationPolicy") if isinstance(opts, dict) else None)
            or request.query.get("propagationPolicy")
            or ("Orphan" if rtype.plural == "jobs" else "Background")
        )
        deleted = []
        for o in items:
            try:
                deleted.append(
                    self.store.delete(
                        rtype.plural,
                        o["metadata"].get("namespace"),
                        o["metadata"]["name"],
                        propagation=policy,
                    )
                )
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
        return respond(
            {
                "kind": rtype.list_kind,
                "apiVersion": rtype.api_version,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": [_strip_item(o) for o in deleted],
            }
        )

    # -- subresources --------------------------------------------------------------------

    async def status(
        self, request: web.Request, rtype: ResourceType, info: RequestInfo
    ) -> web.Response:
        if request.method == "GET":
            return respond(self._peek(rtype, info))
        if request.method not in ("PUT", "PATCH"):
            raise errors.method_not_allowed()
        body = await read_body(request)  # before the read: see ``scale``
        current = self.store.get(rtype.plural, info.namespace or None, info.name)
        if request.method == "PUT":
            body = _check_type(rtype, body)
            self._check_name(body, info)
            new = deep_copy(current)
            new["status"] = body.get("status") or {}
            if body["metadata"].get("resourceVersion"):
                new["metadata"]["resourceVersion"] = body["metadata"]["resourceVersion"]
        else:
            patched = patching.apply_patch(request.headers.get("Content-Type", ""), current, body)
            new = deep_copy(current)
            new["status"] = patched.get("status") or {}
            rv = (patched.get("metadata") or {}).get("resourceVersion")
            if rv:
                new["metadata"]["resourceVersion"] = rv
        return respond(self.store.update(rtype.plural, new))

    def _scale_of(self, rtype: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        selector = str(selector_from_spec(spec.get("selector")))
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": spec.get("replicas", 0)},
            "status": {"replicas": status.get("replicas", 0), "selector": selector},
        }

    async def scale(
        self, request: web.Request, rtype: ResourceType, info: RequestInfo
    ) -> web.Response:
        if rtype.plural not in ("deployments", "replicasets"):
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        if request.method not in ("GET", "PUT", "PATCH"):
            raise errors.method_not_allowed()
        # The body first: no await between reading the object and writing it back, or a
        # controller's update in between would make this write a conflict the client never
        # caused (the API server retries such a patch; here there is nothing to retry).
        body = await read_body(request) if request.method != "GET" else None
        current = self.store.get(rtype.plural, info.namespace or None, info.name)
        scale = self._scale_of(rtype, current)
        if request.method == "GET":
            return respond(scale)
        if request.method == "PUT":
            if not isinstance(body, dict):
                raise errors.bad_request("Scale must be a JSON object")
            new_scale = body
        else:
            new_scale = patching.apply_patch(request.headers.get("Content-Type", ""), scale, body)
        replicas = (new_scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid(
                "Scale",
                info.name,
                [
                    (
                        "spec.replicas",
                        "FieldValueInvalid",
                        f"Invalid value: {replicas}: must be greater than or equal to 0",
                    )
                ],
                "autoscaling",
            )
        want_rv = (new_scale.get("metadata") or {}).get("resourceVersion")
        if want_rv and want_rv != current["metadata"]["resourceVersion"]:
            raise errors.conflict(rtype.plural, info.name, rtype.group)
        current["spec"]["replicas"] = replicas
        updated = self.store.update(rtype.plural, current)
        return respond(self._scale_of(rtype, updated))


def _dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise errors.bad_request(f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(values)


def self_subject_access_review(user: User, body: dict[str, Any]) -> dict[str, Any]:
    """Answer "may I?" with the same decision the request itself would get."""
    spec = body.get("spec")
    if not isinstance(spec, dict) or not (
        spec.get("resourceAttributes") or spec.get("nonResourceAttributes")
    ):
        raise errors.invalid(
            "SelfSubjectAccessReview",
            "",
            [
                (
                    "spec.resourceAttributes",
                    "FieldValueRequired",
                    (
                        "Required value: exactly one of nonResourceAttributes or "
                        "resourceAttributes must be specified"
                    ),
                )
            ],
            "authorization.k8s.io",
        )
    res = spec.get("resourceAttributes")
    if res:
        decision = decide(
            user,
            str(res.get("verb", "")),
            str(res.get("resource", "")),
            str(res.get("subresource", "")),
        )
    else:
        nra = spec["nonResourceAttributes"]
        verb = str(nra.get("verb", "")).lower()
        decision = decide(user, verb if verb in ("get", "head") else "create", "", "")
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.allowed and decision.reason:
        status["reason"] = decision.reason
    meta = dict(body.get("metadata") or {})
    meta.setdefault("creationTimestamp", None)
    return {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": meta,
        "spec": spec,
        "status": status,
    }
