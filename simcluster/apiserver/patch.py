"""The three patch kinds clients send: strategic-merge, JSON merge (RFC 7386), JSON (RFC 6902).

Strategic merge knows the list merge keys that matter for the kinds served here (containers,
env, volumes and ports by their keys; finalizers as a set) and the `$patch`, `$retainKeys`,
`$setElementOrder` and `$deleteFromPrimitiveList` directives; other lists are replaced, as
for fields without a patch strategy.
"""

from __future__ import annotations

from typing import Any

from simcluster import errors
from simcluster.store import deep_copy

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE, APPLY, STRATEGIC)

# field name -> merge key, for lists merged by key (Kubernetes' patchMergeKey).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "readinessGates": "conditionType",
    "addresses": "type",
}
# Primitive lists merged as sets.
SET_LISTS = frozenset({"finalizers"})


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    result = deep_copy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(target: Any, patch: Any) -> Any:
    """Apply a strategic-merge patch to a JSON value (returns a new value)."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    if not isinstance(target, dict):
        target = {}
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: deep_copy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = deep_copy(target)
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$"):
            if key.startswith("$deleteFromPrimitiveList/"):
                field = key.split("/", 1)[1]
                drop = set(map(_hashable, value or []))
                if isinstance(result.get(field), list):
                    result[field] = [v for v in result[field] if _hashable(v) not in drop]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            result[key] = value
    if isinstance(retain, list):
        keep = set(retain)
        result = {k: v for k, v in result.items() if k in keep}
    return result


def _hashable(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool)) or v is None else repr(v)


def _merge_list(field: str, current: Any, patch: list[Any]) -> list[Any]:
    key = MERGE_KEYS.get(field)
    if field in SET_LISTS:
        out = list(current) if isinstance(current, list) else []
        for v in patch:
            if v not in out:
                out.append(v)
        return out
    if key is None or not all(isinstance(item, dict) for item in patch):
        # A list without a merge strategy is replaced; `$patch: replace` items are dropped.
        return [deep_copy(v) for v in patch if not (isinstance(v, dict) and v.get("$patch"))]
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [deep_copy(v) for v in patch if not (isinstance(v, dict) and "$patch" in v)]
    out = [deep_copy(v) for v in current] if isinstance(current, list) else []
    for item in patch:
        if key not in item:
            raise errors.bad_request(f"map: {item} does not contain declared merge key: {key}")
        idx = next(
            (i for i, v in enumerate(out) if isinstance(v, dict) and v.get(key) == item[key]), None
        )
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strategic_merge({}, item))
        else:
            out[idx] = strategic_merge(out[idx], item)
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.bad_request(f'JSON pointer must start with "/": {path!r}')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise _unprocessable(f"jsonpatch: path {path!r} does not exist")
    return cur


def _unprocessable(message: str) -> errors.ApiError:
    return errors.ApiError(422, "Invalid", message)


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 add/remove/replace/move/copy/test, applied to a copy of `doc`."""
    if not isinstance(ops, list):
        raise errors.bad_request("json patch must be a list of operations")
    doc = deep_copy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise errors.bad_request(f"invalid JSON patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        parts = _pointer(path)
        if kind == "test":
            if _walk(doc, parts, path) != op.get("value"):
                raise _unprocessable(f"testing value {path} failed")
            continue
        if kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = deep_copy(_walk(doc, src, op.get("from", "")))
            if kind == "move":
                doc = _remove(doc, src, op["from"])
            doc = _add(doc, parts, value, path)
            continue
        if kind == "remove":
            doc = _remove(doc, parts, path)
        elif kind == "add":
            doc = _add(doc, parts, deep_copy(op.get("value")), path)
        elif kind == "replace":
            _walk(doc, parts, path)
            doc = _remove(doc, parts, path)
            doc = _add(doc, parts, deep_copy(op.get("value")), path)
        else:
            raise errors.bad_request(f"unexpected kind of JSON patch operation: {kind!r}")
    return doc


def _add(doc: Any, parts: list[str], value: Any, path: str) -> Any:
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise _unprocessable(f"jsonpatch: index {last!r} out of range in {path!r}")
    else:
        raise _unprocessable(f"jsonpatch: cannot add at {path!r}")
    return doc


def _remove(doc: Any, parts: list[str], path: str) -> Any:
    if not parts:
        return None
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        parent.pop(int(last))
    else:
        raise _unprocessable(f"jsonpatch: path {path!r} does not exist")
    return doc


def apply_patch(content_type: str, current: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply a patch of the given Content-Type (parameters ignored) to `current`."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == JSON_PATCH:
        result = json_patch(current, patch)
    elif media == MERGE:
        if not isinstance(patch, dict):
            raise errors.bad_request("a merge patch must be a JSON object")
        result = merge_patch(current, patch)
    elif media == STRATEGIC:
        if not isinstance(patch, dict):
            raise errors.bad_request("a strategic merge patch must be a JSON object")
        result = strategic_merge(current, patch)
    else:
        raise errors.ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include: "
            f'{", ".join(PATCH_TYPES[:2] + PATCH_TYPES[3:])}; got "{media}"',
        )
    if not isinstance(result, dict):
        raise _unprocessable("the patch turned the object into something that is not an object")
    return result
