"""analyze survival from dates: randomisation, event, competing event and censoring dates give the same numbers as
the times they encode (the R-validated ones), and the rule for the end of follow-up is the documented one."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from equipoise.analyze.survival_dates import DateRule, times_from_dates
from equipoise.errors import UserError
from tests.conftest import EXAMPLES

START = dt.date(2020, 3, 1)


def _dated(df: pd.DataFrame) -> pd.DataFrame:
    """The validated dataset's times written as dates, as a trial's forms hold them."""
    out = df.copy()
    starts = [START + dt.timedelta(days=i % 40) for i in range(len(df))]
    out["randomised_on"] = [s.isoformat() for s in starts]
    for column, status in (("discharge_date", 1), ("death_date", 2), ("last_seen", 0)):
        out[column] = [(s + dt.timedelta(days=int(t))).isoformat() if st == status else ""
                       for s, t, st in zip(starts, df["discharge_time"], df["discharge_status"], strict=True)]
    return out.drop(columns=["discharge_time", "discharge_status"])


def test_dates_give_the_validated_numbers(run_cli, dataset, ref, tmp_path):
    """The sim dataset's Cox model (checked against R's survival in test_survival.py), from dates."""
    df = dataset("sim")
    times = tmp_path / "times.csv"
    df.to_csv(times, index=False)
    dates = tmp_path / "dates.csv"
    _dated(df).to_csv(dates, index=False)
    common = ("--arm", "arm", "--control", "placebo", "--covariates", "age", "--strata", "severity", "--competing",
              "--better", "lower", "--horizon", "28", "--json")
    by_time = run_cli("analyze", "survival", "--data", times, "--time", "discharge_time", "--event",
                      "discharge_status", *common)
    by_date = run_cli("analyze", "survival", "--data", dates, "--start-date", "randomised_on", "--event-date",
                      "discharge_date", "--competing-date", "death_date", "--censor-date", "last_seen", *common)
    assert by_date.code == 0, by_date.stderr
    a, b = json.loads(by_time.stdout), json.loads(by_date.stdout)
    assert b["log_hazard_ratio"] == pytest.approx(ref["sim_cox"]["coef"]["mscTRUE"], rel=1e-6)
    assert b["se"] == pytest.approx(ref["sim_cox"]["se"]["mscTRUE"], rel=1e-6)
    for key in ("log_hazard_ratio", "se", "hazard_ratio", "logrank", "n", "events", "medians", "incidence"):
        if key in a:
            assert b[key] == a[key], key
    assert any("time in days from 'randomised_on'" in n for n in b["notes"])
    text = run_cli("analyze", "survival", "--data", dates, "--start-date", "randomised_on", "--event-date",
                   "discharge_date", "--competing-date", "death_date", "--censor-date", "last_seen", "--control",
                   "placebo", "--competing")
    assert "follow-up ends at the earliest of the date in 'last_seen'" in " ".join(text.stdout.split())


def test_the_demo_csv_time_to_discharge_by_day_28(run_cli):
    """The shipped demo has dates, not times: discharge by day 28 with death competing."""
    r = run_cli("analyze", "survival", "--data", EXAMPLES / "data" / "msc-rct-demo.csv", "--start-date",
                "randomised_on", "--event-date", "discharge_date", "--competing-date", "death_date",
                "--follow-up-days", "28", "--control", "placebo", "--competing", "--json")
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["outcome"] == "time to discharge_date"
    assert sum(d["n"].values()) == 240


def test_end_of_follow_up_is_the_earliest_limit_and_events_on_the_last_day_count():
    df = pd.DataFrame({
        "start": ["2020-01-01"] * 6,
        "event": ["2020-01-29", "2020-01-30", "", "2020-01-10", "", "2020-01-05"],
        "death": ["", "", "2020-01-15", "2020-01-08", "", ""],
        "censor": ["", "", "", "", "2020-01-20", "2020-01-03"],
    })
    out = times_from_dates(df, DateRule("start", "event", "death", "censor", follow_up_days=28,
                                        cutoff=dt.date(2020, 2, 15)))
    assert out["time_from_dates"].tolist() == [28, 28, 14, 7, 19, 2]
    assert out["status_from_dates"].tolist() == [1, 0, 2, 2, 0, 0]
    censored = times_from_dates(df, DateRule("start", "event", "death", "censor", follow_up_days=28,
                                             competing_as_status_2=False))
    assert censored["status_from_dates"].tolist() == [1, 0, 0, 0, 0, 0]
    cut = times_from_dates(df, DateRule("start", "event", cutoff=dt.date(2020, 1, 12)))
    assert cut["time_from_dates"].tolist() == [11, 11, 11, 9, 11, 4]
    assert cut["status_from_dates"].tolist() == [0, 0, 0, 1, 0, 1]


@pytest.mark.parametrize(("rows", "rule", "message"), [
    ({"start": ["2020-01-05"], "event": ["2020-01-01"]}, DateRule("start", "event", follow_up_days=28),
     "line 2: 'event' (2020-01-01) is before 'start'"),
    ({"start": [""], "event": ["2020-01-01"]}, DateRule("start", "event", follow_up_days=28), "line 2: column 'start'"),
    ({"start": ["2020-01-05"], "event": ["5 Jan"]}, DateRule("start", "event", follow_up_days=28), "not a date"),
    ({"start": ["2020-01-05"], "event": [""]}, DateRule("start", "event"), "say when follow-up ends"),
    ({"start": ["2020-01-05"], "event": [""], "c": [""]}, DateRule("start", "event", censor="c"), "line 2: no event"),
])
def test_bad_dates_are_one_line_errors(rows, rule, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        times_from_dates(pd.DataFrame(rows), rule)


def test_cli_refuses_mixing_times_and_dates(run_cli, tmp_path):
    demo = EXAMPLES / "data" / "msc-rct-demo.csv"
    for args, fragment in ((("--time", "x", "--start-date", "randomised_on", "--event-date", "discharge_date"),
                            "not both"),
                           (("--start-date", "randomised_on"), "both are needed"),
                           (("--time", "x", "--event", "y", "--follow-up-days", "28"), "only with --start-date"),
                           ((), "--time and --event")):
        r = run_cli("analyze", "survival", "--data", demo, "--control", "placebo", *args)
        assert r.code == 2, args
        assert fragment in r.stderr
        assert "Traceback" not in r.stderr
