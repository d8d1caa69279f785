"""What kube-apiserver 1.32 refuses in an update of a PersistentVolumeClaim (its
ValidatePersistentVolumeClaimUpdate), as 422 causes.

- The spec is immutable, except that a bound claim may change `resources.requests.storage`
  and `volumeAttributesClassName`, `volumeName` may be set once (by the binder) and a
  `storageClassName` may be set where there was none. Anything else is `spec: Forbidden:
  spec is immutable after creation except resources.requests and volumeAttributesClassName
  for bound claims` followed by a diff of the two specs (go-cmp's in a real server, a plainer
  one here). A Pending claim's request is part of that spec: it cannot change until bound.
- A smaller request: with RecoverVolumeExpansionFailure (beta and on in 1.32) a request may
  go down, to recover from an expansion that failed, but never to `status.capacity` or below:
  `spec.resources.requests.storage: Forbidden: field can not be less than status.capacity`.
- `volumeMode` is immutable (`volumeMode: Invalid value: "Block": field is immutable`).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from simcluster.expansion import capacity, requested
from simcluster.quantity import QuantityError, parse_quantity

Cause = tuple[str, str, str]

SPEC_IMMUTABLE = (
    "spec is immutable after creation except resources.requests and volumeAttributesClassName "
    "for bound claims"
)
BELOW_CAPACITY = "field can not be less than status.capacity"
STORAGE_PATH = "spec.resources.requests.storage"

# PersistentVolumeClaimSpec's Go fields in declaration order, as the diff names them.
_GO_FIELDS = (
    ("accessModes", "AccessModes"),
    ("selector", "Selector"),
    ("resources", "Resources"),
    ("volumeName", "VolumeName"),
    ("storageClassName", "StorageClassName"),
    ("volumeMode", "VolumeMode"),
    ("dataSource", "DataSource"),
    ("dataSourceRef", "DataSourceRef"),
    ("volumeAttributesClassName", "VolumeAttributesClassName"),
)


def _semantic(value: Any) -> Any:
    """What Semantic.DeepEqual compares: quantities by value, nil and empty alike."""
    if isinstance(value, dict):
        out = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def _quantities(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with its resource quantities as numbers, so `1Gi` equals `1024Mi`."""
    out = copy.deepcopy(spec)
    for kind in ("requests", "limits"):
        values = (out.get("resources") or {}).get(kind)
        if isinstance(values, dict):
            for name, text in values.items():
                try:
                    values[name] = str(parse_quantity(str(text)))
                except QuantityError:
                    continue
    return out


def spec_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """A go-cmp-like diff of two specs: changed fields as -/+ lines, runs of equal ones
    folded into `... // N identical fields`."""
    lines = ["  core.PersistentVolumeClaimSpec{"]
    same = 0

    def flush() -> None:
        nonlocal same
        if same:
            lines.append(f"  \t... // {same} identical field{'s' if same > 1 else ''}")
            same = 0

    known = {key for key, _ in _GO_FIELDS}
    extra = sorted((set(old) | set(new)) - known)
    for key, go_name in (*_GO_FIELDS, *((k, k) for k in extra)):
        before, after = old.get(key), new.get(key)
        if _semantic({"v": before}) == _semantic({"v": after}):
            same += 1
            continue
        flush()
        lines.append(f"- \t{go_name}: {_show(before)},")
        lines.append(f"+ \t{go_name}: {_show(after)},")
    flush()
    lines.append("  }")
    return "\n".join(lines)


def _show(value: Any) -> str:
    return "nil" if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)


def update_causes(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """Why an update of claim `old` to `new` is invalid (empty when it is not)."""
    new_spec = copy.deepcopy(new.get("spec") or {})
    old_spec = copy.deepcopy(old.get("spec") or {})
    if not old_spec.get("volumeName"):
        old_spec["volumeName"] = new_spec.get("volumeName")  # set once, by the binder
    if old_spec.get("storageClassName") is None and new_spec.get("storageClassName") is not None:
        new_spec["storageClassName"] = old_spec.get("storageClassName")  # filled in later
    if (new.get("status") or {}).get("phase") == "Bound":
        requests = (new_spec.get("resources") or {}).get("requests")
        if isinstance(requests, dict):
            old_request = ((old_spec.get("resources") or {}).get("requests") or {}).get("storage")
            requests["storage"] = old_request
        if new_spec.get("volumeAttributesClassName") is not None:
            new_spec["volumeAttributesClassName"] = old_spec.get("volumeAttributesClassName")
    causes: list[Cause] = []
    if _semantic(_quantities(new_spec)) != _semantic(_quantities(old_spec)):
        diff = spec_diff(old_spec, new_spec)
        causes.append(("spec", "FieldValueForbidden", f"Forbidden: {SPEC_IMMUTABLE}\n{diff}"))
    old_size, new_size = requested(old), requested(new)
    shrunk = old_size is not None and new_size is not None and new_size < old_size
    if shrunk and (new_size or 0) <= (capacity(old) or 0):
        causes.append((STORAGE_PATH, "FieldValueForbidden", f"Forbidden: {BELOW_CAPACITY}"))
    old_mode = (old.get("spec") or {}).get("volumeMode")
    new_mode = (new.get("spec") or {}).get("volumeMode")
    if old_mode != new_mode:
        causes.append(
            (
                "volumeMode",
                "FieldValueInvalid",
                f"Invalid value: {json.dumps(new_mode)}: field is immutable",
            )
        )
    return causes
