"""``equipoise evidence add-trial``: the demo trial on the server becomes a row of the MSC evidence CSV, through
an audited export, with the counts (binary outcome) or the estimate and SE (the ordinal primary) that the
trial's own analysis gives; the pooled analysis then includes it."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from tests.integration.conftest import TRIAL, Demo, cli
from tests.integration.test_analysis_from_server import exports_audited, independent_frame
from tests.integration.test_api_walk import Server, server
from tests.store.support import DEMO

__all__ = ["server"]  # the running-server fixture of the API walk

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "evidence" / "msc-covid-mortality.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_add_trial_binary_outcome_to_the_msc_evidence(populated: Demo, tmp_path: Path) -> None:
    evidence = tmp_path / "msc.csv"
    shutil.copy(EXAMPLE, evidence)
    before = len(_rows(evidence))
    res = cli("evidence", "add-trial", "--trial", TRIAL, "--db", populated.url, "--outcome", "death_day28",
              "--csv", evidence)
    assert res.code == 0, res.stderr
    assert f"added 1 row for trial {TRIAL}" in res.stdout
    rows = _rows(evidence)
    assert len(rows) == before + 1
    row = rows[-1]
    frame, _ = independent_frame(populated.url)
    deaths = frame.dropna(subset=["death_day28"])
    msc, placebo = deaths[deaths["arm"] == "msc"], deaths[deaths["arm"] == "placebo"]
    assert row["study"] == TRIAL
    assert (int(row["events_treatment"]), int(row["n_treatment"])) == (int(msc["death_day28"].sum()), len(msc))
    assert (int(row["events_control"]), int(row["n_control"])) == (int(placebo["death_day28"].sum()), len(placebo))
    assert row["citation"].startswith(f"trial server export of trial {TRIAL} at ")
    assert (row["randomized"], row["concealed"], row["blinded"]) == ("yes", "yes", "yes")  # a double-blind trial
    # the read was an unblinded export, audited with its purpose
    last = exports_audited(populated.url)[-1]
    assert last.new_values is not None
    assert last.new_values["arms"] == "shown"
    assert last.reason is not None
    assert "evidence synthesis: add-trial" in last.reason
    # the trial's data moved on: adding again replaces its row
    again = cli("evidence", "add-trial", "--trial", TRIAL, "--db", populated.url, "--outcome", "death_day28",
                "--csv", evidence)
    assert again.code == 0, again.stderr
    assert "replaced 1 row" in again.stdout
    assert len(_rows(evidence)) == before + 1
    pooled = cli("evidence", "meta", evidence, "--method", "REML", "--json")
    assert pooled.code == 0, pooled.stderr
    assert json.loads(pooled.stdout)["k"] == before + 1


def test_add_trial_primary_ordinal_outcome_as_estimate_and_se(populated: Demo, tmp_path: Path) -> None:
    res = cli("evidence", "add-trial", "--trial", TRIAL, "--db", populated.url, "--json")
    assert res.code == 0, res.stderr
    row = json.loads(res.stdout)["rows"][0]
    analysis = cli("analyze", "protocol", "--trial", TRIAL, "--db", populated.url, "--primary-only", "--json")
    primary = json.loads(analysis.stdout)["comparisons"][0]["result"]
    assert row["estimate"] == pytest.approx(primary["log_odds_ratio"], rel=1e-12)
    assert row["se"] == pytest.approx(primary["se"], rel=1e-12)
    assert "log common odds ratio" in row["outcome"]
    fresh = tmp_path / "new.csv"
    made = cli("evidence", "add-trial", "--trial", TRIAL, "--db", populated.url, "--csv", fresh)
    assert made.code == 0, made.stderr
    assert list(_rows(fresh)[0])[:2] == ["study", "year"]
    # a binary evidence file has no estimate/se columns: a clear error, the file untouched
    evidence = tmp_path / "msc.csv"
    shutil.copy(EXAMPLE, evidence)
    bad = cli("evidence", "add-trial", "--trial", TRIAL, "--db", populated.url, "--csv", evidence)
    assert bad.code == 2
    assert "no column estimate, se for this trial's row" in bad.stderr
    assert evidence.read_bytes() == EXAMPLE.read_bytes()


def test_add_trial_errors(populated: Demo) -> None:
    unknown = cli("evidence", "add-trial", "--trial", "NO-SUCH", "--db", populated.url)
    assert unknown.code == 2
    assert "NO-SUCH" in unknown.stderr
    outcome = cli("evidence", "add-trial", "--trial", TRIAL, "--db", populated.url, "--outcome", "time_to_discharge")
    assert outcome.code == 2
    assert "only the primary outcome or a binary outcome" in outcome.stderr


def test_add_trial_through_the_api_follows_the_tokens_role(server: Server, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Through a running server the export is the token's: the blinded statistician is refused (arms are
    secret), the data monitoring committee may."""
    evidence = tmp_path / "msc.csv"
    monkeypatch.setenv("EQUIPOISE_TOKEN", server.tokens["statistician"])
    refused = cli("evidence", "add-trial", "--trial", TRIAL, "--server", server.base, "--protocol", DEMO,
                  "--outcome", "death_day28", "--csv", evidence)
    assert refused.code == 2
    assert "refused (403)" in refused.stderr
    assert not evidence.exists()
    monkeypatch.setenv("EQUIPOISE_TOKEN", server.tokens["dmc"])
    added = cli("evidence", "add-trial", "--trial", TRIAL, "--server", server.base, "--protocol", DEMO,
                "--outcome", "death_day28", "--csv", evidence)
    assert added.code == 0, added.stderr
    (row,) = _rows(evidence)
    assert "by dmc (arms shown" in row["citation"]
