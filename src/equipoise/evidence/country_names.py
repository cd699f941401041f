"""One spelling per country: registries write "Iran (Islamic Republic of)", "Iran, Islamic Republic of", "Iran"."""

from __future__ import annotations

import re
from functools import lru_cache

VARIANTS = {
    "iran islamic republic of": "Iran", "iran": "Iran", "korea republic of": "South Korea",
    "republic of korea": "South Korea", "korea south": "South Korea", "united states of america": "United States",
    "usa": "United States", "us": "United States", "united states": "United States", "uk": "United Kingdom",
    "united kingdom of great britain and northern ireland": "United Kingdom", "russian federation": "Russia",
    "viet nam": "Vietnam", "taiwan province of china": "Taiwan", "turkiye": "Turkey", "türkiye": "Turkey",
    "hong kong sar china": "Hong Kong", "people s republic of china": "China", "p r china": "China",
    "mainland china": "China", "czechia": "Czech Republic",
}


@lru_cache(maxsize=4096)  # a registry spells a few hundred countries over and over
def country_name(name: str) -> str:
    """The common English name for a registry's spelling of a country (unknown spellings are kept as given)."""
    key = re.sub(r"[^a-zà-ÿ]+", " ", name.lower()).strip()
    return VARIANTS.get(key, name.strip())


ISO_ALPHA2 = {
    "AR": "Argentina", "AU": "Australia", "AT": "Austria", "BE": "Belgium", "BR": "Brazil", "CA": "Canada",
    "CH": "Switzerland", "CL": "Chile", "CN": "China", "CO": "Colombia", "CZ": "Czech Republic", "DE": "Germany",
    "DK": "Denmark", "EG": "Egypt", "ES": "Spain", "FI": "Finland", "FR": "France", "GB": "United Kingdom",
    "GR": "Greece", "HK": "Hong Kong", "ID": "Indonesia", "IE": "Ireland", "IL": "Israel", "IN": "India", "IR": "Iran",
    "IT": "Italy", "JO": "Jordan", "JP": "Japan", "KR": "South Korea", "MX": "Mexico", "MY": "Malaysia",
    "NL": "Netherlands", "NO": "Norway", "NZ": "New Zealand", "PK": "Pakistan", "PL": "Poland", "PT": "Portugal",
    "RU": "Russia", "SA": "Saudi Arabia", "SE": "Sweden", "SG": "Singapore", "TH": "Thailand", "TR": "Turkey",
    "TW": "Taiwan", "UA": "Ukraine", "US": "United States", "VN": "Vietnam", "ZA": "South Africa",
}


def country_from_code(code: str) -> str:
    """ISO 3166-1 alpha-2 (the protocol's site countries) -> the name registries write; unknown codes as given."""
    return ISO_ALPHA2.get(code.upper(), code)
