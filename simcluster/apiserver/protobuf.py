"""Just enough Kubernetes protobuf to read what kubectl sends that way and we must answer:
the SelfSubjectAccessReview of `kubectl auth can-i` (other protobuf bodies get a 415).

Wire format: the `k8s\\x00` magic, then a runtime.Unknown whose field 1 is the TypeMeta
(apiVersion, kind) and field 2 the object's own message.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from simcluster import errors

MAGIC = b"k8s\x00"
PROTOBUF_TYPE = "application/vnd.kubernetes.protobuf"


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


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf body as the JSON object it stands for (SelfSubjectAccessReview only)."""
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
        if type_meta.get("kind") != "SelfSubjectAccessReview":
            raise errors.unsupported_media_type(PROTOBUF_TYPE)
        spec: dict[str, Any] = {}
        for number, _, value in fields(raw):
            if number != 2:
                continue
            for n, _, v in fields(value):
                if n == 1:
                    spec["resourceAttributes"] = _strings(v, _RESOURCE_ATTRS)
                elif n == 2:
                    spec["nonResourceAttributes"] = _strings(v, {1: "path", 2: "verb"})
        return {**type_meta, "metadata": {}, "spec": spec}
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"cannot decode the protobuf body: {exc}") from None
