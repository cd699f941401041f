"""Ordinal scales, with the WHO clinical progression scale built in."""

from __future__ import annotations

from pydantic import Field

from equipoise.protocol.base import Identifier, ProtocolModel


class ScaleLevel(ProtocolModel):
    value: int
    label: str = Field(min_length=1)


class OrdinalScale(ProtocolModel):
    """An ordered set of integer levels with labels, lowest value first."""

    id: Identifier
    name: str
    levels: list[ScaleLevel] = Field(min_length=2)

    @property
    def values(self) -> list[int]:
        return [level.value for level in self.levels]

    def label(self, value: int) -> str:
        for level in self.levels:
            if level.value == value:
                return level.label
        raise KeyError(value)


WHO_CLINICAL_PROGRESSION_SCALE = OrdinalScale(
    # WHO Working Group on the Clinical Characterisation and Management of COVID-19 infection.
    # A minimal common outcome measure set for COVID-19 clinical research. Lancet Infect Dis 2020;20:e192-7.
    id="who-cps",
    name="WHO clinical progression scale",
    levels=[
        ScaleLevel(value=0, label="Uninfected; no viral RNA detected"),
        ScaleLevel(value=1, label="Ambulatory: asymptomatic; viral RNA detected"),
        ScaleLevel(value=2, label="Ambulatory: symptomatic; independent"),
        ScaleLevel(value=3, label="Ambulatory: symptomatic; assistance needed"),
        ScaleLevel(value=4, label="Hospitalised, moderate: no oxygen therapy"),
        ScaleLevel(value=5, label="Hospitalised, moderate: oxygen by mask or nasal prongs"),
        ScaleLevel(value=6, label="Hospitalised, severe: oxygen by non-invasive ventilation or high flow"),
        ScaleLevel(value=7, label="Hospitalised, severe: mechanical ventilation, pO2/FiO2 >= 150 or SpO2/FiO2 >= 200"),
        ScaleLevel(value=8, label="Hospitalised, severe: mechanical ventilation, pO2/FiO2 < 150 or vasopressors"),
        ScaleLevel(
            value=9,
            label="Hospitalised, severe: mechanical ventilation, pO2/FiO2 < 150 and vasopressors, dialysis or ECMO",
        ),
        ScaleLevel(value=10, label="Dead"),
    ],
)

BUILTIN_SCALES: dict[str, OrdinalScale] = {WHO_CLINICAL_PROGRESSION_SCALE.id: WHO_CLINICAL_PROGRESSION_SCALE}


def resolve_scale(scale: str | OrdinalScale) -> OrdinalScale | None:
    """A scale given inline, or the built-in one of that name (None if there is none)."""
    if isinstance(scale, OrdinalScale):
        return scale
    return BUILTIN_SCALES.get(scale)
