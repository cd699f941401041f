"""One spelling per country: registries write "Iran (Islamic Republic of)", "Iran, Islamic Republic of", "Iran"."""

from __future__ import annotations

import re

VARIANTS = {
    "iran islamic republic of": "Iran", "iran": "Iran", "korea republic of": "South Korea",
    "republic of korea": "South Korea", "korea south": "South Korea", "united states of america": "United States",
    "usa": "United States", "us": "United States", "united states": "United States", "uk": "United Kingdom",
    "united kingdom of great britain and northern ireland": "United Kingdom", "russian federation": "Russia",
    "viet nam": "Vietnam", "taiwan province of china": "Taiwan", "turkiye": "Turkey", "türkiye": "Turkey",
    "hong kong sar china": "Hong Kong", "people s republic of china": "China", "p r china": "China",
    "mainland china": "China", "czechia": "Czech Republic",
}


def country_name(name: str) -> str:
    """The common English name for a registry's spelling of a country (unknown spellings are kept as given)."""
    key = re.sub(r"[^a-zà-ÿ]+", " ", name.lower()).strip()
    return VARIANTS.get(key, name.strip())
