"""A factorial part's comparison in the analysis plan (``secondary: [{..., part: tocilizumab}]``): run by
``run_protocol`` (and so by ``analyze protocol`` and the committee's reports) among the patients randomized in
the part, with the part's own control arm, giving the same result as the method on those patients alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from equipoise.analyze.frame import analyze_binary
from equipoise.analyze.protocol_analysis import run_protocol
from equipoise.errors import UserError
from equipoise.protocol import validate_text
from tests.server.test_further_randomization import PARTS
from tests.store.support import DEMO

PLAN_LINE = "    - {outcome: ct_improvement_day14, method: risk-ratio}\n"


def _text(comparison: str = "{outcome: death_day28, method: risk-difference, part: tocilizumab}") -> str:
    text = DEMO.read_text()
    assert PLAN_LINE in text
    return text.replace(PLAN_LINE, PLAN_LINE + f"    - {comparison}\n", 1) + PARTS


def _patients(n: int = 80, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    drawn = rng.choice(np.array(["tocilizumab", "usual-care", ""]), size=n, p=[0.35, 0.35, 0.3])
    part = [str(d) or None for d in drawn]  # not randomized in the part: an empty cell, as the export has it
    died = (rng.random(n) < np.where(drawn == "tocilizumab", 0.15, 0.3)).astype(int)
    return pd.DataFrame({
        "patient_id": [f"P-{i:06d}" for i in range(1, n + 1)], "site": "pumch",
        "arm": rng.choice(["msc", "placebo"], size=n), "who_day28": rng.integers(0, 11, size=n),
        "severity": rng.choice(["mild", "severe"], size=n), "age": rng.integers(30, 90, size=n),
        "death_day28": died, "arm_tocilizumab": part})


def test_a_part_is_compared_among_its_patients_with_its_own_control():
    report = validate_text(_text(), "factorial.yaml")
    assert report.valid, [str(p) for p in report.errors]
    protocol = report.protocol
    assert protocol is not None
    plan = protocol.analysis
    assert plan is not None
    protocol = protocol.model_copy(update={"analysis": plan.model_copy(update={"secondary": plan.secondary[-1:]})})
    df = _patients()
    analysis = run_protocol(protocol, df)
    main, part = analysis.comparisons
    assert (main.role, main.part, part.role, part.part) == ("primary", None, "secondary", "tocilizumab")
    randomized = df[df["arm_tocilizumab"].notna()].reset_index(drop=True)
    expected = analyze_binary(randomized, outcome="death_day28", arm="arm_tocilizumab", control="usual-care",
                              experimental="tocilizumab", better="lower", interval="newcombe")
    assert part.result.to_dict() == expected.to_dict()
    assert sum(a.n for a in expected.arms) == len(randomized) < len(df)
    assert "[secondary, part tocilizumab] " in str(analysis)
    assert part.to_dict()["part"] == "tocilizumab"
    # Early on, before both of the part's arms have patients, the comparison waits and says why.
    only_experimental = df["arm_tocilizumab"].where(df["arm_tocilizumab"] != "usual-care")
    early = run_protocol(protocol, df.assign(arm_tocilizumab=only_experimental))
    assert [c.part for c in early.comparisons] == [None]
    assert early.not_run == (f"death_day28 by part tocilizumab: {only_experimental.notna().sum()} patients "
                             "randomized in it, and its control arm 'usual-care' and another arm are not both among "
                             "them yet",)
    with pytest.raises(UserError, match="arm_tocilizumab"):
        run_protocol(protocol, df.drop(columns=["arm_tocilizumab"]))


def test_a_part_comparison_is_checked_in_the_protocol():
    def problems(text: str) -> dict[str, str]:
        return {p.field: p.message for p in validate_text(text, "factorial.yaml").errors}

    unknown = problems(_text("{outcome: death_day28, method: risk-difference, part: remdesivir}"))
    assert unknown["analysis.secondary[3].part"] == ("unknown further randomization 'remdesivir' (parts: "
                                                     "tocilizumab, plasma)")
    no_control = _text().replace("role: usual-care}\n    randomization:\n      method: permuted-blocks",
                                 "role: experimental}\n    randomization:\n      method: permuted-blocks")
    assert "needs exactly one arm with a control role" in problems(no_control)["analysis.secondary[3].part"]
    primary = _text().replace("    outcome: who_day28\n    method: proportional-odds\n",
                              "    outcome: who_day28\n    method: proportional-odds\n    part: tocilizumab\n", 1)
    assert "    part: tocilizumab\n" in primary
    assert "in a secondary comparison" in problems(primary)["analysis.primary.part"]
