"""`${...}` placeholders in scenario values: model URLs and checksums, repeat counters.

A placeholder is a dotted name, optionally times a number (`${model.v1.size*0.5}`, which
gives whole bytes). Values are always written as text (a Kubernetes quantity such as a
claim's storage request is text on the wire too). `$${` writes a literal `${`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

_PLACEHOLDER = re.compile(
    r"\$\$\{|\$\{\s*([A-Za-z_][\w.-]*)\s*(?:\*\s*([0-9]+(?:\.[0-9]+)?)\s*)?\}"
)
_OPEN = "${"


class TemplateError(ValueError):
    """A placeholder that names nothing known, or that is malformed."""


def names_in(text: str) -> list[tuple[str, float | None]]:
    """Every (name, factor) placeholder in text; raise TemplateError on a malformed one."""
    found: list[tuple[str, float | None]] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        _check_gap(text[pos : m.start()])
        pos = m.end()
        if m.group(0) == "$${":
            continue
        found.append((m.group(1), float(m.group(2)) if m.group(2) else None))
    _check_gap(text[pos:])
    return found


def _check_gap(text: str) -> None:
    if _OPEN in text:
        bad = text[text.index(_OPEN) :][:40]
        raise TemplateError(f"malformed placeholder {bad!r}: expected ${{name}} or ${{name*N}}")


Resolver = Callable[[str], Any]


def _apply(value: Any, factor: float | None, name: str) -> Any:
    if factor is None:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TemplateError(f"${{{name}*{factor:g}}}: {name} is not a number")
    return int(value * factor)


def render_text(text: str, resolve: Resolver) -> str:
    """Substitute the placeholders of one string (values become text, as YAML would have)."""
    if "$" not in text:
        return text
    names_in(text)  # raise on malformed placeholders

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return _OPEN
        name = m.group(1)
        value = _apply(resolve(name), float(m.group(2)) if m.group(2) else None, name)
        return str(value)

    return _PLACEHOLDER.sub(sub, text)


def render(value: Any, resolve: Resolver) -> Any:
    """Substitute placeholders in every string of a nested value (keys included)."""
    if isinstance(value, str):
        return render_text(value, resolve)
    if isinstance(value, list):
        return [render(v, resolve) for v in value]
    if isinstance(value, dict):
        return {render_key(k, resolve): render(v, resolve) for k, v in value.items()}
    return value


def render_key(key: Any, resolve: Resolver) -> Any:
    if isinstance(key, str) and "$" in key:
        return render_text(key, resolve)
    return key


def mapping_resolver(values: Mapping[str, Any], what: str = "placeholder") -> Resolver:
    """A resolver over a flat {dotted name: value} mapping."""

    def resolve(name: str) -> Any:
        try:
            return values[name]
        except KeyError:
            raise TemplateError(f"unknown {what} ${{{name}}}") from None

    return resolve
