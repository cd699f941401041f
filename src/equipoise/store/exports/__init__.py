"""Exports of a trial's data: CSV files with a data dictionary, an analysis file, and CDISC ODM 1.3.2 XML."""

from equipoise.store.exports.service import FORMATS, ExportBundle, ExportService

__all__ = ["FORMATS", "ExportBundle", "ExportService"]
