"""Read YAML into plain data while remembering the line each key and item came from.

PyYAML's constructor forgets source positions, so we walk the composed node tree ourselves. Two YAML 1.1
surprises are removed on the way: ``yes``/``no``/``on``/``off`` stay strings (a country code ``NO`` must not
become ``False``), and a key given twice in one mapping is an error instead of silently keeping the last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from equipoise.protocol.problems import Path, Problem


class _Loader(yaml.SafeLoader):
    """SafeLoader whose booleans are only true/false, as in YAML 1.2's core schema."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))


@dataclass
class YamlDocument:
    """Plain data (dicts, lists, scalars) plus the 1-based source line of every path in it."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of ``path`` or of its nearest ancestor that exists in the file."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None


def parse_yaml(text: str, filename: str) -> tuple[YamlDocument | None, list[Problem]]:
    """Parse one YAML document; syntax errors come back as problems with their line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = f"YAML syntax error: {exc.problem or exc.context}"
        return None, [Problem((), message, file=filename, line=line)]
    except yaml.YAMLError as exc:
        return None, [Problem((), f"YAML syntax error: {exc}", file=filename, line=None)]
    finally:
        loader.dispose()
    if node is None:
        return None, [Problem((), "the file is empty", file=filename, line=1)]
    doc = YamlDocument(data=None)
    problems: list[Problem] = []
    doc.data = _build(node, (), doc, problems, filename, _Loader(""))
    return doc, problems


def _build(
    node: yaml.Node, path: Path, doc: YamlDocument, problems: list[Problem], filename: str, loader: _Loader
) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                problems.append(Problem(path, "mapping keys must be plain words", file=filename,
                                        line=key_node.start_mark.line + 1))
                continue
            key_path = (*path, key if isinstance(key, str) else str(key))
            if key in out:
                problems.append(Problem(key_path, f"key {key!r} is given twice in the same mapping",
                                        file=filename, line=key_node.start_mark.line + 1))
                continue
            doc.lines[key_path] = key_node.start_mark.line + 1
            out[key] = _build(value_node, key_path, doc, problems, filename, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), doc, problems, filename, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
