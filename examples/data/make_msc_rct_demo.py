"""Write a realistic, seeded demo dataset for examples/covid19-msc-rct.yaml (run from the repository root):

    python examples/data/make_msc_rct_demo.py

Files (wide layout, one row per patient; see README "Data layout"):
- msc-rct-demo.csv            randomised patients: site, arm, dates, baseline, WHO scale on days 7/14/28, death,
                              discharge, CT, infusion, follow-up status, and the interim look whose data first held
                              the patient's day-28 outcome;
- msc-rct-demo-screening.csv  patients screened but not randomised, with the reason (for the CONSORT diagram);
- msc-rct-demo-ae.csv         serious adverse events.

The numbers are invented: 240 of the 360 planned patients with day-28 data at the second interim look, a
modest true benefit of MSC (common OR 1.15 for a better WHO level), a day-28 WHO distribution among controls
close to the protocol's design assumption. Nothing here is real patient data.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 20200316
N = 240
SITES = {"pumch": dt.date(2020, 3, 20), "wuhan-jinyintan": dt.date(2020, 3, 25), "milan-sacco": dt.date(2020, 4, 8),
         "nyc-presbyterian": dt.date(2020, 4, 20)}
SITE_WEIGHT = np.array([0.3, 0.3, 0.2, 0.2])
# day-28 WHO scale among controls (levels 0..10), the protocol's design assumption
CONTROL = np.array([0.0, 0.05, 0.25, 0.15, 0.12, 0.08, 0.06, 0.05, 0.04, 0.04, 0.16])
TRUE_LOG_OR = np.log(1.15)  # odds of a better (lower) level on MSC
SEVERITY_SHIFT = {"mild": -1.3, "severe": 0.2, "critical": 1.6}
SCREEN_REASONS = ["symptom onset more than 14 days before", "not hospitalised (WHO scale below 4)",
                  "declined consent", "active malignancy", "pregnant or breastfeeding", "RT-PCR negative"]
AE_TERMS = ["infusion reaction", "acute kidney injury", "pulmonary embolism", "secondary bacterial pneumonia",
            "atrial fibrillation", "liver enzyme elevation", "deep vein thrombosis"]


def logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def main() -> None:
    rng = np.random.default_rng(SEED)
    cum = np.cumsum(CONTROL)[:-1]
    theta = logit(np.clip(cum, 1e-9, 1 - 1e-9))  # P(Y <= j) thresholds among controls
    start = dt.date(2020, 3, 20)
    rows = []
    sites = list(SITES)
    days = np.sort(rng.uniform(0, 150, N * 2))
    i = 0
    block: dict[str, list[str]] = {s: [] for s in sites}
    for day in days:
        if len(rows) == N:
            break
        site = sites[rng.choice(4, p=SITE_WEIGHT)]
        date = start + dt.timedelta(days=int(day))
        if date < SITES[site]:
            continue
        i += 1
        if not block[site]:  # permuted blocks of 4 within site (the demo does not replay minimization)
            block[site] = list(rng.permutation(["msc", "msc", "placebo", "placebo"]))
        arm = block[site].pop()
        severity = rng.choice(["mild", "severe", "critical"], p=[0.35, 0.4, 0.25])
        age = int(np.clip(rng.normal(61, 13), 19, 94))
        sex = rng.choice(["female", "male"], p=[0.42, 0.58])
        base_by_severity = {"mild": rng.choice([4, 5]), "severe": rng.choice([5, 6]), "critical": rng.choice([7, 8, 9])}
        who_base = base_by_severity[severity]
        shift = SEVERITY_SHIFT[severity] + 0.02 * (age - 61) - (TRUE_LOG_OR if arm == "msc" else 0.0)
        u = rng.logistic()
        # latent severity: Y = number of thresholds below (u + shift)
        who28 = int(np.sum(theta < u + shift))
        who14 = int(np.clip(round(0.5 * who28 + 0.5 * who_base + rng.normal(0, 0.8)), 1, 9 if who28 < 10 else 10))
        if who28 == 10 and rng.random() < 0.5:
            who14 = 10
        who7 = int(np.clip(round(0.3 * who28 + 0.7 * who_base + rng.normal(0, 0.7)), 1, 9))
        died = who28 == 10
        death_day = int(rng.integers(4, 15)) if who14 == 10 else int(rng.integers(15, 28)) if died else None
        discharge_day = int(rng.integers(5, 28)) if who28 <= 3 else None
        if discharge_day is not None and who14 <= 3:
            discharge_day = int(rng.integers(5, 14))
        lost = (not died) and rng.random() < 0.02
        withdrew = (not died) and (not lost) and rng.random() < 0.015
        rows.append({
            "patient_id": f"MSC-{i:04d}", "site": site, "arm": arm, "randomised_on": date.isoformat(),
            "age": age, "sex": sex, "severity": severity, "who_baseline": who_base,
            "who_day7": who7 if death_day is None or death_day > 7 else 10,
            "who_day14": who14, "who_day28": "" if lost or withdrew else who28,
            "died": "" if lost or withdrew else int(died),
            "death_date": (date + dt.timedelta(days=death_day)).isoformat() if death_day else "",
            "discharge_date": (date + dt.timedelta(days=discharge_day)).isoformat() if discharge_day else "",
            "ct_improved": "" if who14 == 10 else int(rng.random() < (0.55 if who14 <= 4 else 0.3)),
            "infusion_completed": int(rng.random() > 0.04), "withdrew": int(withdrew), "lost_to_follow_up": int(lost),
        })
    # the first third of the planned 360 patients formed look 1, the rest look 2
    for k, row in enumerate(rows):
        row["look"] = 1 if k < 119 else 2
    with (HERE / "msc-rct-demo.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    screening = []
    for j in range(int(N * 0.45)):
        site = sites[rng.choice(4, p=SITE_WEIGHT)]
        when = max(SITES[site], start + dt.timedelta(days=int(rng.uniform(0, 150))))
        screening.append({"screening_id": f"S-{j + 1:04d}", "site": site, "screened_on": when.isoformat(),
                          "reason": SCREEN_REASONS[rng.choice(6, p=[0.3, 0.25, 0.2, 0.1, 0.05, 0.1])]})
    with (HERE / "msc-rct-demo-screening.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(screening[0]))
        writer.writeheader()
        writer.writerows(screening)
    aes = []
    for row in rows:
        for _ in range(rng.poisson(0.25 if row["severity"] != "critical" else 0.5)):
            base = dt.date.fromisoformat(row["randomised_on"])
            aes.append({"patient_id": row["patient_id"], "term": AE_TERMS[rng.integers(len(AE_TERMS))],
                        "onset_date": (base + dt.timedelta(days=int(rng.integers(0, 28)))).isoformat(),
                        "grade": int(rng.choice([3, 4, 5], p=[0.6, 0.3, 0.1])),
                        "related": rng.choice(["unrelated", "unlikely", "possible", "probable"], p=[.5, .3, .15, .05])})
    with (HERE / "msc-rct-demo-ae.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["patient_id", "term", "onset_date", "grade", "related"])
        writer.writeheader()
        writer.writerows(aes)
    print(f"wrote {len(rows)} patients, {len(screening)} screening failures, {len(aes)} serious adverse events")


if __name__ == "__main__":
    main()
