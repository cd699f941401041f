"""Counting registered trials by design, status, size and country."""

from __future__ import annotations

from equipoise.evidence.registry_summary import TrialFacts, summarise


def facts(i: int, *, randomized: bool | None, blinded: bool | None, size: int | None, status: str | None = "COMPLETED",
          countries: tuple[str, ...] = ("China",), design: str = "randomized controlled") -> TrialFacts:
    return TrialFacts(id=f"T{i}", registry="ChiCTR", status=status, design_class=design, randomized=randomized,
                      controlled=design != "single-arm", blinded=blinded, single_arm=design == "single-arm",
                      enrollment=size, countries=countries)


def test_headline_counts_and_bands():
    rows = [facts(1, randomized=True, blinded=True, size=40),
            facts(2, randomized=True, blinded=False, size=120, status="Not recruiting"),
            facts(3, randomized=False, blinded=None, size=20, design="single-arm", countries=()),
            facts(4, randomized=None, blinded=None, size=None, status=None, design="unknown"),
            facts(5, randomized=None, blinded=None, size=None, status="Not Recruiting", design="unknown")]
    s = summarise(rows, "MSC ")
    assert s.headline == ("of 5 registered MSC trials, 2 randomized, 1 blinded, 4 controlled, 1 single-arm; "
                          "median size 40")
    assert s.by_size == {"1-20": 1, "21-50": 1, "101-300": 1, "not stated": 2}
    assert s.by_status == {"COMPLETED": 2, "as registered: Not recruiting": 2, "not stated": 1}
    assert s.by_country == {"China": 4, "not stated": 1}
    assert s.by_design == {"randomized controlled": 2, "single-arm": 1, "unknown": 2}
    assert s.to_dict()["headline"] == s.headline
    assert str(s).startswith("Of 5 registered MSC trials")


def test_empty_and_plot():
    s = summarise([])
    assert s.headline == "of 0 registered trials, 0 randomized, 0 blinded, 0 controlled, 0 single-arm; no size stated"
    figure = s.plot()
    assert len(figure.axes) == 4
