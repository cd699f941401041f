"""The evidence store: registry records in one embedded DuckDB file (I/O; the parsing is ``equipoise.evidence``)."""

from equipoise.evidence_store.registry_import import ImportProgress, ImportReport, import_files
from equipoise.evidence_store.registry_store import DEFAULT_STORE, DESIGNS, RegistryStore

__all__ = ["DEFAULT_STORE", "DESIGNS", "ImportProgress", "ImportReport", "RegistryStore", "import_files"]
