"""Where ``equipoise analyze interim`` finds what it monitors: the group-sequential plan (a protocol or a design's
JSON given by --design, the protocol's analysis.looks, or the gsd options) and the looks so far (the trial server's
data, a patient-level CSV analysed as the protocol says, or a summary table), with the design effect for
conditional power."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from equipoise.analyze.interim import LookData, monitoring_plan
from equipoise.analyze.interim_inputs import (
    design_effect,
    design_effect_source,
    looks_from_protocol,
    looks_from_table,
    risk_difference_design_effect,
)
from equipoise.analyze.server_export import ExportData
from equipoise.cli.data_input import read_csv, read_json, split_list
from equipoise.cli.server_data import is_export, look_dates, resolve, with_looks
from equipoise.design import GroupSequentialPlan
from equipoise.errors import UserError
from equipoise.protocol import Protocol, load_protocol


@dataclass(frozen=True)
class PlanOptions:
    """The gsd options of the command line (used when --information-rates is given)."""

    information_rates: str | None
    alpha: float
    sided: int
    spending: str
    gamma: float | None
    rho: float | None
    futility_spending: str | None
    futility_gamma: float | None
    binding: bool
    beta: float

    def plan(self) -> GroupSequentialPlan | None:
        if self.information_rates is None:
            return None
        try:
            rates = tuple(float(x) for x in split_list(self.information_rates))
        except ValueError:
            raise UserError(f"--information-rates: {self.information_rates!r} is not a list of numbers") from None
        return GroupSequentialPlan(rates, self.alpha, self.sided, self.spending, self.gamma, self.rho,
                                   self.futility_spending, self.futility_gamma, None, self.binding, self.beta)


@dataclass(frozen=True)
class DataOptions:
    """Where the looks' data are: --trial (server), --data (an export or a CSV), --looks (a summary table)."""

    protocol: Path | None
    data: Path | None
    trial: str | None
    db: str | None
    server: str | None
    look_dates: str | None
    looks: Path | None
    look_column: str
    arm: str
    planned_n: int | None
    max_information: float | None
    better: str | None


@dataclass(frozen=True)
class Observed:
    """The looks so far, on which scale, and the design effect for conditional power with where it came from."""

    looks: list[LookData]
    measure: str
    log_scale: bool
    theta_design: float | None
    theta_source: str | None


def plan_from_design_file(design: Path) -> GroupSequentialPlan:
    """--design: a protocol file (its analysis.looks) or a JSON file of gsd options or a design's to_dict()."""
    if design.suffix.lower() in (".yaml", ".yml"):
        analysis = load_protocol(design).analysis
        if analysis is None:
            raise UserError(f"--design: {design} has no analysis section")
        return monitoring_plan(analysis)
    return GroupSequentialPlan.from_mapping(read_json(design, "--design"))


def check_thresholds(max_information: float | None, cp_futility: float | None) -> None:
    if max_information is not None and not (math.isfinite(max_information) and max_information > 0):
        raise UserError(f"--max-information: the planned maximum information (1/SE^2) must be above 0 (got "
                        f"{max_information:g})")
    if cp_futility is not None and not (0 <= cp_futility <= 1):
        raise UserError(f"--cp-futility: a conditional power threshold is a probability from 0 to 1 (got "
                        f"{cp_futility:g})")


def choose_plan(from_design: GroupSequentialPlan | None, options: PlanOptions, protocol: Protocol | None
                ) -> GroupSequentialPlan:
    """--design first, then the gsd options (--information-rates), then the protocol's analysis.looks."""
    if from_design is not None:
        return from_design
    given = options.plan()
    if given is not None:
        return given
    if protocol is not None and protocol.analysis is not None:
        return monitoring_plan(protocol.analysis)
    raise UserError("--design, --protocol or --information-rates: say what the group-sequential plan is")


def protocol_and_export(source: DataOptions) -> tuple[Protocol | None, ExportData | None]:
    """The protocol, and the trial server's data when the looks come from there (--trial, or --data naming an
    export)."""
    if source.trial is not None or (source.data is not None and is_export(source.data)):
        proto, export, _ = resolve(protocol_file=source.protocol, data=source.data, trial=source.trial, db=source.db,
                                   server=source.server, unblinded=True, purpose="an interim analysis",
                                   what="analyze interim")
        assert export is not None
        export.require_arms("analyze interim")
        return proto, export
    if source.look_dates is not None:
        raise UserError("--look-dates: only with server data (--trial or an export); a CSV has its look column")
    return (load_protocol(source.protocol) if source.protocol is not None else None), None


def observed_looks(source: DataOptions, protocol: Protocol | None, export: ExportData | None,
                   theta_design: float | None) -> Observed:
    """The looks so far: the server's data or a patient-level CSV analysed as the protocol's primary comparison,
    else the --looks summary table; the design effect from the protocol unless given."""
    theta_source = "given by --design-effect" if theta_design is not None else None
    if export is not None:
        assert protocol is not None
        with_look = with_looks(export, protocol, look_dates(source.look_dates))
        inputs = looks_from_protocol(protocol, with_look.patients, look_column="look", arm=source.arm,
                                     max_information=source.max_information, planned_n=source.planned_n)
    elif source.data is not None:
        if protocol is None:
            raise UserError("--data: patient-level data are analysed as a protocol says; give --protocol too")
        inputs = looks_from_protocol(protocol, read_csv(source.data), look_column=source.look_column,
                                     arm=source.arm, max_information=source.max_information,
                                     planned_n=source.planned_n)
    else:
        return _looks_from_summary(source.looks, protocol, source.better, theta_design)
    if theta_design is None and inputs.theta_design is not None:
        theta_design, theta_source = inputs.theta_design, design_effect_source(protocol)
    return Observed(list(inputs.looks), inputs.measure, inputs.log_scale, theta_design, theta_source)


def _looks_from_summary(table: Path | None, protocol: Protocol | None, better: str | None,
                        theta_design: float | None) -> Observed:
    """--looks: a summary table, one row per look; the design effect from the protocol unless given."""
    if table is None:
        raise UserError("--data or --looks: give the data of the looks so far")
    theta_source = "given by --design-effect" if theta_design is not None else None
    if better is None and protocol is not None and protocol.analysis is not None:
        o = protocol.outcome(protocol.analysis.primary.outcome)
        better = o.better.value if o else None
    observed, measure = looks_from_table(read_csv(table, "--looks"), better=better)
    if theta_design is None and protocol is not None:
        if measure == "risk_difference":
            theta_design = risk_difference_design_effect(protocol, better)
            theta_source = (f"{design_effect_source(protocol)}, as the risk difference the table of counts is "
                            "monitored on")
        else:
            theta_design = design_effect(protocol)
            theta_source = (f"{design_effect_source(protocol)}; the table's estimates must be on the scale of this "
                            "method")
    return Observed(list(observed), measure, False, theta_design, theta_source)
