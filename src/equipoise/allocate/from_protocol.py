"""From the protocol in force and a patient's enrolment values to a scheme and an allocation request."""

from __future__ import annotations

from collections.abc import Mapping

from equipoise.allocate.adaptive import ResponseAdaptiveScheme
from equipoise.allocate.errors import AllocationError
from equipoise.allocate.minimization import MinimizationScheme
from equipoise.allocate.permuted_blocks import PermutedBlocksScheme
from equipoise.allocate.randomization_list import ListEntries, RandomizationListScheme
from equipoise.allocate.request import AllocationRequest, ArmWeight
from equipoise.allocate.scheme import Scheme
from equipoise.allocate.simple import SimpleScheme
from equipoise.protocol.arms import Arm
from equipoise.protocol.fields import FieldType
from equipoise.protocol.model import Protocol
from equipoise.protocol.randomization import SITE_FIELD, Randomization, RandomizationMethod


def _randomization(protocol: Protocol) -> Randomization:
    if protocol.randomization is None:
        raise AllocationError(f"trial {protocol.trial.id} has no randomization section: there is nothing to allocate")
    return protocol.randomization


def arm_weights(protocol_in_force: Protocol) -> tuple[ArmWeight, ...]:
    return tuple(ArmWeight(a.id, a.allocation) for a in protocol_in_force.arms)


def scheme_from_protocol(protocol_in_force: Protocol, randomization_list: ListEntries | None = None) -> Scheme:
    """The allocation scheme of a protocol already ``.in_force(date)``: its method, settings and arms (and, for
    method ``list``, the trial's uploaded list)."""
    r = _randomization(protocol_in_force)
    arms = arm_weights(protocol_in_force)
    if r.method is RandomizationMethod.LIST:
        return RandomizationListScheme(arms, randomization_list)
    if r.method is RandomizationMethod.SIMPLE:
        return SimpleScheme(arms)
    if r.method is RandomizationMethod.PERMUTED_BLOCKS:
        return PermutedBlocksScheme(arms, r.block_sizes or [])
    if r.method is RandomizationMethod.MINIMIZATION:
        settings = r.minimization
        if settings is None:
            raise AllocationError("minimization needs its settings (weights, probability)")
        # Stratification factors define separate state rows; summing them too would count them twice.
        used = [f for f in r.factors if f.id not in r.stratify_by]
        site_factors = [f.id for f in used if f.field == SITE_FIELD]
        if len(site_factors) > 1:
            raise AllocationError(f"factors {', '.join(site_factors)} all read the site: it would be counted twice")
        # A factor listed without a weight is balanced with weight 1, Pocock & Simon's default.
        weights = {f.id: settings.weights.get(f.id, 1.0) for f in used}
        return MinimizationScheme(arms, weights, settings.probability, settings.imbalance,
                                  settings.ratio_preserving)
    settings_a = r.adaptive
    if settings_a is None:
        raise AllocationError("response-adaptive randomization needs its settings")
    control = protocol_in_force.control_arm
    return ResponseAdaptiveScheme(arms, settings_a.burn_in, settings_a.floor,
                                  control.id if control is not None else None, settings_a.control_share,
                                  settings_a.ceiling)


def patient_factors(
    protocol_in_force: Protocol, enrolment_values: Mapping[str, object], site_id: str
) -> dict[str, str]:
    """Factor id -> level for one patient (numeric fields cut at the factor's cut points; site from ``site_id``)."""
    if protocol_in_force.site(site_id) is None:
        raise AllocationError(f"unknown site {site_id!r}")
    if protocol_in_force.randomization is None:
        return {}
    levels: dict[str, str] = {}
    for factor in protocol_in_force.randomization.factors:
        if factor.field == SITE_FIELD:
            allowed = factor.levels or [s.id for s in protocol_in_force.sites]
            level = factor.level_of(site_id)
        else:
            field = protocol_in_force.enrolment.field(factor.field)
            value = enrolment_values.get(factor.field)
            if value is None or value == "":
                raise AllocationError(f"factor {factor.id!r} needs a value of {factor.field!r}")
            choices = ["no", "yes"] if field is not None and field.type is FieldType.BOOLEAN else (
                field.choice_values if field is not None else None)
            allowed = factor.level_names(choices)
            level = factor.level_of(value)
        if allowed and level not in allowed:
            raise AllocationError(
                f"factor {factor.id!r}: {level!r} is not one of its levels ({', '.join(allowed)})"
            )
        levels[factor.id] = level
    return levels


