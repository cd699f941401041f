"""An adaptive analysis on a data set: posteriors per arm, the rules' decisions, the proposed table."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from equipoise.analyze.platform_analysis import analyze_platform
from equipoise.errors import UserError
from equipoise.protocol import load_protocol
from tests.conftest import EXAMPLES

FILE = EXAMPLES / "covid19-adaptive-platform.yaml"
CONTROL = [0.0, 0.02, 0.30, 0.13, 0.10, 0.08, 0.05, 0.03, 0.03, 0.04, 0.22]


def frame(odds_ratios: dict[str, float], n: int = 150, seed: int = 1) -> pd.DataFrame:
    """``n`` patients per arm, day-28 WHO levels by proportional odds from the control distribution."""
    rng = np.random.default_rng(seed)
    above = 1 - np.cumsum(CONTROL)[:-1]
    rows = []
    for arm, ratio in odds_ratios.items():
        odds = np.clip(above, 1e-12, 1 - 1e-12) / np.clip(1 - above, 1e-12, 1) * ratio
        cum = np.concatenate([[1.0], odds / (1 + odds), [0.0]])
        levels = rng.choice(11, size=n, p=np.clip(cum[:-1] - cum[1:], 0, 1))
        rows += [{"arm": arm, "who_day28": int(v), "death_day28": int(v == 10)} for v in levels]
    rows.append({"arm": "usual_care", "who_day28": None, "death_day28": None})  # outcome not in yet
    return pd.DataFrame(rows)


def test_rules_close_arms_and_the_table_follows():
    protocol = load_protocol(FILE)
    data = frame({"usual_care": 1.0, "msc": 1.0, "tocilizumab": 3.0, "dexamethasone": 0.3})
    result = analyze_platform(protocol, data, dt.date(2020, 6, 1))
    arms = {a.arm: a for a in result.primary.arms}
    assert arms["dexamethasone"].decision == "superiority"
    assert arms["dexamethasone"].action == "drop-arm"
    assert arms["tocilizumab"].decision in ("inferiority", "futility")
    assert arms["usual_care"].randomized == 151
    assert arms["usual_care"].with_outcome == 150
    assert arms["dexamethasone"].estimate < 0  # log odds ratio of a higher (worse) level
    assert set(result.close_arms) == {"dexamethasone", "tocilizumab"}
    assert result.publishable is None
    assert result.proposed_table["dexamethasone"] == 0
    assert result.proposed_table["usual_care"] == pytest.approx(0.5)  # one therapy left: sqrt(1)/(1+1)
    assert result.proposed_table["msc"] == pytest.approx(0.5)
    assert "Close dexamethasone, tocilizumab by amendment" in str(result) or "Close tocilizumab" in str(result)
    deaths = {a.arm: a for a in result.secondary[0].arms}
    assert deaths["usual_care"].events_or_median == int((data.loc[data.arm == "usual_care", "death_day28"] == 1).sum())


def test_before_the_amendment_the_added_arm_is_not_analysed_and_the_seed_reproduces():
    protocol = load_protocol(FILE)
    data = frame({"usual_care": 1.0, "msc": 1.0, "tocilizumab": 1.0, "dexamethasone": 1.0}, n=40)
    early = analyze_platform(protocol, data, dt.date(2020, 5, 1), seed=3)
    assert "baricitinib" not in early.proposed_table
    assert early.publishable == early.proposed_table
    assert analyze_platform(protocol, data, dt.date(2020, 5, 1), seed=3).to_dict() == early.to_dict()
    later = analyze_platform(protocol, data, dt.date(2020, 10, 1))
    assert later.proposed_table["baricitinib"] >= 0.1  # in force, no data yet: the floor at least
    assert sum(later.proposed_table.values()) == pytest.approx(1)


def test_bad_data_are_user_errors():
    protocol = load_protocol(FILE)
    with pytest.raises(UserError, match="not levels"):
        analyze_platform(protocol, pd.DataFrame({"arm": ["msc"], "who_day28": [42], "death_day28": [0]}),
                         dt.date(2020, 5, 1))
    with pytest.raises(UserError, match="no column"):
        analyze_platform(protocol, pd.DataFrame({"arm": ["msc"]}), dt.date(2020, 5, 1))


def test_cli_on_a_csv(run_cli, tmp_path):
    path = tmp_path / "analysis.csv"
    frame({"usual_care": 1.0, "msc": 1.0, "tocilizumab": 1.0, "dexamethasone": 0.8}, n=30).to_csv(path, index=False)
    r = run_cli("analyze", "platform", FILE, "--data", path, "--on", "2020-05-01")
    assert r.code == 0, r.stderr
    assert "Proposed allocation table" in r.stdout
    j = run_cli("analyze", "platform", FILE, "--data", path, "--on", "2020-05-01", "--json")
    assert json.loads(j.stdout)["publishable"] is True
    bad = run_cli("analyze", "platform", FILE, "--data", path, "--on", "2019-01-01")
    assert bad.code == 2
    assert "no protocol was in force" in bad.stderr
