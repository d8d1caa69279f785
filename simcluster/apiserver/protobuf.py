"""Just enough Kubernetes protobuf to read what kubectl sends that way and we must answer:
the SelfSubjectAccessReview of `kubectl auth can-i`, and the Secret, ConfigMap and
ResourceQuota of `kubectl create secret generic` / `configmap` / `quota` (other protobuf bodies
get a 415).

Wire format: the `k8s\\x00` magic, then a runtime.Unknown whose field 1 is the TypeMeta
(apiVersion, kind) and field 2 the object's own message.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from simcluster import errors

MAGIC = b"k8s\x00"
PROTOBUF_TYPE = "application/vnd.kubernetes.protobuf"
# The plurals whose create accepts a protobuf body.
PROTOBUF_CREATES = frozenset(
    {"selfsubjectaccessreviews", "secrets", "configmaps", "resourcequotas"}
)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of each field of a message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise ValueError("truncated field")
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def _strings(buf: bytes, names: dict[int, str]) -> dict[str, str]:
    out = {}
    for number, wire, value in fields(buf):
        if wire == 2 and number in names:
            out[names[number]] = value.decode()
    return out


_RESOURCE_ATTRS = {
    1: "namespace",
    2: "verb",
    3: "group",
    4: "version",
    5: "resource",
    6: "subresource",
    7: "name",
}


def _entry(buf: bytes) -> tuple[str, bytes]:
    """One entry of a protobuf map: key (field 1) and value (field 2)."""
    key, value = "", b""
    for number, wire, v in fields(buf):
        if wire == 2 and number == 1:
            key = v.decode()
        elif wire == 2 and number == 2:
            value = v
    return key, value


def _object_meta(buf: bytes) -> dict[str, Any]:
    """The ObjectMeta fields a create carries: names, labels, annotations."""
    meta: dict[str, Any] = {}
    for number, wire, value in fields(buf):
        if wire != 2:
            continue
        if number in (1, 2, 3) and value:
            meta[("name", "generateName", "namespace")[number - 1]] = value.decode()
        elif number in (11, 12):
            key, v = _entry(value)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = v.decode()
    return meta


def _object(
    raw: bytes, maps: dict[int, tuple[str, bool]], strings: dict[int, str], immutable: int
) -> dict[str, Any]:
    """An object of metadata (field 1), maps (field -> JSON name, values are bytes shown as
    base64), strings and an `immutable` flag: what a Secret and a ConfigMap are."""
    out: dict[str, Any] = {"metadata": {}}
    for number, wire, value in fields(raw):
        if number == 1:
            out["metadata"] = _object_meta(value)
        elif number in maps:
            field, binary = maps[number]
            key, v = _entry(value)
            out.setdefault(field, {})[key] = base64.b64encode(v).decode() if binary else v.decode()
        elif number in strings and value:
            out[strings[number]] = value.decode()
        elif number == immutable and wire == 0:
            out["immutable"] = bool(value)
    return out


def _access_review(raw: bytes) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for number, _, value in fields(raw):
        if number != 2:
            continue
        for n, _, v in fields(value):
            if n == 1:
                spec["resourceAttributes"] = _strings(v, _RESOURCE_ATTRS)
            elif n == 2:
                spec["nonResourceAttributes"] = _strings(v, {1: "path", 2: "verb"})
    return {"metadata": {}, "spec": spec}


def _resource_quota(raw: bytes) -> dict[str, Any]:
    """core/v1 ResourceQuota (`kubectl create quota`): metadata 1, spec 2; the spec's hard 1
    is a map of Quantity messages (the quantity string is their field 1), scopes 2."""
    out: dict[str, Any] = {"metadata": {}, "spec": {}}
    for number, wire, value in fields(raw):
        if number == 1 and wire == 2:
            out["metadata"] = _object_meta(value)
        elif number == 2 and wire == 2:
            spec: dict[str, Any] = {}
            for n, w, v in fields(value):
                if n == 1 and w == 2:
                    key, quantity = _entry(v)
                    spec.setdefault("hard", {})[key] = _strings(quantity, {1: "q"}).get("q", "")
                elif n == 2 and w == 2:
                    spec.setdefault("scopes", []).append(v.decode())
            out["spec"] = spec
    return out


_DECODERS: dict[str, Callable[[bytes], dict[str, Any]]] = {
    "SelfSubjectAccessReview": _access_review,
    "ResourceQuota": _resource_quota,
    # core/v1 Secret: metadata 1, data 2 (bytes), type 3, stringData 4, immutable 5
    "Secret": partial(
        _object,
        maps={2: ("data", True), 4: ("stringData", False)},
        strings={3: "type"},
        immutable=5,
    ),
    # core/v1 ConfigMap: metadata 1, data 2, binaryData 3 (bytes), immutable 4
    "ConfigMap": partial(
        _object, maps={2: ("data", False), 3: ("binaryData", True)}, strings={}, immutable=4
    ),
}


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf body as the JSON object it stands for (the kinds in _DECODERS only)."""
    try:
        if not body.startswith(MAGIC):
            raise ValueError("missing the k8s protobuf magic")
        type_meta: dict[str, str] = {}
        raw = b""
        for number, _, value in fields(body[len(MAGIC) :]):
            if number == 1:
                type_meta = _strings(value, {1: "apiVersion", 2: "kind"})
            elif number == 2:
                raw = value
        decoder = _DECODERS.get(type_meta.get("kind", ""))
        if decoder is None:
            raise errors.unsupported_media_type(PROTOBUF_TYPE)
        return {**type_meta, **decoder(raw)}
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"cannot decode the protobuf body: {exc}") from None