def stratum_key(protocol_in_force: Protocol, factors: Mapping[str, str]) -> str:
    """The randomization-list key from the ``stratify_by`` levels, e.g. ``severity=mild;age65=under-65``."""
    if protocol_in_force.randomization is None:
        return ""
    parts = []
    for factor_id in protocol_in_force.randomization.stratify_by:
        if factor_id not in factors:
            raise AllocationError(f"stratification factor {factor_id!r} has no level for this patient")
        parts.append(f"{factor_id}={factors[factor_id]}")
    return ";".join(parts)


def all_strata(protocol_in_force: Protocol) -> list[str]:
    """Every stratum key the protocol can give a patient (the product of the ``stratify_by`` factors' levels)."""
    r = _randomization(protocol_in_force)
    keys = [""]
    for factor_id in r.stratify_by:
        factor = r.factor(factor_id)
        if factor is None:
            raise AllocationError(f"stratification factor {factor_id!r} is not defined")
        keys = [f"{key};{factor_id}={level}" if key else f"{factor_id}={level}" for key in keys
                for level in factor_levels(protocol_in_force, factor.id)]
    return keys


def factor_levels(protocol_in_force: Protocol, factor_id: str) -> list[str]:
    """The levels of a factor: its own list, the site ids, the field's choices, or the cut-point ranges."""
    r = _randomization(protocol_in_force)
    factor = r.factor(factor_id)
    if factor is None:
        raise AllocationError(f"no factor {factor_id!r}")
    if factor.field == SITE_FIELD:
        return list(factor.levels or [s.id for s in protocol_in_force.sites])
    field = protocol_in_force.enrolment.field(factor.field)
    choices = ["no", "yes"] if field is not None and field.type is FieldType.BOOLEAN else (
        field.choice_values if field is not None else None)
    return factor.level_names(choices)


def arms_for_patient(protocol_in_force: Protocol, site_id: str, enrolment_values: Mapping[str, object]) -> list[Arm]:
    """Arms this patient may be randomized to: those the site offers, minus those contraindicated.

    An arm is contraindicated when any of its ``excluded_if`` yes/no fields is yes; RECOVERY: "randomisation
    will be between fewer arms". An unanswered contraindication is an error, not a no: allocating a drug to a
    patient nobody asked about is unsafe.
    """
    try:
        offered = protocol_in_force.arms_at_site(site_id)
    except KeyError:
        raise AllocationError(f"unknown site {site_id!r}") from None
    open_arms = []
    for arm in offered:
        contraindicated = False
        for name in arm.excluded_if:
            value = enrolment_values.get(name)
            if not isinstance(value, bool):
                what = "has no answer" if value is None else f"must be yes or no, not {value!r}"
                raise AllocationError(f"contraindication {name!r} of arm {arm.id!r} {what}")
            contraindicated = contraindicated or value
        if not contraindicated:
            open_arms.append(arm)
    return open_arms


def build_request(
    protocol_in_force: Protocol,
    site_id: str,
    enrolment_values: Mapping[str, object],
    adaptive_probabilities: Mapping[str, float] | None = None,
) -> AllocationRequest:
    """The allocation request for one patient: open arms, arms in force, factor levels and stratum."""
    factors = patient_factors(protocol_in_force, enrolment_values, site_id)
    return AllocationRequest(
        arms=tuple(ArmWeight(a.id, a.allocation) for a in arms_for_patient(protocol_in_force, site_id,
                                                                            enrolment_values)),
        all_arms=arm_weights(protocol_in_force),
        factors=factors,
        stratum=stratum_key(protocol_in_force, factors),
        adaptive_probabilities=adaptive_probabilities,
    )
