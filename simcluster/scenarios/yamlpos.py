"""YAML to plain data, remembering the line of every key and list item.

The scenario checker reports `file:line: why`, so it needs to know where each value came
from; PyYAML's constructed objects forget that, its node tree does not. Only plain YAML is
accepted (maps, lists, scalars of the safe schema): tags that build objects are refused, and
a key given twice is an error instead of silently keeping the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


class YamlError(ValueError):
    """Unreadable YAML: `line` is 1-based (0 when unknown), `why` is one sentence."""

    def __init__(self, line: int, why: str) -> None:
        super().__init__(why)
        self.line = line
        self.why = why


@dataclass
class Located:
    """The document as plain data plus the 1-based line of each path in it."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), 1)


_SAFE = yaml.SafeLoader


def load_located(text: str) -> Located:
    """Parse one YAML document; raise YamlError naming the line and the problem."""
    try:
        node = yaml.compose(text, Loader=_SAFE)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = exc.problem or exc.context or "not valid YAML"
        raise YamlError(line, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlError(0, f"invalid YAML: {exc}") from None
    out = Located(None)
    if node is None:
        return out
    out.lines[()] = node.start_mark.line + 1
    out.data = _convert(node, (), out.lines)
    return out


def _scalar(node: yaml.ScalarNode) -> Any:
    loader = _SAFE("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise YamlError(node.start_mark.line + 1, f"bad value: {exc}") from None
    finally:
        loader.dispose()


def _convert(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    if isinstance(node, yaml.ScalarNode):
        if node.tag.startswith("!") or node.tag.startswith("tag:yaml.org,2002:python"):
            raise YamlError(node.start_mark.line + 1, f"unsupported YAML tag {node.tag}")
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, child in enumerate(node.value):
            here = (*path, i)
            lines[here] = child.start_mark.line + 1
            items.append(_convert(child, here, lines))
        return items
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError(line, "YAML merge keys (<<) are not supported")
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError(line, "a mapping key must be a plain value")
            key = _scalar(key_node)
            if isinstance(key, (list, dict)):
                raise YamlError(line, "a mapping key must be a plain value")
            if key in result:
                raise YamlError(line, f"key {key!r} is given twice")
            here = (*path, key)
            lines[here] = line
            result[key] = _convert(value_node, here, lines)
        return result
    raise YamlError(node.start_mark.line + 1, "unsupported YAML node")
