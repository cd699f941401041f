"""ARCHITECTURE.md's dependency rules, enforced by reading every import in the package."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "equipoise"
PURE = ["protocol", "design", "simulate", "allocate", "analyze", "evidence", "report", "figures"]
IO_LAYERS = ("equipoise.store", "equipoise.identity", "equipoise.services", "equipoise.integrity", "equipoise.exports",
             "equipoise.evidence_store", "equipoise.server", "equipoise.web", "equipoise.cli")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_pure_layers_never_import_io_layers():
    folders = [SRC / layer for layer in PURE if (SRC / layer).exists()]
    assert SRC / "protocol" in folders
    offenders = {
        f"{path.relative_to(SRC)} imports {name}"
        for folder in folders
        for path in folder.rglob("*.py")
        for name in imports_of(path)
        if name.startswith(IO_LAYERS)
    }
    assert not offenders


def test_analyses_never_import_the_reports():
    """The reports render analyses (``analyze/report_inputs.py`` runs them); no analysis reaches back, not even
    inside a function."""
    offenders = {
        f"{path.relative_to(SRC)} imports {name}"
        for path in (SRC / "analyze").rglob("*.py")
        for name in imports_of(path)
        if name.startswith("equipoise.report")
    }
    assert not offenders


def test_allocate_knows_no_database():
    offenders = {
        f"{path.relative_to(SRC)} imports {name}"
        for path in (SRC / "allocate").rglob("*.py")  # an absent layer has no files, hence no offenders
        for name in imports_of(path)
        if name.split(".")[0] in {"sqlalchemy", "psycopg", "sqlite3", "alembic", "fastapi"}
    }
    assert not offenders


# What each I/O layer may import of Equipoise (besides itself): the database knows no business rule, identity
# knows no trial operation, the services know no web or command line.
MAY_IMPORT = {
    "store": {"errors"},
    "identity": {"errors", "store"},
    "services": {"errors", "store", "identity", "protocol", "allocate", "user_files"},
    "integrity": {"errors", "store", "identity", "services", "protocol", "allocate"},
    "exports": {"errors", "store", "identity", "services", "protocol", "analyze"},
    "server": {"errors", "store", "identity", "services", "integrity", "exports", "protocol", "web"},
    "web": {"errors", "store", "identity", "services", "integrity", "exports", "protocol", "design",
            "simulate", "allocate", "analyze", "evidence", "report", "figures", "evidence_store"},
}


def test_each_io_layer_imports_only_the_layers_below_it():
    offenders = set()
    for layer, allowed in MAY_IMPORT.items():
        for path in (SRC / layer).rglob("*.py"):
            for name in imports_of(path):
                parts = name.split(".")
                if parts[0] == "equipoise" and len(parts) > 1 and parts[1] not in allowed | {layer, "__version__"}:
                    offenders.add(f"{path.relative_to(SRC)} imports {name}")
    assert not offenders, sorted(offenders)
