"""The import graph of the package, read with `ast` from the source files (no import is executed).

Three rules of docs/architecture.md: no import cycle between modules, no function-level import of
Equipoise's own modules outside the command line (an optional third-party library may still be imported
lazily), and no top-level package holding more than a quarter of the source lines.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "equipoise"
MAX_FUNCTION_LEVEL_IMPORTS = 3
MAX_PACKAGE_SHARE = 0.25


def module_name(path: Path) -> str:
    parts = ["equipoise", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_nodes(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement with whether it runs inside a function or class body; `if TYPE_CHECKING:`
    blocks are left out (they never run)."""

    def visit(node: ast.AST, nested: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, nested
            elif isinstance(child, ast.If) and is_type_checking(child.test):
                for orelse in child.orelse:
                    yield from visit(ast.Module(body=[orelse], type_ignores=[]), nested)
            else:
                inner = nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
                yield from visit(child, inner)

    yield from visit(tree, False)


def with_packages(importer: str, loaded: set[str]) -> set[str]:
    """Loading a.b.c runs a/__init__.py and a/b/__init__.py first: those packages are loaded too, except the
    importer's own (they are already running when it is imported)."""
    found = set(loaded)
    for name in loaded:
        parts = name.split(".")
        for end in range(2, len(parts)):
            package = ".".join(parts[:end])
            if package in MODULES and not importer.startswith(package + "."):
                found.add(package)
    return found


def targets(importer: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The Equipoise modules an import statement loads: `from a.b import c` is a.b.c when c is a module,
    else a.b."""
    found: set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
        return found
    if node.level:
        base = importer if is_package(importer) else importer.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        source = f"{base}.{node.module}" if node.module else base
    else:
        source = node.module or ""
    if source not in MODULES:
        return found
    for alias in node.names:
        found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source)
    return found


def read_graph() -> tuple[dict[str, set[str]], list[str]]:
    """The module graph (importer -> imported Equipoise modules) and the function-level imports of
    Equipoise's own modules, as 'path:line module' strings."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    late: list[str] = []
    for name, path in MODULES.items():
        for node, nested in import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            loaded = targets(name, node) - {name}
            graph[name] |= with_packages(name, loaded)
            if nested and loaded:
                late.append(f"{path.relative_to(SRC)}:{node.lineno} {', '.join(sorted(loaded))}")
    return graph, late


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_reader_finds_every_module():
    graph, _ = read_graph()
    assert "equipoise.services.forms" in graph
    assert "equipoise.store" in graph["equipoise.services.forms"] or any(
        name.startswith("equipoise.store.") for name in graph["equipoise.services.forms"]
    )


def test_loading_a_module_loads_its_packages_but_not_the_importers_own():
    assert with_packages("equipoise.analyze.interim", {"equipoise.report.plots"}) == {
        "equipoise.report.plots", "equipoise.report"}
    assert with_packages("equipoise.services.forms", {"equipoise.services.patients"}) == {
        "equipoise.services.patients"}


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules():
    graph, _ = read_graph()
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(component) for component in found)


def test_few_function_level_imports_of_equipoise_outside_the_command_line():
    _, late = read_graph()
    outside_cli = [entry for entry in late if not entry.startswith("cli/")]
    assert len(outside_cli) <= MAX_FUNCTION_LEVEL_IMPORTS, (
        f"{len(outside_cli)} function-level imports of Equipoise modules outside cli/:\n" + "\n".join(outside_cli)
    )


def test_no_top_level_package_holds_more_than_a_quarter_of_the_source():
    lines: dict[str, int] = {}
    for path in MODULES.values():
        relative = path.relative_to(SRC)
        top = relative.parts[0] if len(relative.parts) > 1 else str(relative)
        lines[top] = lines.get(top, 0) + len(path.read_text(encoding="utf-8").splitlines())
    total = sum(lines.values())
    fat = {top: f"{count / total:.0%}" for top, count in lines.items() if count > MAX_PACKAGE_SHARE * total}
    assert not fat, f"packages above {MAX_PACKAGE_SHARE:.0%} of {total} source lines: {fat}"
