"""``equipoise evidence import/show/search/summary`` through the real CLI."""

from __future__ import annotations

import json

from tests.evidence.registry_support import DATA, EXAMPLES


def test_import_show_search_summary(run_cli, tmp_path):
    store = tmp_path / "e.duckdb"
    imported = run_cli("evidence", "import", *sorted(EXAMPLES.iterdir()), "--store", store, "--json")
    assert imported.code == 0, imported.stderr
    assert json.loads(imported.stdout)["records_in_store"] == 21

    shown = run_cli("evidence", "show", "NCT04273646", "--store", store, "--json")
    record = json.loads(shown.stdout)
    for key in ("id", "registry", "title", "status", "study_type", "phases", "allocation", "masking",
                "intervention_model", "enrollment", "enrollment_type", "start_date", "primary_completion_date",
                "conditions", "interventions", "countries", "arms", "has_results", "randomized", "controlled",
                "control", "single_arm", "blinded", "version"):
        assert key in record
    assert (record["allocation"], record["masking"], record["control"]) == ("RANDOMIZED", "DOUBLE", "placebo")
    assert record["arms"][1] == {"label": "Placebo group", "type": "EXPERIMENTAL", "kind": "placebo",
                                 "description": "Placebo (normal saline) plus conventional treatment",
                                 "interventions": ["Other: Placebo"]}
    assert record["links"][0]["ids"] == ["ChiCTR2000030138", "NCT04273646"]
    assert record["links"][0]["disagreements"] == ["randomized: ChiCTR2000030138 no, NCT04273646 yes"]

    found = json.loads(run_cli("evidence", "search", "--condition", "covid-19", "--intervention", "mesenchymal",
                               "--design", "single-arm", "--store", store, "--json").stdout)
    assert [t["id"] for t in found["trials"]] == ["ChiCTR2000030088", "NCT04269525", "NCT04313322"]

    plot = tmp_path / "msc.png"
    summary = json.loads(run_cli("evidence", "summary", "--condition", "covid-19", "--intervention", "mesenchymal",
                                 "--label", "MSC", "--plot", plot, "--store", store, "--json").stdout)
    assert summary["headline"] == ("of 20 registered MSC trials, 13 randomized, 10 blinded, 16 controlled, "
                                   "3 single-arm; median size 30")
    assert summary["distinct_trials"] == 18
    assert summary["by_country"]["China"] == 11
    assert plot.stat().st_size > 10_000


def test_import_reports_malformed_records(run_cli, tmp_path):
    result = run_cli("evidence", "import", DATA / "ictrp-malformed.csv", "--store", tmp_path / "e.duckdb")
    assert result.code == 0
    assert "skipped" in result.stdout
    assert "ChiCTR2000099992: 3 cells where the header has 10" in result.stdout


def test_errors_exit_2_with_one_line(run_cli, tmp_path):
    store = tmp_path / "e.duckdb"
    missing = run_cli("evidence", "show", "NCT04288102", "--store", store)
    assert missing.code == 2
    assert "no evidence store here" in missing.stderr
    run_cli("evidence", "import", EXAMPLES / "NCT04288102.json", "--store", store)
    unknown = run_cli("evidence", "show", "NCT00000001", "--store", store)
    assert unknown.code == 2
    assert "NCT00000001: not in" in unknown.stderr
    design = run_cli("evidence", "search", "--design", "zigzag", "--store", store)
    assert design.code == 2
    assert "--design" in design.stderr
    no_file = run_cli("evidence", "import", tmp_path / "nope.csv", "--store", store)
    assert no_file.code == 2
    assert "no such file" in no_file.stderr
    assert "Traceback" not in missing.stderr + unknown.stderr + design.stderr + no_file.stderr
