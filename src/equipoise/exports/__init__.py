"""Exports of a trial's data: CSV files with a data dictionary and an analysis file, the same tables as Parquet
files with typed columns, and CDISC ODM 1.3.2 XML."""

from equipoise.exports.service import FORMATS, ExportBundle, ExportService, Format

__all__ = ["FORMATS", "ExportBundle", "ExportService", "Format"]
