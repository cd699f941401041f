"""Cross-field checks: everything a protocol must satisfy beyond the shape of each section.

Every check reports all problems it sees (never just the first), each with the path of the field at fault.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from equipoise.protocol.adaptive_checks import check_adaptive
from equipoise.protocol.amending import ENROLMENT_FORM, apply_amendment_checked, with_every_field
from equipoise.protocol.amendments import CHANGEABLE, AddField, AddPart, ChangeField, DropField
from equipoise.protocol.analysis_plan import (
    ASSUMPTIONS_BY_OUTCOME,
    METHODS_BY_OUTCOME,
    SINGLE_ARM_METHODS,
    Comparison,
    Looks,
    Spending,
    SpendingFamily,
)
from equipoise.protocol.eligibility import ORDERING_OPERATORS, Criterion, Operator
from equipoise.protocol.fields import DataField, FieldType
from equipoise.protocol.forms import Form
from equipoise.protocol.further_randomization import FurtherRandomization
from equipoise.protocol.model import Protocol
from equipoise.protocol.outcomes import OutcomeType
from equipoise.protocol.problems import Path, Problem, Severity
from equipoise.protocol.randomization import SITE_FIELD, RandomizationMethod

Found = Iterator[Problem]


def _err(path: Path, message: str) -> Problem:
    return Problem(path, message)


def _warn(path: Path, message: str) -> Problem:
    return Problem(path, message, Severity.WARNING)


def check_protocol(protocol: Protocol) -> list[Problem]:
    """All cross-field problems of a structurally valid protocol."""
    found: list[Problem] = []
    for check in (
        _unique_ids,
        _arms_and_blinding,
        _sites,
        _enrolment,
        _eligibility,
        _randomization,
        _outcomes,
        _visits_and_forms,
        _analysis,
        _amendments,
        _further_randomizations,
        _retention,
        check_adaptive,
    ):
        found.extend(check(protocol))
    return found


def _retention(p: Protocol) -> Found:
    if p.trial.retention_years < 25:
        yield _warn(("trial", "retention_years"), f"{p.trial.retention_years} years is shorter than the 25 years "
                    "the EU Clinical Trials Regulation (536/2014, Art. 58) asks of a trial run in the EU")


# --- further randomizations ----------------------------------------------------------------------------


def _further_randomizations(p: Protocol) -> Found:
    """Each part is checked as the protocol the server reads it as (``Protocol.part_protocol``): the main
    checks of arms, fields, eligibility and randomization, each problem at its path inside the part."""
    yield from _duplicates([r.id for r in p.further_randomizations], ("further_randomizations",), "part")
    if p.further_randomizations and not p.is_controlled:
        yield _err(("further_randomizations",), "a single-arm trial has no main randomization to follow")
    for i, part in enumerate(p.further_randomizations):
        yield from _part_problems(p, part, ("further_randomizations", i))


def _part_problems(p: Protocol, part: FurtherRandomization, here: Path) -> Found:
    """One part, read as the protocol the server reads it as (in the base protocol, or opened by an amendment)."""
    enrolment = {f.id for f in p.enrolment.fields}
    view = p.part_protocol(part)
    yield from _duplicates([a.id for a in part.arms], (*here, "arms"), "arm")
    if part.blinding.is_blinded and not p.trial.blinding.is_blinded:
        yield _err((*here, "blinding"), f"a {part.blinding.value} part needs a blinded trial: in an open-label "
                   "trial every role sees arms, in exports and in the audit trail")
    for j, field in enumerate(part.fields):
        if field.id in enrolment:
            yield _err((*here, "fields", j, "id"), f"{field.id!r} is an enrolment field already: give the "
                                                   "part's field another id")
        yield from _field_problems(field, (*here, "fields", j), view.enrolment.fields)
    if part.randomization.method not in PART_METHODS:
        yield _err((*here, "randomization", "method"),
                   f"a further randomization uses {', '.join(m.value for m in PART_METHODS)}, not "
                   f"{part.randomization.method.value}")
        return
    for check in (_arms_and_blinding, _eligibility, _randomization):
        for problem in check(view):
            yield Problem((*here, *problem.path), problem.message, problem.severity)


PART_METHODS = (RandomizationMethod.SIMPLE, RandomizationMethod.PERMUTED_BLOCKS, RandomizationMethod.MINIMIZATION)


# --- identity ------------------------------------------------------------------------------------------


def _duplicates(ids: Sequence[str], section: Path, what: str) -> Found:
    counts = Counter(ids)
    seen: set[str] = set()
    for i, item in enumerate(ids):
        if counts[item] > 1 and item in seen:
            yield _err((*section, i, "id"), f"{what} id {item!r} is used more than once")
        seen.add(item)


def _unique_ids(p: Protocol) -> Found:
    yield from _duplicates([a.id for a in p.arms], ("arms",), "arm")
    yield from _duplicates([s.id for s in p.sites], ("sites",), "site")
    yield from _duplicates([f.id for f in p.enrolment.fields], ("enrolment", "fields"), "field")
    yield from _duplicates([c.id for c in p.eligibility], ("eligibility",), "criterion")
    yield from _duplicates([o.id for o in p.outcomes], ("outcomes",), "outcome")
    yield from _duplicates([v.id for v in p.visits], ("visits",), "visit")
    yield from _duplicates([f.id for f in p.forms], ("forms",), "form")
    for i, form in enumerate(p.forms):
        yield from _duplicates([f.id for f in form.fields], ("forms", i, "fields"), "field")
    if p.randomization is not None:
        yield from _duplicates([f.id for f in p.randomization.factors], ("randomization", "factors"), "factor")
    versions = [p.trial.version] + [a.version for a in p.amendments]
    for i, version in enumerate(versions[1:]):
        if version in versions[: i + 1]:
            yield _err(("amendments", i, "version"), f"version {version!r} is already used")


# --- arms, blinding, sites -----------------------------------------------------------------------------


def _arms_and_blinding(p: Protocol) -> Iterable[Problem]:
    return _arm_set_problems(p, ())


def _arm_set_problems(p: Protocol, prefix: Path) -> Found:
    """Checks that must hold for the arms in force at every date (base protocol and after each amendment)."""
    where = prefix or ("arms",)
    if p.is_controlled:
        if not any(a.role.is_control for a in p.arms):
            yield _err(where, "a randomized trial needs a control arm (placebo, usual-care or active-control)")
        if not any(not a.role.is_control for a in p.arms):
            yield _err(where, "no arm has role 'experimental'")
    for i, arm in enumerate(p.arms):
        for j, name in enumerate(arm.excluded_if):
            field = p.enrolment.field(name)
            if field is None or field.type is not FieldType.BOOLEAN:
                where_field = prefix or ("arms", i, "excluded_if", j)
                yield _err(where_field, f"arm {arm.id!r}: {name!r} is not a yes/no enrolment field")
    if p.trial.blinding.is_blinded and p.is_controlled:
        prefixes = {a.kit_prefix for a in p.arms}
        for i, arm in enumerate(p.arms):
            if arm.kit_prefix is None:
                where_arm = prefix or ("arms", i, "kit_prefix")
                yield _err(where_arm, f"arm {arm.id!r}: a {p.trial.blinding.value} trial needs a kit code prefix")
        if len(prefixes - {None}) > 1:
            yield _err(
                (*where, *(() if prefix else (0, "kit_prefix"))),
                "kit code prefixes differ between arms, so a kit code would reveal the arm: use one prefix",
            )


def _sites(p: Protocol) -> Found:
    yield from _site_problems(p, ())


def _site_problems(p: Protocol, prefix: Path) -> Found:
    arm_ids = {a.id for a in p.arms}
    control = p.control_arm
    for i, site in enumerate(p.sites):
        if site.arms is None:
            continue
        here: Path = prefix or ("sites", i, "arms")
        for j, arm_id in enumerate(site.arms):
            if arm_id not in arm_ids and not prefix:
                yield _err((*here, j), f"unknown arm {arm_id!r}")
        available = [a for a in site.arms if a in arm_ids]
        if p.is_controlled and len(available) < 2:
            yield _err(here, f"site {site.id!r} offers {len(available)} arm(s); randomization needs at least 2")
        elif control is not None and p.is_controlled and control.id not in available:
            yield _warn(here, f"site {site.id!r} does not offer the control arm {control.id!r}")


# --- enrolment and eligibility -------------------------------------------------------------------------


def _field_problems(field: DataField, path: Path, siblings: Sequence[DataField]) -> Found:
    kind = field.type
    if field.range is not None:
        if kind not in (FieldType.INTEGER, FieldType.NUMBER):
            yield _err((*path, "range"), f"range applies to integer and number fields, not {kind.value}")
        elif field.range[0] >= field.range[1]:
            yield _err((*path, "range"), "range must be [low, high] with low < high")
    if field.expected is not None:
        if kind not in (FieldType.INTEGER, FieldType.NUMBER):
            yield _err((*path, "expected"), f"expected applies to integer and number fields, not {kind.value}")
        elif field.expected[0] >= field.expected[1]:
            yield _err((*path, "expected"), "expected must be [low, high] with low < high")
        elif field.range is not None and not field.range[0] <= field.expected[0] < field.expected[1] <= field.range[1]:
            yield _err((*path, "expected"), "the expected values must lie inside the allowed range")
    if kind is FieldType.CHOICE:
        if not field.choices:
            yield _err((*path, "choices"), "a choice field needs a list of choices")
        else:
            counts = Counter(field.choice_values)
            for value, n in counts.items():
                if n > 1:
                    yield _err((*path, "choices"), f"choice {value!r} is listed {n} times")
    elif field.choices is not None:
        yield _err((*path, "choices"), f"choices apply to choice fields, not {kind.value}")
    if kind is FieldType.ORDINAL:
        if field.scale is None:
            yield _err((*path, "scale"), "an ordinal field needs a scale (e.g. who-cps)")
        elif field.resolved_scale is None:
            yield _err((*path, "scale"), f"unknown scale {field.scale!r} (built in: who-cps)")
    elif field.scale is not None:
        yield _err((*path, "scale"), f"scale applies to ordinal fields, not {kind.value}")
    if field.not_before is not None:
        other = next((f for f in siblings if f.id == field.not_before), None)
        if kind is not FieldType.DATE:
            yield _err((*path, "not_before"), "not_before applies to date fields")
        elif other is None or other.type is not FieldType.DATE:
            yield _err((*path, "not_before"), f"{field.not_before!r} is not a date field on the same form")


def _enrolment(p: Protocol) -> Found:
    fields = p.enrolment.fields
    for i, field in enumerate(fields):
        yield from _field_problems(field, ("enrolment", "fields", i), fields)
    target = p.enrolment.target
    if target is None:
        return
    if (target.composition is None) != (target.composition_field is None):
        yield _err(("enrolment", "target"), "give composition_field and composition together")
        return
    if target.composition is None or target.composition_field is None:
        return
    by = p.enrolment.field(target.composition_field)
    if by is None or by.type is not FieldType.CHOICE:
        yield _err(("enrolment", "target", "composition_field"), f"{target.composition_field!r} is not a choice field")
        return
    for key in target.composition:
        if key not in by.choice_values:
            yield _err(("enrolment", "target", "composition", key), f"{key!r} is not a choice of {by.id!r}")
    if sum(target.composition.values()) != target.total:
        yield _err(
            ("enrolment", "target", "composition"),
            f"composition adds up to {sum(target.composition.values())}, not the total {target.total}",
        )


def _eligibility(p: Protocol) -> Found:
    for i, criterion in enumerate(p.eligibility):
        field = p.enrolment.field(criterion.field)
        if field is None:
            yield _err(("eligibility", i, "field"), f"unknown enrolment field {criterion.field!r}")
            continue
        message = _criterion_problem(criterion, field)
        if message is not None:
            yield _err(("eligibility", i, "value" if message.startswith("value") else "op"), message)


def _criterion_problem(c: Criterion, field: DataField) -> str | None:
    kind, op, value = field.type, c.op, c.value
    if op is Operator.WITHIN_DAYS:
        if kind is not FieldType.DATE:
            return f"within-days applies to date fields; {field.id!r} is {kind.value}"
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return None if ok else "value must be a whole number of days >= 0"
    if op in ORDERING_OPERATORS and not (kind.is_numeric or kind is FieldType.DATE):
        return f"{op.value} compares numbers or dates; {field.id!r} is {kind.value}"
    if op in (Operator.IN, Operator.NOT_IN):
        if not isinstance(value, list) or not value:
            return f"value must be a non-empty list for {op.value}"
        items: list[object] = list(value)
    elif op is Operator.BETWEEN:
        if not isinstance(value, list) or len(value) != 2:
            return "value must be [low, high] for between"
        items = list(value)
        both_valid = _value_problem(field, items[0]) is None and _value_problem(field, items[1]) is None
        if both_valid and not items[0] <= items[1]:  # type: ignore[operator]
            return "value must be [low, high] with low <= high"
    else:
        if isinstance(value, list):
            return f"value must be a single value for {op.value}"
        items = [value]
    for item in items:
        problem = _value_problem(field, item)
        if problem is not None:
            return f"value {item!r}: {problem}"
    return None


def _value_problem(field: DataField, value: object) -> str | None:
    kind = field.type
    if kind.is_numeric:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"{field.id!r} is {kind.value}, so compare it with a number"
        scale = field.resolved_scale
        if kind is FieldType.ORDINAL and scale is not None and value not in scale.values:
            return f"not a level of {scale.id} ({scale.values[0]} to {scale.values[-1]})"
        return None
    if kind is FieldType.DATE:
        return None if isinstance(value, dt.date) else f"{field.id!r} is a date, so compare it with a date"
    if kind is FieldType.BOOLEAN:
        return None if isinstance(value, bool) else f"{field.id!r} is yes/no, so compare it with true or false"
    if kind is FieldType.CHOICE:
        choices = field.choice_values
        return None if value in choices else f"not a choice of {field.id!r} ({', '.join(choices)})"
    return None if isinstance(value, str) else f"{field.id!r} is text, so compare it with text"


# --- randomization -------------------------------------------------------------------------------------


def _randomization(p: Protocol) -> Found:
    r = p.randomization
    if r is None:
        if p.is_controlled:
            yield _err(("arms",), "a trial with more than one arm needs a randomization section")
        else:
            yield _warn(
                ("arms",),
                "single-arm trial: with no control group, a treatment effect cannot be told apart from "
                "patients recovering on their own",
            )
        return
    if not p.is_controlled:
        yield _err(("randomization",), "a single-arm trial has nothing to randomize; remove this section")
    factor_ids = {f.id for f in r.factors}
    for i, factor in enumerate(r.factors):
        here: Path = ("randomization", "factors", i)
        if factor.field == SITE_FIELD:
            if factor.cutpoints is not None:
                yield _err((*here, "cutpoints"), "the site factor has no cut points")
            continue
        field = p.enrolment.field(factor.field)
        if field is None:
            yield _err((*here, "field"), f"unknown enrolment field {factor.field!r} (or 'site')")
            continue
        if field.type in (FieldType.INTEGER, FieldType.NUMBER):
            cuts = factor.cutpoints
            if not cuts:
                yield _err((*here, "cutpoints"), f"numeric field {field.id!r} needs cut points to make levels")
            elif any(b <= a for a, b in itertools.pairwise(cuts)):
                yield _err((*here, "cutpoints"), "cut points must increase")
            elif factor.levels is not None and len(factor.levels) != len(cuts) + 1:
                yield _err((*here, "levels"), f"{len(cuts)} cut point(s) make {len(cuts) + 1} levels")
        elif field.type in (FieldType.CHOICE, FieldType.BOOLEAN):
            values = field.choice_values if field.type is FieldType.CHOICE else ["no", "yes"]
            if factor.cutpoints is not None:
                yield _err((*here, "cutpoints"), f"cut points apply to numeric fields, not {field.type.value}")
            if factor.levels is not None and sorted(factor.levels) != sorted(values):
                yield _err((*here, "levels"), f"levels must be the values of {field.id!r}: {', '.join(values)}")
        else:
            yield _err((*here, "field"), f"a factor needs a choice, yes/no or numeric field; {field.id!r} is "
                                         f"{field.type.value}")
    for i, name in enumerate(r.stratify_by):
        if name not in factor_ids:
            yield _err(("randomization", "stratify_by", i), f"unknown factor {name!r}")
    method = r.method
    if method is RandomizationMethod.PERMUTED_BLOCKS:
        if not r.block_sizes:
            yield _err(("randomization", "block_sizes"), "permuted blocks need block_sizes, e.g. [4, 6]")
    elif r.block_sizes is not None:
        yield _err(("randomization", "block_sizes"), f"block_sizes apply to permuted-blocks, not {method.value}")
    if method is RandomizationMethod.MINIMIZATION:
        if r.minimization is None:
            yield _err(("randomization", "minimization"), "minimization needs its settings (weights, probability)")
        else:
            for name, weight in r.minimization.weights.items():
                if name not in factor_ids:
                    yield _err(("randomization", "minimization", "weights", name), f"unknown factor {name!r}")
                if not weight > 0:
                    yield _err(("randomization", "minimization", "weights", name), "must be > 0")
            if r.minimization.probability == 1:
                yield _warn(("randomization", "minimization", "probability"),
                            "deterministic minimization is predictable; regulators expect a random element (< 1)")
            site_factors = {f.id for f in r.factors if f.field == SITE_FIELD}
            if site_factors & set(r.stratify_by) and site_factors & set(r.minimization.weights):
                yield _err(("randomization", "minimization", "weights"),
                           "site is both a stratum and a minimization factor: it would be counted twice")
    elif r.minimization is not None:
        yield _err(("randomization", "minimization"), f"minimization settings do not apply to {method.value}")
    if method is RandomizationMethod.RESPONSE_ADAPTIVE:
        if r.adaptive is None:
            yield _err(("randomization", "adaptive"), "response-adaptive randomization needs its settings")
    elif r.adaptive is not None:
        yield _err(("randomization", "adaptive"), f"adaptive settings do not apply to {method.value}")
    if method is RandomizationMethod.LIST:
        yield from _list_problems(p)
    yield from _allocation_problems(p, ())


def _list_problems(p: Protocol) -> Found:
    """A pre-generated list gives each patient the next entry of the stratum: no arm may be closed to anyone."""
    for i, arm in enumerate(p.arms):
        if arm.excluded_if:
            yield _err(("arms", i, "excluded_if"), "a randomization list cannot leave arms out for some patients: "
                                                   "use a dynamic method (simple, permuted-blocks, minimization)")
    for i, site in enumerate(p.sites):
        if site.arms is not None and set(site.arms) != {a.id for a in p.arms}:
            yield _err(("sites", i, "arms"), "a randomization list cannot leave arms out at some sites: use a "
                                             "dynamic method (simple, permuted-blocks, minimization)")


def _allocation_problems(p: Protocol, prefix: Path) -> Found:
    """Settings that depend on the arms in force (checked again after each amendment)."""
    r = p.randomization
    if r is None:
        return
    weights = [a.allocation for a in p.arms]
    if r.method is RandomizationMethod.PERMUTED_BLOCKS and r.block_sizes:
        if any(not float(w).is_integer() for w in weights):
            yield _err(prefix or ("arms",), "permuted blocks need whole-number allocation weights")
        else:
            total = int(sum(weights))
            for i, size in enumerate(r.block_sizes):
                if size <= 0 or size % total:
                    where = prefix or ("randomization", "block_sizes", i)
                    yield _err(where, f"block size {size} is not a positive multiple of the allocation weights' "
                                      f"sum ({total})")
    adaptive = r.adaptive if r.method is RandomizationMethod.RESPONSE_ADAPTIVE else None
    if adaptive is not None and adaptive.floor * len(p.arms) > 1:
        yield _err(prefix or ("randomization", "adaptive", "floor"),
                   f"a floor of {adaptive.floor} for {len(p.arms)} arms exceeds 1 in total")
    if adaptive is not None and adaptive.ceiling is not None:
        if adaptive.ceiling <= adaptive.floor:
            yield _err(prefix or ("randomization", "adaptive", "ceiling"),
                       f"the ceiling {adaptive.ceiling} must be above the floor {adaptive.floor}")
        elif adaptive.ceiling * len(p.arms) < 1:
            yield _err(prefix or ("randomization", "adaptive", "ceiling"),
                       f"a ceiling of {adaptive.ceiling} for {len(p.arms)} arms leaves probability unallocated")


# --- outcomes, visits, forms ---------------------------------------------------------------------------


def _outcomes(p: Protocol) -> Found:
    for i, outcome in enumerate(p.outcomes):
        here: Path = ("outcomes", i)
        if outcome.type is OutcomeType.ORDINAL:
            if outcome.scale is None:
                yield _err((*here, "scale"), "an ordinal outcome needs a scale (e.g. who-cps)")
            elif outcome.resolved_scale is None:
                yield _err((*here, "scale"), f"unknown scale {outcome.scale!r} (built in: who-cps)")
        elif outcome.scale is not None:
            yield _err((*here, "scale"), f"scale applies to ordinal outcomes, not {outcome.type.value}")
        if outcome.competing_events and outcome.type is not OutcomeType.TIME_TO_EVENT:
            yield _err((*here, "competing_events"), "competing events apply to time-to-event outcomes")
        if outcome.source is not None:
            form_id, field_id = outcome.source.split(".", 1)
            form = p.form(form_id)
            if form is None or form.field(field_id) is None:
                yield _err((*here, "source"), f"no field {field_id!r} on a form {form_id!r}")
            elif form.repeating:
                yield _err((*here, "source"), f"form {form_id!r} is repeating (several records per visit), so "
                           "it cannot give one value per patient: take the outcome from a form that is not")


def _visits_and_forms(p: Protocol) -> Found:
    for i, visit in enumerate(p.visits):
        low, high = visit.window
        if not low <= 0 <= high:
            yield _err(("visits", i, "window"), "window must be [early, late] with early <= 0 <= late")
    visit_ids = {v.id for v in p.visits}
    for i, form in enumerate(p.forms):
        if form.id == ENROLMENT_FORM:
            yield _err(("forms", i, "id"), f"{ENROLMENT_FORM!r} names the enrolment form (amendments add fields to "
                                           "it): give the case report form another id")
        for j, visit_id in enumerate(form.visits):
            if visit_id not in visit_ids:
                yield _err(("forms", i, "visits", j), f"unknown visit {visit_id!r}")
        for j, field in enumerate(form.fields):
            yield from _field_problems(field, ("forms", i, "fields", j), form.fields)
            if field.asked_if is not None:
                yield from _condition_problems(field, form.fields[:j], ("forms", i, "fields", j, "asked_if"))
        if form.asked_if is not None:
            yield from _form_condition_problems(p, form, ("forms", i, "asked_if"))
    for i, spec in enumerate(p.enrolment.fields):
        if spec.asked_if is not None:
            yield _err(("enrolment", "fields", i, "asked_if"), "skip logic applies to case report forms: every "
                       "enrolment field is asked")
    for i, part in enumerate(p.further_randomizations):
        for j, spec in enumerate(part.fields):
            if spec.asked_if is not None:
                yield _err(("further_randomizations", i, "fields", j, "asked_if"),
                           "skip logic applies to case report forms: every field of a randomization is asked")


def _field_change_problems(p: Protocol, after: Protocol, change: ChangeField | DropField, here: Path) -> Found:
    """A changed field passes its own checks after the change; the pre-specified analysis keeps what it reads:
    an outcome's field is never dropped nor its choices changed, nor a date of a time-to-event outcome's form
    dropped (the analysis file reads them)."""
    form = after.form(change.form)
    if form is None:
        return  # named by apply_amendment_checked
    reads = [o for o in p.outcomes if o.source is not None and o.source.split(".", 1)[0] == change.form]
    source = next((o for o in reads if o.source == f"{change.form}.{change.field}"), None)
    if isinstance(change, ChangeField):
        spec = form.field(change.field)
        if spec is None:
            return
        for problem in _field_problems(spec, here, form.fields):
            yield problem if problem.path[:len(here)] == here and problem.path[len(here):] and \
                problem.path[len(here)] in CHANGEABLE else Problem(here, problem.message, problem.severity)
        if source is not None and "choices" in change.updates:
            yield _err((*here, "choices"), f"outcome {source.id} reads {source.source}: its choices are part of "
                       "the pre-specified analysis and cannot change")
        for j, other in enumerate(form.fields):  # skip logic that reads the changed field still names its values
            if other.asked_if is not None and other.asked_if.field == spec.id:
                for problem in _condition_problems(other, form.fields[:j], here):
                    yield Problem(here, f"field {other.id!r} is asked if {other.asked_if.expression()}: "
                                        f"{problem.message}", problem.severity)
        return
    if source is not None:
        yield _err((*here, "field"), f"outcome {source.id} reads {source.source}: it cannot be dropped")
        return
    before = p.form(change.form)
    dropped = before.field(change.field) if before else None
    timed = [o for o in reads if o.type is OutcomeType.TIME_TO_EVENT]
    if dropped is not None and dropped.type is FieldType.DATE and timed:
        yield _err((*here, "field"), f"outcome {timed[0].id} takes its dates from form {change.form}: its date "
                   f"{change.field!r} cannot be dropped")


def _form_condition_problems(p: Protocol, form: Form, here: Path) -> Found:
    """A form's condition reads a yes/no, choice, integer or ordinal field of another form that is asked at every
    visit of this one, is not a log form and has no condition of its own (so conditions cannot chain or loop)."""
    assert form.asked_if is not None
    condition = form.asked_if
    gate = p.form(condition.form)
    if gate is None or gate.id == form.id:
        others = ", ".join(f.id for f in p.forms if f.id != form.id) or "none"
        yield _err((*here, "form"), f"{condition.form!r} is not another form of the protocol (forms: {others})")
        return
    if gate.repeating or gate.asked_if is not None:
        yield _err((*here, "form"), f"form {gate.id!r} is a log form or asked on a condition itself: a form's "
                   "condition reads a form with one record per visit that is always asked")
        return
    missing = [v for v in form.visits if v not in gate.visits]
    if missing:
        yield _err((*here, "form"), f"form {gate.id!r} is not asked at visit(s) {', '.join(missing)} of form "
                   f"{form.id!r}: the question must be asked wherever the form may be")
    source = gate.field(condition.field)
    if source is None:
        yield _err((*here, "field"), f"form {gate.id!r} has no field {condition.field!r}")
        return
    if source.type not in (FieldType.BOOLEAN, FieldType.CHOICE, FieldType.INTEGER, FieldType.ORDINAL):
        yield _err((*here, "field"), f"a condition reads a yes/no, choice, integer or ordinal field; "
                                     f"{source.id!r} is {source.type.value}")
        return
    if source.asked_if is not None or not source.required:
        yield _err((*here, "field"), f"{gate.id}.{source.id} must be a required field asked always: the form's "
                   "condition would otherwise have no answer")
    for value in condition.values:
        problem = _value_problem(source, value)
        if problem is not None:
            yield _err((*here, "equals"), problem)


def _condition_problems(field: DataField, earlier: Sequence[DataField], here: Path) -> Found:
    """The field a condition reads is earlier on the same form (so no condition can loop), and can hold the
    values it names."""
    assert field.asked_if is not None
    condition = field.asked_if
    source = next((f for f in earlier if f.id == condition.field), None)
    if source is None:
        yield _err((*here, "field"), f"{condition.field!r} is not a field before {field.id!r} on this form")
        return
    if source.type not in (FieldType.BOOLEAN, FieldType.CHOICE, FieldType.INTEGER, FieldType.ORDINAL):
        yield _err((*here, "field"), f"a condition reads a yes/no, choice, integer or ordinal field; "
                                     f"{source.id!r} is {source.type.value}")
        return
    for value in condition.values:
        problem = _value_problem(source, value)
        if problem is not None:
            yield _err((*here, "equals"), problem)


# --- analysis plan -------------------------------------------------------------------------------------


def _analysis(p: Protocol) -> Found:
    plan = p.analysis
    if plan is None:
        if p.is_controlled:
            yield _warn((), "no analysis plan: design, simulate and analyze will have nothing pre-specified")
        return
    if plan.control_arm is not None:
        arm = p.arm(plan.control_arm)
        if arm is None:
            yield _err(("analysis", "control_arm"), f"unknown arm {plan.control_arm!r}")
        elif not arm.role.is_control:
            yield _err(("analysis", "control_arm"), f"arm {arm.id!r} has role {arm.role.value}, not a control role")
    elif p.is_controlled and p.control_arm is None:
        yield _err(("analysis", "control_arm"), "several arms have a control role: name the control_arm")
    if plan.power is not None and plan.power <= plan.alpha:
        yield _err(("analysis", "power"), "power must exceed alpha")
    yield from _comparison(p, plan.primary, ("analysis", "primary"))
    if plan.primary.part is not None:
        yield _err(("analysis", "primary", "part"), "the primary comparison is the main randomization's: compare a "
                   "further randomization's arms in a secondary comparison")
    for i, comparison in enumerate(plan.secondary):
        yield from _comparison(p, comparison, ("analysis", "secondary", i))
        if comparison.part is not None:
            every = with_every_field(p)
            part = every.further_randomization(comparison.part)
            where: Path = ("analysis", "secondary", i, "part")
            if part is None:
                parts = ", ".join(r.id for r in every.further_randomizations) or "none"
                yield _err(where, f"unknown further randomization {comparison.part!r} (parts: {parts})")
            elif part.control_arm is None:
                yield _err(where, f"part {part.id} needs exactly one arm with a control role (placebo, usual-care) "
                                  "to compare its other arms with")
    if plan.looks is not None:
        yield from _looks(plan.looks, ("analysis", "looks"))


def _comparison(p: Protocol, c: Comparison, here: Path) -> Found:
    outcome = p.outcome(c.outcome)
    if outcome is None:
        yield _err((*here, "outcome"), f"unknown outcome {c.outcome!r} (outcomes: "
                                        f"{', '.join(o.id for o in p.outcomes)})")
        return
    if c.method not in METHODS_BY_OUTCOME[outcome.type]:
        methods = sorted(m.value for m in METHODS_BY_OUTCOME[outcome.type] - SINGLE_ARM_METHODS)
        yield _err((*here, "method"), f"{c.method.value} does not analyse a {outcome.type.value} outcome "
                                      f"(use {', '.join(methods)})")
    elif p.is_controlled == (c.method in SINGLE_ARM_METHODS):
        yield _err((*here, "method"), "proportion describes a single-arm trial; compare arms instead"
                   if p.is_controlled else f"{c.method.value} compares arms, but the trial has one arm")
    known = {f.id for f in p.enrolment.fields} | ({f.id for f in p.randomization.factors} if p.randomization else set())
    for key in ("covariates", "strata"):
        for j, name in enumerate(getattr(c, key)):
            if name not in known:
                yield _err((*here, key, j), f"{name!r} is neither an enrolment field nor a randomization factor")
    if c.assumptions is not None:
        required, allowed = ASSUMPTIONS_BY_OUTCOME[outcome.type]
        given = {k for k, v in c.assumptions.model_dump().items() if v is not None}
        for name in sorted(given - allowed):
            yield _err((*here, "assumptions", name), f"does not apply to a {outcome.type.value} outcome")
        for name in sorted(required - given):
            yield _err((*here, "assumptions", name), f"required for a {outcome.type.value} outcome")
        dist = c.assumptions.control_distribution
        scale = outcome.resolved_scale
        if dist is not None:
            if scale is not None and len(dist) != len(scale.levels):
                yield _err((*here, "assumptions", "control_distribution"),
                           f"needs {len(scale.levels)} probabilities, one per level of {scale.id}")
            if any(x < 0 for x in dist) or not math.isclose(sum(dist), 1.0, abs_tol=1e-6):
                yield _err((*here, "assumptions", "control_distribution"),
                           f"probabilities must be >= 0 and add up to 1 (they add up to {sum(dist):.6g})")


def _looks(looks: Looks, here: Path) -> Found:
    rates = looks.information_rates
    for i, rate in enumerate(rates):
        if not 0 < rate <= 1:
            yield _err((*here, "information_rates", i), "must be in (0, 1]")
        elif i and rate <= rates[i - 1]:
            yield _err((*here, "information_rates", i), f"must be greater than the previous rate {rates[i - 1]}")
    if rates and rates[-1] != 1:
        yield _err((*here, "information_rates", len(rates) - 1), "the last information rate must be 1")
    yield from _spending(looks.efficacy, (*here, "efficacy"))
    if looks.futility is not None:
        yield from _spending(looks.futility, (*here, "futility"))
        if looks.futility.spending in (SpendingFamily.OF_CONSTANT, SpendingFamily.POCOCK_CONSTANT):
            yield _err((*here, "futility", "spending"), "futility needs a spending function (obf, pocock, hsd, kd)")


def _spending(s: Spending, here: Path) -> Found:
    if s.spending is SpendingFamily.HWANG_SHIH_DECANI and s.gamma is None:
        yield _err((*here, "gamma"), "hsd spending needs gamma (e.g. -4)")
    if s.spending is not SpendingFamily.HWANG_SHIH_DECANI and s.gamma is not None:
        yield _err((*here, "gamma"), "gamma applies to hsd spending only")
    if s.spending is SpendingFamily.KIM_DEMETS and s.rho is None:
        yield _err((*here, "rho"), "kd spending needs rho (e.g. 3)")
    if s.spending is not SpendingFamily.KIM_DEMETS and s.rho is not None:
        yield _err((*here, "rho"), "rho applies to kd spending only")


# --- amendments ----------------------------------------------------------------------------------------


def _amendments(p: Protocol) -> Found:
    current = p
    previous_date = p.trial.effective_date
    parts_ever = {r.id for r in p.further_randomizations}
    for i, amendment in enumerate(p.amendments):
        here: Path = ("amendments", i)
        if amendment.effective_date <= previous_date:
            yield _err((*here, "effective_date"),
                       f"must be after the previous version's date {previous_date.isoformat()}")
        previous_date = max(previous_date, amendment.effective_date)
        before = current
        current, problems = apply_amendment_checked(current, amendment)
        for path, message in problems:
            yield _err((*here, *path), message)
        for j, change in enumerate(amendment.changes):
            form = before.form(change.form) if isinstance(change, AddField) else None
            if isinstance(change, AddField) and change.form == ENROLMENT_FORM:
                yield from _field_problems(change.field, (*here, "changes", j, "field"),
                                           [*before.enrolment.fields, change.field])
            elif isinstance(change, AddField) and form is not None:
                where: Path = (*here, "changes", j, "field")
                yield from _field_problems(change.field, where, [*form.fields, change.field])
                if change.field.asked_if is not None:
                    yield from _condition_problems(change.field, form.fields, (*where, "asked_if"))
            elif isinstance(change, ChangeField | DropField):
                yield from _field_change_problems(p, current, change, (*here, "changes", j))
            elif isinstance(change, AddPart):
                where = (*here, "changes", j, "part")
                if change.part.id in parts_ever and change.part.id not in {r.id for r in before.further_randomizations}:
                    yield _err((*where, "id"), f"further randomization {change.part.id!r} was closed before: give a "
                               "new part a new id (its allocations keep the old one)")
                if not current.is_controlled:
                    yield _err(where, "a single-arm trial has no main randomization to follow")
                yield from _part_problems(current, change.part, where)
                parts_ever.add(change.part.id)
        for problem in (*_arm_set_problems(current, here), *_site_problems(current, here),
                        *_allocation_problems(current, here)):
            yield Problem(problem.path, f"after amendment {amendment.version}: {problem.message}", problem.severity)
