"""Readable summaries of design results (the ``__str__`` of the result objects)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from equipoise.design.group_sequential import GroupSequentialDesign
    from equipoise.design.sample_size import SampleSizeResult


def _fmt(x: float, digits: int = 4) -> str:
    if x != x:  # NaN
        return "-"
    if abs(x) >= 1e5:
        return f"{x:.4g}"
    return f"{x:.{digits}f}"


def design_text(d: GroupSequentialDesign) -> str:
    family = d.spending + (f" (gamma={d.gamma:g})" if d.gamma is not None else "") + (
        f" (rho={d.rho:g})" if d.rho is not None else "")
    lines = [
        f"Group-sequential design: {d.looks} look(s), {d.sided}-sided alpha={d.alpha:g}, efficacy {family}",
    ]
    if d.futility_spending is not None:
        fg = f" (gamma={d.futility_gamma:g})" if d.futility_gamma is not None else ""
        fr = f" (rho={d.futility_rho:g})" if d.futility_rho is not None else ""
        kind = "binding" if d.binding else "non-binding"
        lines.append(f"Futility: beta spending {d.futility_spending}{fg}{fr}, beta={d.beta:g}, {kind}")
    header = ["look", "info", "upper", "lower" if d.sided == 1 else "futility |Z|<", "cum. alpha", "alpha spent",
              "P(eff|H0)", "P(eff|H1)", "P(fut|H1)"]
    rows = []
    for k in range(d.looks):
        fut = "-" if d.futility is None else _fmt(float(d.futility[k]))
        rows.append([str(k + 1), _fmt(float(d.information_rates[k]), 3), _fmt(float(d.upper[k])), fut,
                     _fmt(float(d.cumulative_alpha[k]), 6), _fmt(float(d.alpha_spent[k]), 6),
                     _fmt(float(d.rejection_h0[k]), 6), _fmt(float(d.rejection_h1[k])),
                     _fmt(float(d.futility_h1[k]))])
    lines.extend(table(header, rows))
    lines.append(f"Inflation factor {d.inflation_factor:.6f}; drift {d.drift:.6f} for power {1 - d.beta:g}")
    lines.append(f"Expected sample size / fixed: H0 {d.expected_sample_size_h0:.4f}, "
                 f"H1/2 {d.expected_sample_size_h01:.4f}, H1 {d.expected_sample_size_h1:.4f}")
    if d.sided == 2:
        lines.append("Two-sided: reject when |Z| >= upper (lower = -upper).")
    return "\n".join(lines)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    out = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    out.extend("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    return out


def sample_size_text(s: SampleSizeResult) -> str:
    d = s.design
    kind = "fixed design" if d.looks == 1 else f"group-sequential design, {d.looks} looks ({d.spending})"
    lines = [f"Sample size: {s.outcome} outcome, {kind}, {s.sided}-sided alpha={s.alpha:g}, power={s.power:g}, "
             f"ratio experimental:control = {s.ratio:g}",
             f"Method: {s.method}",
             "Assumptions: " + ", ".join(f"{k}={_short(v)}" for k, v in s.assumptions.items())]
    if s.events is not None:
        lines.append(f"Events: {s.events:.4f} (fixed design {s.events_fixed:.4f})")
    if s.n_total is not None:
        arms = s.n_per_arm or {}
        rounded = s.n_per_arm_rounded or {}
        lines.append(f"n_total: {s.n_total:.4f} (experimental {arms.get('experimental', 0):.4f}, control "
                     f"{arms.get('control', 0):.4f}); rounded up per arm: {rounded.get('experimental')} + "
                     f"{rounded.get('control')} = {s.n_total_rounded}")
        if s.n_fixed is not None and d.looks > 1:
            lines.append(f"Fixed-design n: {s.n_fixed:.4f}; inflation factor {d.inflation_factor:.6f}")
    header = ["look", "info", "z upper", "z futility" if d.futility is not None else "", "n"]
    if s.events_per_look is not None:
        header += ["events", "time"]
    header += ["effect upper", "effect futility" if s.effect_futility is not None else "",
               "effect other side" if s.effect_lower is not None else ""]
    rows = []
    for k in range(d.looks):
        row = [str(k + 1), _fmt(float(d.information_rates[k]), 3), _fmt(float(d.upper[k])),
               _fmt(float(d.futility[k])) if d.futility is not None else "",
               _fmt(float(s.n_per_look[k]), 2) if s.n_per_look is not None else "-"]
        if s.events_per_look is not None:
            row += [_fmt(float(s.events_per_look[k]), 2),
                    _fmt(float(s.analysis_times[k]), 2) if s.analysis_times is not None else "-"]
        row += [_fmt(float(s.effect_upper[k])) if s.effect_upper is not None else "-",
                _fmt(float(s.effect_futility[k])) if s.effect_futility is not None else "",
                _fmt(float(s.effect_lower[k])) if s.effect_lower is not None else ""]
        rows.append(row)
    keep = [i for i, h in enumerate(header) if h]
    lines.extend(table([header[i] for i in keep], [[r[i] for i in keep] for r in rows]))
    lines.append(f"Effect scale: {s.effect_name}; 'effect upper' is the efficacy bound in the direction of the "
                 "assumed effect")
    if d.looks > 1 and s.expected_n_h1 is not None:
        unit = "events" if s.events is not None else "patients"
        lines.append(f"Expected {unit}: H0 {s.expected_n_h0:.2f}, H1/2 {s.expected_n_h01:.2f}, "
                     f"H1 {s.expected_n_h1:.2f}")
    lines.extend(f"Note: {n}" for n in s.notes)
    return "\n".join(lines)


def _short(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):
        return "[" + ", ".join(_short(x) for x in v) + "]"
    return str(v)
