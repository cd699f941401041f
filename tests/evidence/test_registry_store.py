"""The DuckDB evidence store: idempotent, versioned re-import; malformed records skipped; nothing half-written."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from equipoise.errors import UserError
from equipoise.evidence_store import RegistryStore, import_files
from equipoise.evidence_store.registry_store import normalised_text, query_terms
from tests.evidence.registry_support import DATA, EXAMPLES

EXAMPLE_FILES = sorted(EXAMPLES.iterdir())


def study(nct: str, last_update: str, allocation: str = "RANDOMIZED", title: str = "t") -> dict[str, Any]:
    return {"protocolSection": {
        "identificationModule": {"nctId": nct, "briefTitle": title},
        "statusModule": {"overallStatus": "RECRUITING", "lastUpdatePostDateStruct": {"date": last_update}},
        "designModule": {"studyType": "INTERVENTIONAL", "designInfo": {"allocation": allocation}}}}


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_import_examples_then_reimport_changes_nothing(tmp_path):
    with RegistryStore.open(tmp_path / "e.duckdb") as store:
        first = import_files(EXAMPLE_FILES, store)
        assert first.records_in_store == 21
        assert sum(f.new for f in first.files) == 21
        assert first.skipped == 0
        again = import_files(EXAMPLE_FILES, store)
        assert sum(f.unchanged for f in again.files) == 21
        assert sum(f.new + f.updated for f in again.files) == 0
        assert again.records_in_store == 21


def test_newer_version_replaces_older_is_kept_out(tmp_path):
    with RegistryStore.open(tmp_path / "e.duckdb") as store:
        import_files([write(tmp_path / "a.json", study("NCT09000001", "2021-01-01", "NON_RANDOMIZED"))], store)
        newer = import_files([write(tmp_path / "b.json", study("NCT09000001", "2022-06-01"))], store)
        assert newer.files[0].updated == 1
        found = store.get("NCT09000001")
        assert found is not None
        record, version, source = found
        assert (record.allocation, version, source) == ("RANDOMIZED", "2022-06-01", str(tmp_path / "b.json"))
        older = import_files([write(tmp_path / "c.json", study("NCT09000001", "2020-01-01", "NON_RANDOMIZED"))],
                             store)
        assert older.files[0].kept_stored == 1
        assert store.get("NCT09000001")[1] == "2022-06-01"  # type: ignore[index]


def test_ictrp_copy_of_an_nct_record_never_replaces_the_registry_own(tmp_path):
    csv_row = ('"TrialID","Last Refreshed on","Public title","Study design"\n'
               '"NCT09000001","30 November 2026","ICTRP copy","Allocation: Non-Randomized."\n')
    (tmp_path / "i.csv").write_text(csv_row, encoding="utf-8")
    with RegistryStore.open(tmp_path / "e.duckdb") as store:
        import_files([write(tmp_path / "a.json", study("NCT09000001", "2021-01-01"))], store)
        report = import_files([tmp_path / "i.csv"], store)
        assert report.files[0].kept_stored == 1
        assert store.get("NCT09000001")[0].source_format == "ctgov-v2"  # type: ignore[index]


def test_malformed_records_are_reported_and_the_rest_imported(tmp_path):
    with RegistryStore.open(tmp_path / "e.duckdb") as store:
        report = import_files([DATA / "malformed-page.json", DATA / "ictrp-malformed.csv",
                               DATA / "ictrp-broken.xml", DATA / "truncated.json"], store)
        assert report.records_in_store == 4
        assert [len(f.problems) for f in report.files] == [4, 2, 1, 1]
        assert report.files[1].problems[1].record_id == "ChiCTR2000099992"
        assert report.files[1].problems[1].source == f"{DATA / 'ictrp-malformed.csv'} line 4"


def test_bulk_zip_with_damaged_entries(tmp_path):
    archive = tmp_path / "bulk.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ctg-studies.json/NCT09000001.json", json.dumps(study("NCT09000001", "2021-01-01")))
        z.writestr("ctg-studies.json/NCT09000002.json", "{not json")
        z.writestr("ctg-studies.json/NCT09000003.json", json.dumps({"hasResults": False}))
        z.writestr("ctg-studies.json/README.txt", "not a study")
    with RegistryStore.open(tmp_path / "e.duckdb") as store:
        report = import_files([archive], store)
        assert report.records_in_store == 1
        assert sorted(p.source for p in report.files[0].problems) == [
            f"{archive}:ctg-studies.json/NCT09000002.json", f"{archive}:ctg-studies.json/NCT09000003.json"]


class InterruptError(Exception):
    pass


class InterruptAfter:
    """A progress bar whose user presses Ctrl-C after some records."""

    def __init__(self, records: int) -> None:
        self.left = records

    def start_file(self, name: str, total: int | None) -> None:
        pass

    def advance(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise InterruptError


def test_an_interrupted_file_leaves_nothing_half_written(tmp_path):
    page = write(tmp_path / "page.json", {"studies": [study(f"NCT0900{i:04d}", "2021-01-01") for i in range(30)]})
    with RegistryStore.open(tmp_path / "e.duckdb") as store:
        import_files([EXAMPLES / "NCT04288102.json"], store)
        with pytest.raises(InterruptError):
            import_files([page], store, InterruptAfter(25), batch_size=10)  # two batches written, then interrupted
        assert store.count() == 1
    with RegistryStore.open(tmp_path / "e.duckdb") as store:  # and the file is still a good store
        assert store.count() == 1


def test_search(tmp_path):
    with RegistryStore.open(tmp_path / "e.duckdb") as store:
        import_files(EXAMPLE_FILES, store)
        msc = store.search(condition="covid-19", intervention="mesenchymal")
        assert len(msc) == 20
        assert "ChiCTR2000029606" not in {r.id for r in msc}  # menstrual-blood stem cells are not MSCs by name
        randomized = store.search(condition="covid-19", intervention="mesenchymal", randomized=True)
        assert len(randomized) == 13
        assert all(r.classification.randomized for r in randomized)
        single = store.search(design="single-arm")
        assert sorted(r.id for r in single) == ["ChiCTR2000030088", "NCT04269525", "NCT04313322"]
        assert store.count_matching(condition="2019-nCoV") == store.count_matching(condition="covid 19")


def test_errors(tmp_path):
    with pytest.raises(UserError, match="no evidence store here"):
        RegistryStore.open(tmp_path / "missing.duckdb", create=False)
    (tmp_path / "not-a-store.duckdb").write_text("hello", encoding="utf-8")
    with pytest.raises(UserError, match="cannot open the evidence store"):
        RegistryStore.open(tmp_path / "not-a-store.duckdb")
    with RegistryStore.open(tmp_path / "e.duckdb") as store:
        with pytest.raises(UserError, match="no such file"):
            import_files([tmp_path / "nope.json"], store)
        (tmp_path / "x.bin").write_bytes(b"\x00\x01binary")
        with pytest.raises(UserError, match="not a registry export"):
            import_files([tmp_path / "x.bin"], store)
        with pytest.raises(UserError, match="--design"):
            store.search(design="zigzag")


def test_a_byte_that_is_not_utf8_costs_one_character_not_the_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes('"TrialID","Public title"\n"ChiCTR2000099996","fine"\n"ChiCTR2000099997","Caf\xe9"\n'
                     .encode("latin-1"))
    with RegistryStore.open(tmp_path / "e.duckdb") as store:
        assert import_files([path], store).records_in_store == 2
        assert store.get("ChiCTR2000099997")[0].title == "Caf\ufffd"  # type: ignore[index]


def test_long_ictrp_cells_are_read(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text('"TrialID","Public title","Inclusion Criteria"\n"ChiCTR2000099998","t","' + "x" * 200_000 + '"\n',
                    encoding="utf-8")
    with RegistryStore.open(tmp_path / "e.duckdb") as store:
        assert import_files([path], store).records_in_store == 1


def test_same_id_twice_in_one_file_keeps_the_newest(tmp_path):
    page = write(tmp_path / "page.json", {"studies": [study("NCT09000001", "2022-01-01", "RANDOMIZED"),
                                                      study("NCT09000001", "2021-01-01", "NON_RANDOMIZED")]})
    with RegistryStore.open(tmp_path / "e.duckdb") as store:
        report = import_files([page], store, batch_size=1)  # the two copies land in different batches
        assert (report.files[0].new, report.files[0].kept_stored) == (1, 1)
        assert store.get("NCT09000001")[0].allocation == "RANDOMIZED"  # type: ignore[index]


def test_normalised_search_text():
    """Spellings of COVID-19 and MSC made one, anything not a-z or 0-9 a space, whatever the script (the result of
    DuckDB's regexp_replace chain this replaced, checked by hand for these)."""
    assert normalised_text("novel coronavirus pneumonia (ncp) 新型冠状病毒 uc-msc") == "covid19 covid19 uc msc"
    assert normalised_text("sars-cov-2; 2019-ncov and mesenchymal stromal cells") == "covid19 covid19 and msc"
    assert normalised_text("reduce uc_x; umbilical-cord") == "reduce uc x uc"
    assert query_terms(" COVID-19 ") == ["covid-19", "covid19"]
