"""A readable, terminal-sized view of a protocol."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from rich.console import Console
from rich.table import Table
from rich.text import Text

from equipoise.protocol import Protocol
from equipoise.protocol.adaptive_text import describe_adaptive
from equipoise.protocol.amendments import AddArm
from equipoise.protocol.arms import Arm
from equipoise.protocol.checks import check_protocol
from equipoise.protocol.eligibility import CriterionKind, show_value
from equipoise.protocol.problems import Severity


def _ratio(weights: list[float]) -> str:
    """2.0, 1.0, 1.0 -> '2:1:1'."""
    fractions = [Fraction(w).limit_denominator(1000) for w in weights]
    scale = 1
    for f in fractions:
        scale = scale * f.denominator // _gcd(scale, f.denominator)
    ints = [int(f * scale) for f in fractions]
    common = 0
    for i in ints:
        common = _gcd(common, i)
    return ":".join(str(i // (common or 1)) for i in ints)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return abs(a)


def render_protocol(base: Protocol, p: Protocol, on: dt.date, console: Console) -> None:
    t = p.trial
    console.print(Text(t.title, style="bold"))
    registry = ", ".join(f"{r.registry} {r.id}" for r in t.registry_ids) or "not registered"
    console.print(Text(f"{t.id} · version {t.version} in force on {on.isoformat()} "
                       f"(effective {t.effective_date.isoformat()}) · {t.blinding.value} · {registry}"))
    console.print(Text(f"Sponsor: {t.sponsor}" + (f" · phase {t.phase}" if t.phase else "")))
    for problem in check_protocol(p):
        if problem.severity is Severity.WARNING and problem.path[:1] != ("amendments",):
            console.print(Text(f"⚠ {problem.message}", style="yellow"))

    arms = Table(title=f"Arms ({_ratio([a.allocation for a in p.arms])})", title_justify="left")
    arms.add_column("arm", ratio=3)
    arms.add_column("role", no_wrap=True)
    arms.add_column("weight", justify="right", no_wrap=True)
    arms.add_column("sites", ratio=1)
    arms.add_column("excluded if", ratio=1, overflow="fold")
    for arm in p.arms:
        missing = [s.id for s in p.sites if s.arms is not None and arm.id not in s.arms]
        where = "all" if not missing else "not " + ", ".join(missing)
        label = Text(arm.id, style="bold")
        label.append(f"\n{arm.name}", style="dim")
        arms.add_row(label, arm.role.value, f"{arm.allocation:g}", where, ", ".join(arm.excluded_if))
    console.print(arms)
    dropped = [a for a in _all_arms(base) if p.arm(a.id) is None and a.id not in _not_yet_added(base, on)]
    if dropped:
        console.print(Text("Dropped by amendment: " + ", ".join(a.id for a in dropped)))

    r = p.randomization
    if r is None:
        console.print(Text("Randomization: none (single arm, no control group)", style="yellow"))
    else:
        parts = [r.method.value]
        if r.block_sizes:
            parts.append(f"block sizes {', '.join(map(str, r.block_sizes))} (chosen at random)")
        if r.stratify_by:
            parts.append("stratified by " + ", ".join(r.stratify_by))
        if r.minimization is not None:
            weights = ", ".join(f"{k} ×{v:g}" for k, v in r.minimization.weights.items())
            parts.append(f"factors {weights}; p = {r.minimization.probability:g}; {r.minimization.imbalance}")
        if r.adaptive is not None:
            parts.append(f"burn-in {r.adaptive.burn_in}, floor {r.adaptive.floor:g}")
        console.print(Text("Randomization: " + "; ".join(parts)))
    for part in p.further_randomizations:
        arms_text = " vs ".join(f"{a.id} ({a.allocation:g})" for a in part.arms)
        asked = f"; asks {', '.join(f.id for f in part.fields)}" if part.fields else ""
        criteria = f"; {len(part.eligibility)} criteria" if part.eligibility else ""
        console.print(Text(f"Further randomization {part.id}: {part.name}: {arms_text}, "
                           f"{part.randomization.method.value}{asked}{criteria}"))

    sites = Table(title="Sites", title_justify="left")
    for column in ("id", "name", "country", "time zone"):
        sites.add_column(column)
    for site in p.sites:
        sites.add_row(site.id, site.name, site.country, site.timezone)
    console.print(sites)

    target = p.enrolment.target
    if target is not None:
        line = f"Target enrolment: {target.total}"
        if target.composition:
            line += " (" + ", ".join(f"{n} {k}" for k, n in target.composition.items()) + ")"
        console.print(Text(line))
    if p.eligibility:
        console.print(Text("Eligibility", style="bold"))
        for c in p.eligibility:
            tag = "include" if c.kind is CriterionKind.INCLUSION else "exclude"
            value = ", ".join(map(show_value, c.value)) if isinstance(c.value, list) else show_value(c.value)
            console.print(Text(f"  {tag}: {c.text}  [{c.field} {c.op.value} {value}]"))

    outcomes = Table(title="Outcomes", title_justify="left")
    outcomes.add_column("id", no_wrap=True)
    outcomes.add_column("name", ratio=1)
    for column in ("type", "day", "better"):
        outcomes.add_column(column, no_wrap=True)
    for o in p.outcomes:
        kind = o.type.value + (f" ({o.resolved_scale.name})" if o.resolved_scale else "")
        outcomes.add_row(o.id, o.name, kind, str(o.day), o.better.value)
    console.print(outcomes)

    if p.forms:
        console.print(Text("Visits: " + ", ".join(f"{v.id} (day {v.day})" for v in p.visits)))
        console.print(Text("Forms: " + ", ".join(f"{f.name} ({len(f.fields)} fields)" for f in p.forms)))

    plan = p.analysis
    if plan is not None:
        console.print(Text("Analysis plan", style="bold"))
        power = f", power {plan.power:g}" if plan.power is not None else ""
        console.print(Text(f"  {plan.population}; {plan.sided}-sided alpha {plan.alpha:g}{power}"))
        console.print(Text(f"  primary: {plan.primary.outcome} by {plan.primary.method.value}"))
        for s in plan.secondary:
            of_part = f" (arms of part {s.part})" if s.part else ""
            console.print(Text(f"  secondary: {s.outcome} by {s.method.value}{of_part}"))
        if plan.looks is not None:
            rates = ", ".join(f"{x:g}" for x in plan.looks.information_rates)
            futility = plan.looks.futility
            fut = f"; futility {futility.spending.value} ({'binding' if futility.binding else 'non-binding'})" \
                if futility is not None else ""
            console.print(Text(f"  looks at information {rates}; efficacy {plan.looks.efficacy.spending.value}{fut}"))

    if p.adaptive is not None:
        console.print(Text("Adaptive platform", style="bold"))
        for sentence in describe_adaptive(p):
            console.print(Text(f"  {sentence}"))

    if base.amendments:
        console.print(Text("Versions", style="bold"))
        console.print(Text(f"  {base.trial.version}  {base.trial.effective_date.isoformat()}  original protocol"))
        for a in base.amendments:
            mark = "in force" if a.effective_date <= on else "not yet"
            console.print(Text(f"  {a.version}  {a.effective_date.isoformat()}  {a.summary}  ({mark})"))


def _all_arms(base: Protocol) -> list[Arm]:
    added = [c.arm for a in base.amendments for c in a.changes if isinstance(c, AddArm)]
    return [*base.arms, *added]


def _not_yet_added(base: Protocol, on: dt.date) -> set[str]:
    return {c.arm.id for a in base.amendments if a.effective_date > on for c in a.changes if isinstance(c, AddArm)}
