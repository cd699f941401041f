"""Read YAML into plain data while remembering the line each key and item came from.

PyYAML's constructor forgets source positions, so we walk the composed node tree ourselves. Two YAML 1.1
surprises are removed on the way: ``yes``/``no``/``on``/``off`` stay strings (a country code ``NO`` must not
become ``False``), and a key given twice in one mapping is an error instead of silently keeping the last.

The walk is bounded, so a hostile or broken file fails fast with its line instead of exhausting memory or the
stack: nesting deeper than ``MAX_DEPTH``, a node that contains itself (``a: &a [*a]``) and aliases that expand
to more than ``MAX_NODES`` values ("billion laughs", CWE-776) are errors; so are control characters, unknown
tags (``!foo``) and integers too long for Python to convert (over 4,300 digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from equipoise.protocol.problems import Path, Problem
from equipoise.user_files import CONTROL_CHARACTERS, UnreadableFileError, check_control_characters

# A protocol nests about 8 levels deep; 64 is generous and far from Python's recursion limit.
MAX_DEPTH = 64
# Values after expanding aliases; a large protocol has a few thousand.
MAX_NODES = 200_000


class YamlLimitError(yaml.MarkedYAMLError):
    """The document is nested too deeply, refers to itself or expands to too many values."""


class _Loader(yaml.SafeLoader):
    """SafeLoader whose booleans are only true/false, as in YAML 1.2's core schema, and whose composer stops
    at ``MAX_DEPTH`` levels (PyYAML's composer is recursive: a deep document would end in RecursionError)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise YamlLimitError(None, None, f"the document is nested more than {MAX_DEPTH} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


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
    """Parse one YAML document; syntax errors and the limits above come back as problems with their line."""
    try:
        check_control_characters(text, filename)
    except UnreadableFileError as exc:
        return None, [Problem((), exc.reason, file=filename, line=exc.line)]
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        return None, [_problem(exc, filename)]
    finally:
        loader.dispose()
    if node is None:
        return None, [Problem((), "the file is empty", file=filename, line=1)]
    doc = YamlDocument(data=None)
    problems: list[Problem] = []
    try:
        doc.data = _Builder(doc, problems, filename).build(node, ())
    except yaml.YAMLError as exc:
        return None, [*problems, _problem(exc, filename)]
    return doc, problems


def _problem(exc: yaml.YAMLError, filename: str) -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        kind = "" if isinstance(exc, YamlLimitError | yaml.constructor.ConstructorError) else "YAML syntax error: "
        return Problem((), f"{kind}{exc.problem or exc.context}", file=filename, line=line)
    return Problem((), f"YAML syntax error: {exc}", file=filename, line=None)


class _Builder:
    """Walks the node tree into plain data, counting every value (aliases count each time they are used)."""

    def __init__(self, doc: YamlDocument, problems: list[Problem], filename: str) -> None:
        self.doc, self.problems, self.filename = doc, problems, filename
        self.loader = _Loader("")
        self.nodes = 0
        self.open: set[int] = set()  # nodes being built: meeting one again means it contains itself

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlLimitError(None, None, f"the document expands to more than {MAX_NODES:,} values (YAML "
                                 "aliases used over and over?)", node.start_mark)
        if len(path) > MAX_DEPTH:
            raise YamlLimitError(None, None, f"the document is nested more than {MAX_DEPTH} levels deep",
                                 node.start_mark)
        if id(node) in self.open:
            raise YamlLimitError(None, None, "this value contains itself (a YAML alias to an enclosing anchor)",
                                 node.start_mark)
        self.doc.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if node.tag not in (yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG):
                raise yaml.constructor.ConstructorError(None, None, f"unknown YAML tag {node.tag!r}",
                                                        node.start_mark)
            self.open.add(id(node))
            try:
                return self._mapping(node, path) if isinstance(node, yaml.MappingNode) else \
                    [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            finally:
                self.open.discard(id(node))
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                # YAML merge keys (<<) resolved here, under the value budget (PyYAML's flatten_mapping copies
                # without bound); explicit keys win over merged ones, earlier merged mappings over later ones
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    built = self.build(source, path)
                    if not isinstance(built, dict):
                        raise yaml.constructor.ConstructorError(
                            None, None, "a merge key (<<) takes a mapping or a list of mappings", key_node.start_mark)
                    merged = {**built, **merged}
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(Problem(path, "mapping keys must be plain words", file=self.filename,
                                             line=key_node.start_mark.line + 1))
                continue
            key = self._scalar(key_node)
            if not isinstance(key, str | int | float | bool):
                self.problems.append(Problem(path, "mapping keys must be plain words", file=self.filename,
                                             line=key_node.start_mark.line + 1))
                continue
            key_path = (*path, key if isinstance(key, str) else str(key))
            if key in out:
                self.problems.append(Problem(key_path, f"key {key!r} is given twice in the same mapping",
                                             file=self.filename, line=key_node.start_mark.line + 1))
                continue
            self.doc.lines[key_path] = key_node.start_mark.line + 1
            out[key] = self.build(value_node, key_path)
        return {**merged, **out} if merged else out

    def _scalar(self, node: yaml.Node) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except ValueError as exc:  # int() refuses more than 4,300 digits (CVE-2020-10735)
            digits = "an integer with more than 4,300 digits" if "digits" in str(exc) else f"{exc}"
            raise yaml.constructor.ConstructorError(None, None, f"cannot read this value: {digits}",
                                                    node.start_mark) from None
        if isinstance(value, str) and (found := CONTROL_CHARACTERS.search(value)):
            # an escape in a quoted string ("\x00", "\u0007") makes the same character the file may not hold
            raise yaml.constructor.ConstructorError(
                None, None, f"this text holds the control character U+{ord(found.group()):04X} (written as an "
                "escape); only tab and line breaks are allowed", node.start_mark)
        return value


def load_yaml_data(text: str, filename: str) -> Any:
    """Plain data from YAML text under the same limits as a protocol; the first problem is raised as a
    UserError naming the file and line (for YAML files other than protocols, e.g. a natural history)."""
    doc, problems = parse_yaml(text, filename)
    if problems:
        raise UnreadableFileError(filename, problems[0].message, line=problems[0].line)
    assert doc is not None
    return doc.data
