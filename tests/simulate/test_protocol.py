"""Protocol files to simulations: effects, outcomes from the design assumptions or from virtual patients."""

from pathlib import Path

import numpy as np
import pytest

from equipoise.errors import UserError
from equipoise.protocol import load_protocol
from equipoise.simulate.endpoints import BinaryEndpoint, SurvivalEndpoint
from equipoise.simulate.natural_history import Paths, load_natural_history
from equipoise.simulate.protocol import Effect, build
from equipoise.simulate.ratio_endpoints import BinaryRatioEndpoint

MODEL = load_natural_history()
POP = MODEL.population(name="actt1-placebo")


def with_primary(examples: Path, tmp_path: Path, primary: str) -> Path:
    """The platform example with another primary comparison (a fixed design, so no design layer is needed)."""
    text = (examples / "covid19-platform.yaml").read_text(encoding="utf-8")
    start = text.index("  primary:")
    end = text.index("  secondary:")
    path = tmp_path / "p.yaml"
    path.write_text(text[:start] + primary + text[end:], encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "kind", "value"), [
    ("none", "none", None), ("assumed", "assumed", None), ("or=1.5", "or", 1.5), ("HR = 0.8", "hr", 0.8),
    ("rd=-0.04", "rd", -0.04), ("delta=2e-1", "delta", 0.2),
])
def test_effect_parsing(text, kind, value):
    effect = Effect.parse(text)
    assert (effect.kind, effect.value) == (kind, value)


@pytest.mark.parametrize("text", ["bogus", "or=0", "p=1.5", "or=", "hr=-1"])
def test_bad_effects(text):
    with pytest.raises(UserError, match="--effect"):
        Effect.parse(text)


def test_binary_outcomes_from_virtual_patients(examples, tmp_path):
    protocol = load_protocol(examples / "covid19-platform.yaml")
    sim = build(protocol, Effect.parse("none"), MODEL, POP)
    assert isinstance(sim.endpoint, BinaryRatioEndpoint)  # the protocol's method is risk-ratio
    assert sim.endpoint.measure == "risk-ratio"
    assert sim.endpoint.p_control == pytest.approx(0.152, abs=0.02)  # ACTT-1 placebo mortality (calibrated)
    assert sim.null
    better = build(protocol, Effect.parse("or=1.5"), MODEL, POP).endpoint
    assert isinstance(better, BinaryRatioEndpoint)
    assert better.p_treatment < better.p_control
    # improvement and CT proxy: the exact per-baseline computation agrees with virtual patients' paths
    for name, event in (("improved_day14", "clinical improvement"), ("ct_day14", "improvement on CT")):
        path = with_primary(examples, tmp_path, "  primary: {outcome: " + name + ", method: risk-difference,\n"
                            "            assumptions: {p_control: 0.5, p_treatment: 0.6}}\n")
        text = path.read_text(encoding="utf-8").replace(
            "outcomes:\n", "outcomes:\n  - {id: " + name + ", name: x, type: binary, day: 14, better: higher, "
            "event: " + event + "}\n", 1)
        path.write_text(text, encoding="utf-8")
        endpoint = build(load_protocol(path), Effect.parse("none"), MODEL, POP).endpoint
        assert isinstance(endpoint, BinaryEndpoint)
        rng = np.random.default_rng(4)
        n = 60_000
        start = rng.choice(list(POP.start), size=n, p=list(POP.start.values()))
        shift = np.array([MODEL.age_shift[g] for g in POP.age])[rng.choice(3, size=n, p=list(POP.age.values()))]
        paths = Paths(MODEL.simulate_paths(start, shift + POP.setting_shift, rng, days=14), MODEL.ct_lag_days)
        observed = (paths.improved_at(14) if name.startswith("improved") else paths.ct_improved_at(14)).mean()
        assert endpoint.p_control == pytest.approx(observed, abs=4 * np.sqrt(0.25 / n) + 0.003), name


def test_protocol_errors(examples, tmp_path):
    single = load_protocol(examples / "covid19-msc-single-arm.yaml")
    with pytest.raises(UserError, match="single-arm"):
        build(single, Effect.parse("none"))
    protocol = load_protocol(examples / "covid19-platform.yaml")
    with pytest.raises(UserError, match="binary outcome"):
        build(protocol, Effect.parse("delta=1"))
    with pytest.raises(UserError, match="natural history"):
        build(protocol, Effect.parse("assumed"), MODEL, POP)


