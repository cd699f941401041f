"""Time-based one-time passwords for two-factor login (ACC-4): RFC 6238 (TOTP) over RFC 4226 (HOTP).

Written here (a dozen lines over ``hmac``) rather than taken from a package: the algorithm is fixed by the RFC
and checked against its Appendix B test vectors; what matters around it (one use per code, lockout, audit)
lives in ``auth``. Secrets are 160 random bits in base32, as authenticator apps expect (otpauth URI).
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
import urllib.parse

STEP = 30  # seconds, RFC 6238 default and what every authenticator app uses
DIGITS = 6


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    padded = secret.upper() + "=" * (-len(secret) % 8)
    return base64.b32decode(padded)


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226 §5.3: HMAC of the 8-byte counter, dynamic truncation, modulo 10^digits."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp(secret: str, unix_time: float, digits: int = DIGITS) -> str:
    return hotp(_key(secret), int(unix_time // STEP), digits)


def matching_step(secret: str, code: str, unix_time: float, after_step: int | None) -> int | None:
    """The time step whose code this is (this step or one either side, for clock drift), if it is later than
    ``after_step`` (a code is good once: a code seen over a shoulder or in a log cannot be replayed)."""
    if not code.isdigit() or len(code) != DIGITS:
        return None
    now = int(unix_time // STEP)
    key = _key(secret)
    for step in (now, now - 1, now + 1):
        if (after_step is None or step > after_step) and hmac.compare_digest(hotp(key, step), code):
            return step
    return None


def otpauth_uri(secret: str, username: str, issuer: str = "Equipoise") -> str:
    """What an authenticator app reads (as a QR code or typed): Key Uri Format of Google Authenticator."""
    label = urllib.parse.quote(f"{issuer}:{username}")
    return f"otpauth://totp/{label}?secret={secret}&issuer={urllib.parse.quote(issuer)}&digits={DIGITS}&period={STEP}"
