"""Simultaneous confidence bands for Kaplan–Meier curves (Klein & Moeschberger 2003, §4.4).

Critical values and bands are checked against an independent R computation (tests/reference/analyze_km_bands.R:
nested integrate() for Hall–Wellner, finite differences with Richardson extrapolation for equal precision, the
bands from survfit's Greenwood variance) and against closed forms: Kolmogorov's distribution (a_L = 0, a_U = 1),
the normal distribution at a single time (a_L = a_U), and the equal-precision statistic's dependence on
a_U(1 − a_L) / (a_L(1 − a_U)) only. Tolerances: Hall–Wellner critical values 1e-9 (they agree to 3e-12),
equal-precision 1e-7 (they agree to 7e-9; the R side is a second-order finite-difference solution, extrapolated),
bands 1e-6 relative.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from equipoise.analyze.frame import analyze_survival
from equipoise.analyze.kaplan_meier import kaplan_meier
from equipoise.analyze.km_bands import (
    equal_precision_critical_value,
    equal_precision_probability,
    hall_wellner_critical_value,
    hall_wellner_probability,
    km_confidence_band,
)
from equipoise.errors import UserError

FIXTURES = Path(__file__).resolve().parents[1] / "reference" / "fixtures"


@pytest.fixture(scope="module")
def bands_ref() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "analyze_km_bands.json").read_text(encoding="utf-8"))
    return data


def _dataset(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / f"analyze_{name}.csv")


def _km(name: str) -> Any:
    df = _dataset(name)
    if name == "bmt_all":
        return kaplan_meier(df["t2"], df["d3"])
    return kaplan_meier(df["time"], df["status"])


def _nan(values: list[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


# ---- critical values -------------------------------------------------------------------------------------------

def test_hall_wellner_critical_values_match_r(bands_ref):
    for row in bands_ref["hall_wellner_critical"]:
        for level, value in row["values"].items():
            c = hall_wellner_critical_value(row["a_lower"], row["a_upper"], float(level))
            assert c == pytest.approx(value, abs=1e-9), (row["a_lower"], row["a_upper"], level)


def test_equal_precision_critical_values_match_r(bands_ref):
    for row in bands_ref["equal_precision_critical"]:
        for level, value in row["values"].items():
            e = equal_precision_critical_value(row["a_lower"], row["a_upper"], float(level))
            assert e == pytest.approx(value, abs=1e-7), (row["a_lower"], row["a_upper"], level)


def test_probabilities_match_r(bands_ref):
    for row in bands_ref["hall_wellner_probability"]:
        assert hall_wellner_probability(row["c"], row["a_lower"], row["a_upper"]) == pytest.approx(row["p"], abs=1e-9)
    for row in bands_ref["equal_precision_probability"]:
        p = equal_precision_probability(row["e"], row["a_lower"], row["a_upper"])
        assert p == pytest.approx(row["p"], abs=1e-8)


@pytest.mark.parametrize("level", [0.90, 0.95, 0.99])
def test_hall_wellner_over_the_whole_bridge_is_kolmogorov(level):
    # sup_{0<=x<=1} |W°(x)| has Kolmogorov's distribution: 1.2238, 1.3581, 1.6276
    assert hall_wellner_critical_value(0.0, 1.0, level) == pytest.approx(special.kolmogi(1 - level), abs=1e-9)
    for c in (0.6, 1.0, 1.5):
        assert hall_wellner_probability(c, 0.0, 1.0) == pytest.approx(1 - special.kolmogorov(c), abs=1e-12)


def test_a_single_time_gives_the_normal_quantile():
    z = stats.norm.ppf(0.975)
    assert hall_wellner_critical_value(0.3, 0.3, 0.95) == pytest.approx(z * math.sqrt(0.3 * 0.7), rel=1e-9)
    assert equal_precision_critical_value(0.3, 0.3, 0.95) == pytest.approx(z, rel=1e-9)
    # a short range: a little above the single-time value, by O(sqrt(range))
    assert z < equal_precision_critical_value(0.3, 0.303, 0.95) < z + 0.1
    assert equal_precision_probability(2.0, 0.3, 0.3 + 1e-5) < math.erf(2 / math.sqrt(2))


def test_equal_precision_depends_on_the_odds_ratio_of_the_range_only():
    # a_U(1 - a_L) / (a_L(1 - a_U)) = 9 for both ranges
    a = equal_precision_critical_value(0.1, 0.5, 0.95)
    b = equal_precision_critical_value(0.25, 0.75, 0.95)
    assert a == pytest.approx(b, abs=1e-9)


def test_critical_values_grow_with_the_range_and_the_level():
    assert hall_wellner_critical_value(0.1, 0.3) < hall_wellner_critical_value(0.1, 0.6) < \
        hall_wellner_critical_value(0.0, 0.6)
    assert equal_precision_critical_value(0.2, 0.3) < equal_precision_critical_value(0.1, 0.6) < \
        equal_precision_critical_value(0.02, 0.98)
    assert hall_wellner_critical_value(0.1, 0.6, 0.9) < hall_wellner_critical_value(0.1, 0.6, 0.99)


# ---- bands -------------------------------------------------------------------------------------------------------

def test_bands_match_r(bands_ref):
    assert len(bands_ref["bands"]) == 11
    for ref in bands_ref["bands"]:
        km = _km(ref["dataset"])
        band = km_confidence_band(km, ref["method"], ref["transform"], (ref["t_lower"], ref["t_upper"]),
                                  ref["conf_level"])
        what = (ref["dataset"], ref["method"], ref["transform"], ref["conf_level"])
        assert band.n == ref["n"]
        assert [band.a_lower, band.a_upper] == pytest.approx([ref["a_lower"], ref["a_upper"]], rel=1e-12), what
        tol = 1e-9 if ref["method"] == "hall-wellner" else 1e-7
        assert band.critical_value == pytest.approx(ref["critical_value"], abs=tol), what
        assert band.time.tolist() == pytest.approx(ref["time"]), what
        assert band.surv.tolist() == pytest.approx(ref["surv"], rel=1e-12), what
        assert band.lower.tolist() == pytest.approx(ref["lower"], rel=1e-6, abs=1e-9), what
        assert band.upper.tolist() == pytest.approx(ref["upper"], rel=1e-6, abs=1e-9), what


def test_klein_moeschberger_example_4_2_setup():
    # K&M Example 4.2: the 38 ALL patients, 100 to 600 days; sigma_S^2 at 100 days is that of the step at 86,
    # and at 600 days that of the step at 526 (the last event before 600)
    km = _km("bmt_all")
    band = km_confidence_band(km, "equal-precision", "linear", (100, 600))
    v_l = sum(1 / (y * (y - 1)) for y in range(38, 34, -1))  # four single events at 1, 55, 74, 86 days
    assert band.a_lower == pytest.approx(38 * v_l / (1 + 38 * v_l), rel=1e-12)
    assert band.time[0] == 100
    assert band.time[-1] == 526
    assert round(band.a_lower, 2) == 0.11
    assert round(band.a_upper, 2) == 0.59


def test_a_band_is_wider_than_the_pointwise_interval_everywhere_in_its_range(bands_ref):
    """The simultaneous band on a scale contains the pointwise interval on the same scale, at every time in the
    range (c_alpha >= z sqrt(a(1 - a)) and e_alpha >= z); strictly, where neither is cut at 0 or 1."""
    strict = 0
    for ref in bands_ref["bands"]:
        km = _km(ref["dataset"])
        band = km_confidence_band(km, ref["method"], ref["transform"], (ref["t_lower"], ref["t_upper"]),
                                  ref["conf_level"])
        pw_low, pw_high = np.array(_nan(ref["pointwise_lower"])), np.array(_nan(ref["pointwise_upper"]))
        inner = band.surv < 1  # survfit's interval at S = 1 is [1, 1]
        assert np.all(band.lower[inner] <= pw_low[inner] + 1e-12)
        assert np.all(band.upper[inner] >= pw_high[inner] - 1e-12)
        free = inner & (pw_low > 0) & (pw_high < 1)
        assert np.all(band.lower[free] < pw_low[free])
        strict += int(free.sum())
    assert strict > 50
    # the same with Equipoise's own pointwise intervals (survfit's plain and log-log)
    df = _dataset("bmt_all")
    km = kaplan_meier(df["t2"], df["d3"])
    for conf_type, transform in (("plain", "linear"), ("log-log", "log-log")):
        pointwise = kaplan_meier(df["t2"], df["d3"], conf_type=conf_type)  # type: ignore[arg-type]
        for method in ("hall-wellner", "equal-precision"):
            band = km_confidence_band(km, method, transform, (100, 600))
            for t, lo, hi in zip(band.time, band.lower, band.upper, strict=False):
                i = int(np.searchsorted(pointwise.time, t, side="right")) - 1
                assert lo < pointwise.lower[i]
                assert hi >= pointwise.upper[i] - 1e-12


def test_default_range_and_hall_wellner_from_time_zero():
    km = _km("bmt_all")
    band = km_confidence_band(km)  # Hall–Wellner, log-log
    assert band.t_lower == 1
    assert band.t_upper == 662
    zero = km_confidence_band(km, "hall-wellner", "linear", (0, 600))
    assert zero.a_lower == 0
    assert zero.surv[0] == 1
    assert zero.lower[0] == pytest.approx(1 - zero.critical_value / math.sqrt(38))  # eq 4.4.1 with sigma = 0
    assert zero.at(0.5) == (zero.lower[0], zero.upper[0])
    d = zero.to_dict()
    assert d["critical_value_name"] == "c_alpha(a_L, a_U)"
    assert len(d["lower"]) == len(d["time"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"t_range": (600, 100)}, "t_L = 600 must be below t_U = 100"),
    ({"t_range": (100, 100)}, "must be below"),
    ({"t_range": (100, 3000)}, "t_U = 3000 is beyond the last observed time 2081"),
    ({"t_range": (-5, 100)}, "t_L = -5 is negative"),
    ({"t_range": (700, 900)}, "no event in (700, 900]"),
    ({"t_range": (0, 0.5)}, "no event in (0, 0.5]"),
    ({"method": "equal-precision", "t_range": (0.5, 600)}, "needs an event at or before t_L = 0.5"),
    ({"method": "bonferroni"}, "band method 'bonferroni' must be one of hall-wellner, equal-precision"),
    ({"transform": "logit"}, "band transform 'logit' must be one of linear, log-log, arcsine"),
    ({"conf_level": 1.5}, "confidence level 1.5 must be between 0 and 1"),
])
def test_bad_ranges_are_refused(kwargs, message):
    km = _km("bmt_all")
    with pytest.raises(UserError) as info:
        km_confidence_band(km, **kwargs)
    assert message in str(info.value)


def test_no_events_and_a_curve_that_reaches_zero_are_refused():
    with pytest.raises(UserError, match="no events"):
        km_confidence_band(kaplan_meier([3, 5, 8], [0, 0, 0]))
    km = kaplan_meier([1, 2, 3, 4], [1, 0, 1, 1])
    with pytest.raises(UserError, match="the curve is 0 at t_U = 4"):
        km_confidence_band(km, t_range=(1, 4))


# ---- through the analysis and the CLI ------------------------------------------------------------------------------

def test_survival_result_with_bands(dataset):
    df = dataset("veteran")
    res = analyze_survival(df, time="time", event="status", arm="arm", control="standard")
    banded = res.with_bands("equal-precision", "arcsine", (10, 200))
    assert banded.bands is not None
    assert set(banded.bands) == {"test", "standard"}
    assert "equal-precision (Nair) simultaneous band, arcsine transform, over [10, 200]" in str(banded)
    d = banded.to_dict()
    assert d["bands"]["standard"]["method"] == "equal-precision"
    assert d["bands"]["standard"]["n"] == 69
    fig = banded.plot()
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert any(n.startswith("shaded: 95% equal-precision (Nair) simultaneous band") and "dotted: pointwise" in n
               for n in notes)
    with pytest.raises(UserError, match="arm 'standard': confidence band: t_U = 900 is beyond"):
        res.with_bands("hall-wellner", "linear", (10, 900))


def test_cli_band_in_json_and_text(run_cli, fixtures_dir, tmp_path):
    path = fixtures_dir / "analyze_veteran.csv"
    out = run_cli("analyze", "survival", "--data", path, "--time", "time", "--event", "status", "--control",
                  "standard", "--band", "hall-wellner", "--band-range", "10,200", "--json")
    assert out.code == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["bands"]["test"]["method"] == "hall-wellner"
    assert d["bands"]["test"]["transform"] == "log-log"
    assert d["bands"]["test"]["t_lower"] == 10
    assert d["bands"]["test"]["critical_value"] > 1
    png = tmp_path / "km.png"
    text = run_cli("analyze", "survival", "--data", path, "--time", "time", "--event", "status", "--control",
                   "standard", "--band", "ep", "--band-transform", "linear", "--plot", png)
    assert text.code == 0, text.stderr
    assert "95% equal-precision (Nair) simultaneous band, linear transform" in text.stdout
    assert "e_alpha(a_L = " in text.stdout
    assert png.stat().st_size > 10_000


@pytest.mark.parametrize(("args", "message"), [
    (["--band", "hall-wellner", "--band-range", "200,10"], "t_L = 200 must be below t_U = 10"),
    (["--band", "hall-wellner", "--band-range", "10,5000"], "t_U = 5000 is beyond the last observed time"),
    (["--band", "hall-wellner", "--band-range", "ten,20"], "--band-range: 'ten,20' must be two times"),
    (["--band", "scheffe"], "band method 'scheffe' must be one of"),
    (["--band-range", "10,100"], "name the band with --band"),
    (["--band", "hall-wellner", "--plot", "km.txt"], "--plot: km.txt must end in .png, .svg or .pdf"),
])
def test_cli_bad_band_options_exit_2(run_cli, fixtures_dir, args, message):
    out = run_cli("analyze", "survival", "--data", fixtures_dir / "analyze_veteran.csv", "--time", "time",
                  "--event", "status", "--control", "standard", *args)
    assert out.code == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_cli_band_refused_with_competing_risks_and_without_events(run_cli, fixtures_dir, tmp_path):
    sim = fixtures_dir / "analyze_sim.csv"
    out = run_cli("analyze", "survival", "--data", sim, "--time", "discharge_time", "--event", "discharge_status",
                  "--control", "placebo", "--competing", "--band", "hall-wellner")
    assert out.code == 2
    assert "simultaneous bands are for Kaplan–Meier curves" in out.stderr
    df = pd.read_csv(fixtures_dir / "analyze_veteran.csv")
    df.loc[df["arm"] == "test", "status"] = 0  # one arm without events
    path = tmp_path / "no_events.csv"
    df.to_csv(path, index=False)
    out = run_cli("analyze", "survival", "--data", path, "--time", "time", "--event", "status", "--control",
                  "standard", "--band", "hall-wellner")
    assert out.code == 2
    # the hazard ratio is refused before any band is built; the band's own refusal:
    assert "arm 'test' has no events" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    with pytest.raises(UserError, match="confidence band: the data have no events"):
        km_confidence_band(kaplan_meier([3.0, 5.0, 8.0], [0, 0, 0]))