def test_time_to_event_primary_uses_the_design_layers_events(examples, tmp_path):
    pytest.importorskip("equipoise.design")
    from equipoise.simulate.endpoints import SurvivalEndpoint
    from equipoise.simulate.group_sequential import simulate_group_sequential

    path = with_primary(examples, tmp_path, "  primary: {outcome: time_to_discharge, method: logrank,\n"
                        "            assumptions: {hazard_ratio: 1.5, median_control: 10, accrual: 6, follow_up: 6}}\n")
    text = path.read_text(encoding="utf-8").replace("total: 12000", "total: 900")
    text = text.replace("better: lower\n    event: discharged alive", "better: higher\n    event: discharged alive")
    path.write_text(text, encoding="utf-8")
    sim = build(load_protocol(path), Effect.parse("none"))
    assert isinstance(sim.endpoint, SurvivalEndpoint)
    assert sim.plan.two_sided
    oc = simulate_group_sequential(sim.endpoint, sim.plan, null=True, n_trials=3000, seed=2)
    assert abs(oc.rejection_probability - 0.01) <= 3.5 * np.sqrt(0.01 * 0.99 / 3000)


def test_time_to_event_control_hazard_comes_from_the_assumptions_as_the_design_reads_them(examples, tmp_path):
    """median_control, else an exponential through p_control at the outcome's day; neither is a clear refusal
    (a silent default median would simulate a trial nobody designed)."""
    pytest.importorskip("equipoise.design")
    text = (examples / "covid19-msc-rct.yaml").read_text(encoding="utf-8")
    start, end = text.index("  primary:\n"), text.index("  secondary:\n")

    def protocol_with(assumptions: str):
        path = tmp_path / "ttd.yaml"
        path.write_text(text[:start] + "  primary:\n    outcome: time_to_discharge\n    method: logrank\n"
                        f"    assumptions: {{{assumptions}}}\n" + text[end:], encoding="utf-8")
        return load_protocol(path)

    protocol = protocol_with("hazard_ratio: 1.5, p_control: 0.6, accrual: 6, follow_up: 6")
    assert protocol.analysis is not None
    day = protocol.outcome(protocol.analysis.primary.outcome).day
    sim = build(protocol, Effect.parse("none"))
    assert isinstance(sim.endpoint, SurvivalEndpoint)
    rate = sim.endpoint.control.rates[0]
    assert 1 - np.exp(-rate * day) == pytest.approx(0.6, rel=1e-12)  # P(event by the outcome day) = p_control
    with pytest.raises(UserError, match="median_control"):
        build(protocol_with("hazard_ratio: 1.5, accrual: 6, follow_up: 6"), Effect.parse("none"))


def test_time_to_event_direction_follows_better(examples, tmp_path):
    """``better: lower`` on a time-to-event outcome means an earlier event is better (discharge): a hazard ratio
    above 1 favours the experimental arm, as `analyze interim` orients it; a one-sided design then has power."""
    pytest.importorskip("equipoise.design")
    from equipoise.simulate.endpoints import SurvivalEndpoint
    from equipoise.simulate.group_sequential import simulate_group_sequential

    text = (examples / "covid19-msc-rct.yaml").read_text(encoding="utf-8")
    start, end = text.index("  primary:\n"), text.index("  secondary:\n")
    text = text[:start] + ("  primary:\n    outcome: time_to_discharge\n    method: logrank\n    assumptions: "
                           "{hazard_ratio: 1.5, median_control: 12, accrual: 6, follow_up: 6}\n") + text[end:]
    path = tmp_path / "ttd.yaml"
    path.write_text(text, encoding="utf-8")
    protocol = load_protocol(path)
    assert protocol.analysis is not None
    assert protocol.analysis.sided == 1
    sim = build(protocol, Effect.parse("assumed"))
    assert isinstance(sim.endpoint, SurvivalEndpoint)
    assert not sim.endpoint.lower_hazard_is_better
    oc = simulate_group_sequential(sim.endpoint, sim.plan, n_trials=1000, seed=3)
    assert oc.rejection_probability_futility_obeyed > 0.8  # sized for 0.9; a wrong sign would give ~0


def test_risk_ratio_effect(examples):
    protocol = load_protocol(examples / "covid19-platform.yaml")
    endpoint = build(protocol, Effect.parse("rr=0.75")).endpoint
    assert isinstance(endpoint, BinaryRatioEndpoint)
    assert endpoint.p_treatment == pytest.approx(0.15)
    assert endpoint.true_effect == pytest.approx(np.log(0.75))
