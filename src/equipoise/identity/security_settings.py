"""Security settings of the server, from the environment (so every server process reads the same)."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class Settings:
    idle_timeout_seconds: int = 30 * 60  # REDCap/Part 11 practice: 30-minute automatic logout
    session_lifetime_seconds: int = 12 * 3600
    max_failed_logins: int = 5
    lockout_seconds: int = 15 * 60
    touch_interval_seconds: int = 30
    # AUD-8: how often a running server verifies the audit trail (0: never; ``equipoise audit verify`` any time)
    verify_interval_seconds: int = 24 * 3600
    # UNB-1: where notifications are POSTed (empty: they stay in the application), the HMAC key, how often
    notify_url: str = ""
    notify_secret: str = ""
    notify_interval_seconds: int = 30

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            idle_timeout_seconds=_int("EQUIPOISE_IDLE_TIMEOUT", cls.idle_timeout_seconds),
            session_lifetime_seconds=_int("EQUIPOISE_SESSION_LIFETIME", cls.session_lifetime_seconds),
            max_failed_logins=_int("EQUIPOISE_MAX_FAILED_LOGINS", cls.max_failed_logins),
            lockout_seconds=_int("EQUIPOISE_LOCKOUT_SECONDS", cls.lockout_seconds),
            touch_interval_seconds=min(_int("EQUIPOISE_TOUCH_INTERVAL", cls.touch_interval_seconds),
                                       _int("EQUIPOISE_IDLE_TIMEOUT", cls.idle_timeout_seconds)),
            verify_interval_seconds=_int("EQUIPOISE_VERIFY_INTERVAL", cls.verify_interval_seconds),
            notify_url=os.environ.get("EQUIPOISE_NOTIFY_URL", ""),
            notify_secret=os.environ.get("EQUIPOISE_NOTIFY_SECRET", ""),
            notify_interval_seconds=_int("EQUIPOISE_NOTIFY_INTERVAL", cls.notify_interval_seconds),
        )
