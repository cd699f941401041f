"""A trial's group-sequential plan as one value: what ``gsd()`` needs to compute the boundaries.

``GroupSequentialPlan`` holds the information rates of the looks (ending at 1, the final analysis), alpha and
sidedness, the efficacy (alpha) spending function with its parameter (gamma for Hwang–Shih–DeCani, rho for
Kim–DeMets), the futility (beta) spending function with its parameter and whether it binds, and beta. It is made
from a protocol's analysis plan in one place (``from_protocol``), from command-line options (``from_options``) or
from a design's JSON (``from_mapping``); ``design()`` computes the boundaries (``gsd``), at the planned information
or at other information rates (monitoring: ``equipoise.design.monitoring.bounds_at``).

References
----------
Jennison C, Turnbull BW. Group Sequential Methods with Applications to Clinical Trials. Chapman & Hall/CRC, 2000,
chapter 7 (error spending). Lan KKG, DeMets DL. Discrete sequential boundaries for clinical trials. Biometrika
1983;70:659-663.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from equipoise.design.group_sequential import MAX_LOOKS, GroupSequentialDesign, gsd, information_schedule
from equipoise.design.integration import DEFAULT_QUADRATURE, Quadrature
from equipoise.design.spending import parse_family, spending_parameter
from equipoise.errors import UserError
from equipoise.plan_defaults import DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_SIDED, DEFAULT_SPENDING
from equipoise.protocol import AnalysisPlan, Protocol

SPENDING_NAMES = {"obf": "O'Brien–Fleming-type", "pocock": "Pocock-type", "hsd": "Hwang–Shih–DeCani",
                  "kd": "Kim–DeMets", "of-constant": "O'Brien–Fleming", "pocock-constant": "Pocock"}


@dataclass(frozen=True)
class GroupSequentialPlan:
    """The settings of ``gsd()`` for a trial: looks (``information_rates``), ``alpha`` (the total type I error,
    two-sided when ``sided`` is 2), the efficacy ``spending`` family with ``gamma``/``rho``, the optional
    ``futility_spending`` family with ``futility_gamma``/``futility_rho`` and ``binding``, and ``beta`` (``None``:
    ``DEFAULT_BETA``, power 0.8). Spending names are kept as given (``obf``, ``pocock``, ``hsd``, ``kd``,
    ``of-constant``, ``pocock-constant`` or rpact's names)."""

    information_rates: tuple[float, ...] = (1.0,)
    alpha: float = DEFAULT_ALPHA
    sided: int = DEFAULT_SIDED
    spending: str = DEFAULT_SPENDING
    gamma: float | None = None
    rho: float | None = None
    futility_spending: str | None = None
    futility_gamma: float | None = None
    futility_rho: float | None = None
    binding: bool = False
    beta: float | None = None

    def __post_init__(self) -> None:
        rates = self.information_rates
        shown = ", ".join(f"{r:g}" for r in rates)
        if not rates or not all(math.isfinite(r) and 0 < r <= 1 for r in rates):
            raise UserError(f"information rates: each must be above 0 and at most 1 (got {shown})")
        if any(b <= a for a, b in itertools.pairwise(rates)):
            raise UserError(f"information rates: must increase from look to look (got {shown})")
        if abs(rates[-1] - 1) > 1e-9:
            raise UserError(f"information rates: the last look is the final analysis, with rate 1 (got {shown})")
        if len(rates) > MAX_LOOKS:
            raise UserError(f"looks must be a whole number between 1 and {MAX_LOOKS}, got {len(rates)}")
        if not (math.isfinite(self.alpha) and 0 < self.alpha < 0.5):
            raise UserError(f"alpha: must be between 0 and 0.5 (got {self.alpha:g})")
        if self.sided not in (1, 2):
            raise UserError(f"sided: must be 1 or 2 (got {self.sided})")
        if self.beta is not None and not (math.isfinite(self.beta) and 0 < self.beta < 1):
            raise UserError(f"beta: must be between 0 and 1 (got {self.beta:g})")
        spending_parameter(parse_family(self.spending, "spending"), self.gamma, self.rho, "spending")
        if self.binding and self.futility_spending is None:
            raise UserError("binding futility needs a futility spending function (futility_spending)")
        if self.futility_spending is not None:
            spending_parameter(parse_family(self.futility_spending, "futility spending"), self.futility_gamma,
                               self.futility_rho, "futility spending")

    @property
    def looks(self) -> int:
        return len(self.information_rates)

    @classmethod
    def from_protocol(cls, source: Protocol | AnalysisPlan, *, default_power: float | None = None
                      ) -> GroupSequentialPlan:
        """The plan of a protocol's ``analysis`` section: its looks (one final look when it plans none), alpha,
        sidedness, efficacy and futility spending; beta is 1 - ``analysis.power`` (else 1 - ``default_power``,
        else ``DEFAULT_BETA``)."""
        plan = source.analysis if isinstance(source, Protocol) else source
        if plan is None:
            raise UserError("protocol: there is no analysis section, so no group-sequential plan")
        power = plan.power if plan.power is not None else default_power
        beta = None if power is None else 1 - power
        if plan.looks is None:
            return cls((1.0,), plan.alpha, plan.sided, beta=beta)
        efficacy, fut = plan.looks.efficacy, plan.looks.futility
        return cls(tuple(float(r) for r in plan.looks.information_rates), plan.alpha, plan.sided,
                   efficacy.spending.value, efficacy.gamma, efficacy.rho,
                   None if fut is None else fut.spending.value, None if fut is None else fut.gamma,
                   None if fut is None else fut.rho, False if fut is None else fut.binding, beta)

    @classmethod
    def from_options(cls, *, looks: int | None = None, information_rates: Sequence[float] | None = None,
                     alpha: float | None = None, sided: int | None = None, spending: str = DEFAULT_SPENDING,
                     gamma: float | None = None, rho: float | None = None, beta: float | None = None,
                     futility_spending: str | None = None, futility_gamma: float | None = None,
                     futility_rho: float | None = None, binding: bool = False) -> GroupSequentialPlan:
        """From ``gsd``-style options: ``looks`` equally spaced (default 3) unless ``information_rates`` are given;
        alpha and sidedness default to ``DEFAULT_ALPHA`` one-sided."""
        t, _ = information_schedule(information_rates, looks)
        return cls(tuple(float(r) for r in t), DEFAULT_ALPHA if alpha is None else alpha,
                   DEFAULT_SIDED if sided is None else sided, spending, gamma, rho, futility_spending,
                   futility_gamma, futility_rho, binding, beta)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], source: str = "--design") -> GroupSequentialPlan:
        """From gsd options, a plan's ``to_dict()`` or a ``GroupSequentialDesign.to_dict()`` (e.g. ``equipoise
        design ... --json``)."""
        body = data.get("design", data) if isinstance(data.get("design"), dict) else data
        rates = body.get("information_rates")
        if rates is None and isinstance(body.get("looks"), int):
            rates = [(i + 1) / body["looks"] for i in range(body["looks"])]
        if not isinstance(rates, list) or not rates:
            raise UserError(f"{source}: no 'information_rates' (or 'looks') in the design")
        try:
            return cls(tuple(float(r) for r in rates), float(body.get("alpha", DEFAULT_ALPHA)),
                       int(body.get("sided", DEFAULT_SIDED)), str(body.get("spending", DEFAULT_SPENDING)),
                       body.get("gamma"), body.get("rho"), body.get("futility_spending"), body.get("futility_gamma"),
                       body.get("futility_rho"), bool(body.get("binding", False)),
                       float(body.get("beta", DEFAULT_BETA)))
        except (TypeError, ValueError) as exc:
            raise UserError(f"{source}: the design has a value of the wrong type ({exc})") from None

    @classmethod
    def from_design(cls, design: GroupSequentialDesign) -> GroupSequentialPlan:
        """The plan a computed design was made from."""
        return cls(tuple(float(r) for r in design.information_rates), design.alpha, design.sided, design.spending,
                   design.gamma, design.rho, design.futility_spending, design.futility_gamma, design.futility_rho,
                   design.binding, design.beta)

    def design(self, information_rates: Sequence[float] | None = None, *, beta_adjustment: bool = True,
               quadrature: Quadrature = DEFAULT_QUADRATURE) -> GroupSequentialDesign:
        """The boundaries at the planned information, or at ``information_rates`` (looks at other information
        than planned; a single look there has no futility bound). ``beta_adjustment`` and ``quadrature`` as in
        ``gsd``."""
        rates = list(self.information_rates if information_rates is None else information_rates)
        futility = self.futility_spending if information_rates is None or len(rates) > 1 else None
        return gsd(looks=len(rates), alpha=self.alpha, sided=self.sided, spending=self.spending,
                   information_rates=rates, gamma=self.gamma, rho=self.rho, beta=self.beta,
                   futility_spending=futility, futility_gamma=self.futility_gamma if futility else None,
                   futility_rho=self.futility_rho if futility else None,
                   binding=self.binding and futility is not None, beta_adjustment=beta_adjustment,
                   quadrature=quadrature)

    def describe(self) -> str:
        """The spending in words, e.g. "O'Brien–Fleming-type alpha spending, one-sided alpha 0.025"."""
        name = SPENDING_NAMES.get(self.spending, self.spending)
        text = f"{name} alpha spending, {'one' if self.sided == 1 else 'two'}-sided alpha {self.alpha:g}"
        if self.futility_spending:
            text += (f"; {'binding' if self.binding else 'non-binding'} "
                     f"{SPENDING_NAMES.get(self.futility_spending, self.futility_spending)} futility (beta spending"
                     + (f", gamma {self.futility_gamma:g}" if self.futility_gamma is not None else "") + ")")
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"looks": self.looks, "information_rates": list(self.information_rates), "alpha": self.alpha,
                "sided": self.sided, "spending": self.spending, "gamma": self.gamma, "rho": self.rho,
                "futility_spending": self.futility_spending, "futility_gamma": self.futility_gamma,
                "futility_rho": self.futility_rho, "binding": self.binding,
                "beta": DEFAULT_BETA if self.beta is None else self.beta}

    def __str__(self) -> str:
        looks = "1 look (fixed design)" if self.looks == 1 else (
            f"{self.looks} looks at information {', '.join(f'{r:.3g}' for r in self.information_rates)}")
        beta = DEFAULT_BETA if self.beta is None else self.beta
        return f"Group-sequential plan: {looks}; {self.describe()}; beta {beta:g} (power {1 - beta:g})"
