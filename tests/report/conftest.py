"""The demo trial's protocol and data, loaded once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from equipoise.protocol import Protocol, load_protocol
from equipoise.report import ReportOptions, TrialData

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"


@pytest.fixture(scope="session")
def demo_protocol() -> Protocol:
    return load_protocol(ROOT / "examples" / "covid19-msc-rct.yaml")


@pytest.fixture(scope="session")
def demo_data() -> TrialData:
    return TrialData(pd.read_csv(DATA / "msc-rct-demo.csv"), pd.read_csv(DATA / "msc-rct-demo-screening.csv"),
                     pd.read_csv(DATA / "msc-rct-demo-ae.csv"))


@pytest.fixture(scope="session")
def options() -> ReportOptions:
    return ReportOptions(report_date=dt.date(2020, 8, 20))


@pytest.fixture(scope="session")
def demo_paths() -> dict[str, Path]:
    return {"protocol": ROOT / "examples" / "covid19-msc-rct.yaml", "data": DATA / "msc-rct-demo.csv",
            "screening": DATA / "msc-rct-demo-screening.csv", "ae": DATA / "msc-rct-demo-ae.csv"}
