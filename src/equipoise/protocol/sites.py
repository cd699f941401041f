"""Recruiting sites."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from equipoise.protocol.base import Identifier, ProtocolModel


class Site(ProtocolModel):
    id: Identifier
    name: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code.")
    timezone: str = Field(description="IANA time zone, e.g. Asia/Shanghai.")
    arms: list[Identifier] | None = Field(
        default=None, description="Arms available at this site; omitted means every arm in force."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/London)") from None
        return value
