"""Apply an amendment to a protocol, giving the protocol in force after it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from equipoise.protocol.amendments import (
    AddArm,
    AddField,
    AddPart,
    AddSite,
    Amendment,
    ChangeField,
    ClosePart,
    DropArm,
    DropField,
    SetAllocation,
    SetSiteArms,
)
from equipoise.protocol.problems import Path

ENROLMENT_FORM = "enrolment"  # add-field's form for an enrolment field (a case report form may not take this id)

if TYPE_CHECKING:
    from equipoise.protocol.fields import DataField
    from equipoise.protocol.forms import Form
    from equipoise.protocol.model import Protocol
    from equipoise.protocol.sites import Site


def apply_amendment_checked(protocol: Protocol, amendment: Amendment) -> tuple[Protocol, list[tuple[Path, str]]]:
    """The amended protocol and the problems found, each with its path inside the amendment."""
    arms = list(protocol.arms)
    sites = list(protocol.sites)
    forms = list(protocol.forms)
    enrolment = protocol.enrolment
    parts = list(protocol.further_randomizations)
    problems: list[tuple[Path, str]] = []

    def arm_ids() -> set[str]:
        return {a.id for a in arms}

    def site_ids() -> set[str]:
        return {s.id for s in sites}

    for i, change in enumerate(amendment.changes):
        here: Path = ("changes", i)
        if isinstance(change, AddArm):
            if change.arm.id in arm_ids():
                problems.append(((*here, "arm", "id"), f"arm {change.arm.id!r} is already in the trial"))
                continue
            unknown = [s for s in change.sites or [] if s not in site_ids()]
            for s in unknown:
                problems.append(((*here, "sites"), f"unknown site {s!r}"))
            previous = [a.id for a in arms]
            arms.append(change.arm)
            offered = {s.id for s in sites} if change.sites is None else set(change.sites)
            sites = [
                s if s.arms is None and s.id in offered else _with_arm(s, change.arm.id, s.id in offered, previous)
                for s in sites
            ]
        elif isinstance(change, DropArm):
            if change.arm not in arm_ids():
                problems.append(((*here, "arm"), f"arm {change.arm!r} is not in the trial at this date"))
                continue
            if protocol.analysis is not None and protocol.analysis.control_arm == change.arm:
                problems.append(((*here, "arm"), f"arm {change.arm!r} is the control arm and cannot be dropped"))
            arms = [a for a in arms if a.id != change.arm]
            sites = [
                s if s.arms is None else s.model_copy(update={"arms": [a for a in s.arms if a != change.arm]})
                for s in sites
            ]
        elif isinstance(change, SetAllocation):
            for arm_id, weight in change.allocation.items():
                if arm_id not in arm_ids():
                    problems.append(((*here, "allocation", arm_id), f"arm {arm_id!r} is not in the trial at this date"))
                    continue
                arms = [a.model_copy(update={"allocation": weight}) if a.id == arm_id else a for a in arms]
        elif isinstance(change, SetSiteArms):
            if change.site not in site_ids():
                problems.append(((*here, "site"), f"unknown site {change.site!r}"))
                continue
            for j, arm_id in enumerate(change.arms):
                if arm_id not in arm_ids():
                    problems.append(((*here, "arms", j), f"arm {arm_id!r} is not in the trial at this date"))
            sites = [s.model_copy(update={"arms": list(change.arms)}) if s.id == change.site else s for s in sites]
        elif isinstance(change, AddSite):
            if change.site.id in site_ids():
                problems.append(((*here, "site", "id"), f"site {change.site.id!r} already exists"))
                continue
            sites.append(change.site)
        elif isinstance(change, AddPart):
            if any(r.id == change.part.id for r in parts):
                problems.append(((*here, "part", "id"), f"further randomization {change.part.id!r} is open already"))
                continue
            parts.append(change.part)
        elif isinstance(change, ClosePart):
            if all(r.id != change.part for r in parts):
                open_parts = ", ".join(r.id for r in parts) or "none"
                problems.append(((*here, "part"), f"no further randomization {change.part!r} is open at this date "
                                 f"(open: {open_parts})"))
                continue
            parts = [r for r in parts if r.id != change.part]
        elif isinstance(change, AddField) and change.form == ENROLMENT_FORM:
            taken = {f.id for f in enrolment.fields} | {f.id for r in protocol.further_randomizations for f in r.fields}
            if change.field.id in taken:
                problems.append(((*here, "field", "id"), f"the enrolment form (or a further randomization) has a "
                                 f"field {change.field.id!r} already"))
                continue
            if change.field.required:
                problems.append(((*here, "field", "required"), "a field added by an amendment must be optional "
                                 "(required: false): patients enrolled before it have no value"))
            if change.field.asked_if is not None:
                problems.append(((*here, "field", "asked_if"), "skip logic applies to case report forms: every "
                                 "enrolment field is asked"))
            enrolment = enrolment.model_copy(update={"fields": [*enrolment.fields, change.field]})
        elif isinstance(change, AddField):
            form = next((f for f in forms if f.id == change.form), None)
            if form is None:
                problems.append(((*here, "form"), f"unknown form {change.form!r}"))
                continue
            if form.field(change.field.id) is not None:
                problems.append(((*here, "field", "id"), f"form {form.id} has a field {change.field.id!r} already"))
                continue
            if change.field.required:
                problems.append(((*here, "field", "required"), "a field added by an amendment must be optional "
                                 "(required: false): records saved before it have no value"))
            added = form.model_copy(update={"fields": [*form.fields, change.field]})
            forms = [added if f.id == form.id else f for f in forms]
        elif isinstance(change, ChangeField | DropField):
            form = next((f for f in forms if f.id == change.form), None)
            if form is None:
                problems.append(((*here, "form"), f"unknown form {change.form!r}"))
                continue
            spec = form.field(change.field)
            if spec is None:
                problems.append(((*here, "field"), f"form {form.id} has no field {change.field!r} at this date "
                                 f"(fields: {', '.join(f.id for f in form.fields)})"))
                continue
            if isinstance(change, ChangeField):
                if not change.updates:
                    problems.append((here, "a change-field changes at least one of: label, help, range, expected, "
                                     "required, choices"))
                    continue
                fields = [_changed(f, change) if f.id == spec.id else f for f in form.fields]
            else:
                fields = [f for f in form.fields if f.id != spec.id]
                problems += [((*here, "field"), message) for message in _dependents(form, spec.id)]
            forms = [form.model_copy(update={"fields": fields}) if f.id == form.id else f for f in forms]

    trial = protocol.trial.model_copy(
        update={"version": amendment.version, "effective_date": amendment.effective_date}
    )
    amended = protocol.model_copy(update={"trial": trial, "arms": arms, "sites": sites, "forms": forms,
                                          "enrolment": enrolment, "further_randomizations": parts})
    return amended, problems


def with_every_field(protocol: Protocol) -> Protocol:
    """The base protocol with every field its forms had in any version, and every further randomization any
    version opened: what records of any version can hold (exports, the data dictionary, reading and tracing forms,
    the committee's counts). Saving and randomizing check the version in force instead.

    A changed field reads as its latest definition, with every choice it ever had (so older records decode); a
    dropped field stays, optional, where it was."""
    forms = {f.id: f for f in protocol.forms}
    enrolment = protocol.enrolment
    parts = {r.id: r for r in protocol.further_randomizations}
    for amendment in protocol.amendments:
        for change in amendment.changes:
            if isinstance(change, AddPart):
                parts.setdefault(change.part.id, change.part)
                continue
            if isinstance(change, AddField) and change.form == ENROLMENT_FORM:
                if all(f.id != change.field.id for f in enrolment.fields):
                    enrolment = enrolment.model_copy(update={"fields": [*enrolment.fields, change.field]})
                continue
            if not isinstance(change, AddField | ChangeField | DropField) or change.form not in forms:
                continue
            form = forms[change.form]
            if isinstance(change, AddField):
                if form.field(change.field.id) is None:
                    forms[form.id] = form.model_copy(update={"fields": [*form.fields, change.field]})
                continue
            spec = form.field(change.field)
            if spec is None:
                continue
            widest = _changed(spec, change, keep_choices=True) if isinstance(change, ChangeField) else \
                spec.model_copy(update={"required": False})
            forms[form.id] = form.model_copy(update={"fields": [widest if f.id == spec.id else f for f in form.fields]})
    return protocol.model_copy(update={"forms": list(forms.values()), "enrolment": enrolment,
                                       "further_randomizations": list(parts.values())})


def _changed(spec: DataField, change: ChangeField, keep_choices: bool = False) -> DataField:
    """The field after ``change``; with ``keep_choices``, its choices include the ones it had before (the latest
    label of each value wins)."""
    updates = dict(change.updates)
    if keep_choices and "choices" in updates and spec.choices:
        new = {(c if isinstance(c, str) else c.value): c for c in change.choices or []}
        before = [new.pop(c if isinstance(c, str) else c.value, c) for c in spec.choices]
        updates["choices"] = [*before, *new.values()]
    return spec.model_copy(update=updates)


def _dependents(form: Form, field_id: str) -> list[str]:
    """Why a field cannot be dropped: other fields of its form still read it."""
    return [f"field {f.id!r} of form {form.id} reads {field_id!r} ({how}): drop or change it first"
            for f in form.fields if f.id != field_id
            for how in (["asked_if"] if f.asked_if is not None and f.asked_if.field == field_id else [])
            + (["not_before"] if f.not_before == field_id else [])]


def apply_amendment(protocol: Protocol, amendment: Amendment) -> Protocol:
    amended, problems = apply_amendment_checked(protocol, amendment)
    if problems:
        _path, message = problems[0]
        raise ValueError(f"amendment {amendment.version}: {message}")
    return amended


def _with_arm(site: Site, arm_id: str, offered: bool, previous_arms: list[str]) -> Site:
    """A site's arm list after an arm is added that only some sites offer."""
    current = site.arms if site.arms is not None else previous_arms
    new = [*current, arm_id] if offered else list(current)
    return site.model_copy(update={"arms": new})
