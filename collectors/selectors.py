"""Label selectors as kubectl accepts them (``-l``), matched locally against labels.

Equality (``a=b``, ``a==b``, ``a!=b``), sets (``a in (x,y)``, ``a notin (x)``) and existence
(``a``, ``!a``), comma-separated, all of which must hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*$")


class SelectorError(ValueError):
    """A selector that cannot be read; the message quotes it."""


def _split(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # in | notin | exists | absent (equality is "in" with one value)
    values: frozenset[str] = frozenset()

    def holds(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "absent":
            return self.key not in labels
        value = labels.get(self.key)
        if self.op == "in":
            return value in self.values
        return value not in self.values


@dataclass(frozen=True)
class Selector:
    text: str
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.holds(labels) for r in self.requirements)


def parse_selector(text: str | None) -> Selector:
    reqs: list[Requirement] = []
    for part in _split(text or ""):
        match = _SET.match(part)
        if match:
            values = frozenset(v.strip() for v in match[3].split(",") if v.strip())
            reqs.append(Requirement(match[1], match[2], values))
            continue
        match = _EQ.match(part)
        if match:
            op = "notin" if match[2] == "!=" else "in"
            reqs.append(Requirement(match[1], op, frozenset({match[3]})))
            continue
        match = _EXISTS.match(part)
        if match:
            reqs.append(Requirement(match[2], "absent" if match[1] else "exists"))
            continue
        raise SelectorError(f"label selector {text!r} cannot be read near {part.strip()!r}")
    return Selector(text or "", tuple(reqs))
