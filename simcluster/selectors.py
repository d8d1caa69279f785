"""Label and field selectors with kube-apiserver's grammar and its field support table.

Label selectors: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, joined by
commas. Field selectors: `f=v`, `f==v`, `f!=v` over the fields each resource supports
(`metadata.name` and `metadata.namespace` everywhere, plus per-kind ones such as
`status.phase`, `spec.nodeName`, `involvedObject.*`); an unsupported field is a 400, as
clients expect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simcluster.errors import ApiError, bad_request

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def valid_label_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_NAME_PART.match(name))


def valid_label_value(value: str) -> bool:
    return len(value) <= 63 and bool(_LABEL_VALUE.match(value))


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        # "!=" and "notin" also match objects without the label, as in Kubernetes.
        return not present or labels[self.key] not in self.values


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        parts = []
        for r in self.requirements:
            if r.op == "exists":
                parts.append(r.key)
            elif r.op == "!exists":
                parts.append(f"!{r.key}")
            elif r.op in ("=", "!="):
                parts.append(f"{r.key}{r.op}{next(iter(r.values))}")
            else:
                parts.append(f"{r.key} {r.op} ({','.join(sorted(r.values))})")
        return ",".join(parts)


_TOKEN = re.compile(r"\s*(==|!=|=|!|\(|\)|,|[^\s,()!=]+)")


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            break
        tokens.append(m.group(1))
        pos = m.end()
        if not text[pos:].strip():
            break
    return tokens


def _parse_error(message: str) -> ApiError:
    return bad_request(f"unable to parse requirement: {message}")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a `labelSelector` query value; a malformed one is a 400 BadRequest."""
    if text is None or not text.strip():
        return LabelSelector()
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def peek() -> str:
        return toks[i] if i < len(toks) else ""

    while i < len(toks):
        negate = False
        if peek() == "!":
            negate = True
            i += 1
        key = peek()
        if not key or key in ("=", "==", "!=", "(", ")", ",", "!"):
            raise _parse_error(f"found '{key}', expected: identifier")
        if not valid_label_key(key):
            raise _parse_error(
                f'key: Invalid value: "{key}": name part must consist of '
                "alphanumeric characters, '-', '_' or '.'"
            )
        i += 1
        op = peek()
        if negate:
            if op not in ("", ","):
                raise _parse_error(f"found '{op}', expected: ',' or 'end of string'")
            reqs.append(Requirement(key, "!exists"))
        elif op in ("", ","):
            reqs.append(Requirement(key, "exists"))
        elif op in ("=", "==", "!="):
            i += 1
            value = peek()
            if value in ("", ",") or value in ("(", ")", "=", "==", "!=", "!"):
                if value in ("(", ")", "=", "==", "!=", "!"):
                    raise _parse_error(f"found '{value}', expected: identifier")
                value = ""
            else:
                i += 1
            if not valid_label_value(value):
                raise _parse_error(
                    f'values[0][{key}]: Invalid value: "{value}": a valid label '
                    "must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.'"
                )
            reqs.append(Requirement(key, "!=" if op == "!=" else "=", frozenset([value])))
        elif op in ("in", "notin"):
            i += 1
            if peek() != "(":
                raise _parse_error(f"found '{peek()}', expected: '('")
            i += 1
            values: list[str] = []
            while True:
                tok = peek()
                if tok == ")":
                    i += 1
                    break
                if tok == ",":
                    i += 1
                    continue
                if tok in ("", "(", "=", "==", "!=", "!"):
                    raise _parse_error(f"found '{tok}', expected: ',', ')' or identifier")
                if not valid_label_value(tok):
                    raise _parse_error(f'Invalid value: "{tok}"')
                values.append(tok)
                i += 1
            if not values:
                raise _parse_error(f"for '{op}' operator, values set can't be empty")
            reqs.append(Requirement(key, op, frozenset(values)))
        else:
            raise _parse_error(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        if i < len(toks):
            if peek() != ",":
                raise _parse_error(f"found '{peek()}', expected: ',' or 'end of string'")
            i += 1
            if i == len(toks):
                raise _parse_error("found '', expected: identifier")
    return LabelSelector(tuple(reqs))


def selector_from_spec(spec: Mapping[str, Any] | None) -> LabelSelector:
    """A metav1.LabelSelector (`matchLabels`, `matchExpressions`) as a LabelSelector."""
    if not spec:
        return LabelSelector()
    reqs = [
        Requirement(k, "=", frozenset([str(v)])) for k, v in (spec.get("matchLabels") or {}).items()
    ]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expr in spec.get("matchExpressions") or []:
        op = ops.get(expr.get("operator", ""))
        if op is None:
            raise bad_request(f"{expr.get('operator')!r} is not a valid label selector operator")
        reqs.append(Requirement(expr["key"], op, frozenset(expr.get("values") or [])))
    return LabelSelector(tuple(reqs))


# Fields each resource accepts in fieldSelector, beyond metadata.name / metadata.namespace.
FIELDS: dict[str, tuple[str, ...]] = {
    "pods": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "events": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "nodes": ("spec.unschedulable",),
    "namespaces": ("status.phase",),
    "jobs": ("status.successful",),
    "replicasets": ("status.replicas",),
    "persistentvolumes": ("name",),
    "secrets": ("type",),
}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    equal: bool
    value: str


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    if path == "source":  # events: source.component
        return str((obj.get("source") or {}).get("component", ""))
    if path == "name":
        path = "metadata.name"
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
        if cur is None:
            return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((_field_value(obj, r.field) == r.value) == r.equal for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def value_of(self, field: str) -> str | None:
        """The value an equality term pins `field` to (lets the store skip a scan)."""
        for r in self.requirements:
            if r.field == field and r.equal:
                return r.value
        return None


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_field_selector(text: str | None, plural: str | None = None) -> FieldSelector:
    """Parse a `fieldSelector`; with `plural`, fields the resource does not support are a 400."""
    if text is None or not text.strip():
        return FieldSelector()
    reqs = []
    allowed = ("metadata.name", "metadata.namespace", *FIELDS.get(plural or "", ()))
    for term in _split_unescaped(text, ","):
        term = term.strip()
        if not term:
            continue
        m = re.match(r"^([^=!\s]+)\s*(==|!=|=)(.*)$", term)
        if m is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = m.group(1), m.group(2), _unescape(m.group(3).strip())
        if plural is not None and field not in allowed:
            raise bad_request(f"field label not supported: {field}")
        reqs.append(FieldRequirement(field, op != "!=", value))
    return FieldSelector(tuple(reqs))
