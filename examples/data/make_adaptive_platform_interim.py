"""Write a seeded, invented data set at an adaptive analysis of examples/covid19-adaptive-platform.yaml (run from
the repository root):

    python examples/data/make_adaptive_platform_interim.py

adaptive-platform-interim.csv: 520 randomized patients (analysis.csv layout: patient_id, site, arm,
randomised_on, age, sex, who_day28, death_day28), the 15 latest of each arm without their day-28 outcome yet.
Day-28 WHO levels follow proportional odds from the protocol's assumed control distribution, with true odds
ratios of a worse level of 1 (MSC), 0.85 (tocilizumab) and 0.6 (dexamethasone). Nothing here is real patient data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CONTROL = [0.0, 0.02, 0.30, 0.13, 0.10, 0.08, 0.05, 0.03, 0.03, 0.04, 0.22]
SITES = ("pumch", "wuhan-jinyintan", "milan-sacco", "nyc-presbyterian")
ARMS = (("usual_care", 1.0, 160), ("msc", 1.0, 110), ("tocilizumab", 0.85, 120), ("dexamethasone", 0.6, 130))


def main() -> None:
    rng = np.random.default_rng(2020)
    above = 1 - np.cumsum(CONTROL)[:-1]
    rows = []
    pid = 0
    day0 = pd.Timestamp("2020-04-01")
    for arm, ratio, n in ARMS:
        odds = np.clip(above, 1e-12, 1 - 1e-12) / np.clip(1 - above, 1e-12, 1) * ratio
        cum = np.concatenate([[1.0], odds / (1 + odds), [0.0]])
        levels = rng.choice(11, size=n, p=np.clip(cum[:-1] - cum[1:], 0, 1))
        for i, v in enumerate(levels):
            pid += 1
            known = i < n - 15  # the latest patients have no day-28 outcome yet
            sites = SITES if arm != "msc" else SITES[:3]  # no MSC at NewYork-Presbyterian
            rows.append({"patient_id": f"P-{pid:06d}", "site": sites[int(rng.integers(0, len(sites)))], "arm": arm,
                         "randomised_on": (day0 + pd.Timedelta(days=int(rng.integers(0, 75)))).date().isoformat(),
                         "age": int(np.clip(rng.normal(62, 14), 18, 95)),
                         "sex": ("female", "male")[int(rng.random() < 0.6)],
                         "who_day28": int(v) if known else None, "death_day28": int(v == 10) if known else None})
    df = pd.DataFrame(rows).sort_values("randomised_on")
    df["who_day28"] = df["who_day28"].astype("Int64")
    df["death_day28"] = df["death_day28"].astype("Int64")
    df.to_csv(Path(__file__).with_name("adaptive-platform-interim.csv"), index=False)


if __name__ == "__main__":
    main()
