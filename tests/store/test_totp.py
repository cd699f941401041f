"""Time-based one-time passwords (ACC-4), checked against the test vectors of RFC 6238 Appendix B."""

from __future__ import annotations

import base64

import pytest

from equipoise.identity.totp import STEP, hotp, matching_step, new_secret, otpauth_uri, totp

# RFC 6238 Appendix B: time (s) -> 8-digit TOTP with SHA-1, SHA-256 and SHA-512 and the RFC's ASCII keys.
VECTORS = [(59, "94287082", "46119246", "90693936"), (1111111109, "07081804", "68084774", "25091201"),
           (1111111111, "14050471", "67062674", "99943326"), (1234567890, "89005924", "91819424", "93441116"),
           (2000000000, "69279037", "90698825", "38618901"), (20000000000, "65353130", "77737706", "47863826")]
KEYS = {"sha1": b"12345678901234567890", "sha256": b"12345678901234567890123456789012",
        "sha512": b"1234567890123456789012345678901234567890123456789012345678901234"}


@pytest.mark.parametrize(("unix_time", "sha1", "sha256", "sha512"), VECTORS)
def test_rfc_6238_appendix_b(unix_time: int, sha1: str, sha256: str, sha512: str):
    counter = unix_time // STEP
    assert hotp(KEYS["sha1"], counter, 8, "sha1") == sha1
    assert hotp(KEYS["sha256"], counter, 8, "sha256") == sha256
    assert hotp(KEYS["sha512"], counter, 8, "sha512") == sha512
    secret = base64.b32encode(KEYS["sha1"]).decode()
    assert totp(secret, unix_time, 8) == sha1


def test_a_code_is_good_in_its_step_and_the_next_ones_only_once():
    secret = new_secret()
    assert len(secret) == 32
    now = 1_700_000_000.0
    code = totp(secret, now)
    step = matching_step(secret, code, now, None)
    assert step == int(now // STEP)
    assert matching_step(secret, code, now + STEP, None) == step  # one step of clock drift
    assert matching_step(secret, code, now + 3 * STEP, None) is None
    assert matching_step(secret, code, now, after_step=step) is None  # used once: never again
    assert matching_step(secret, "12345", now, None) is None
    assert matching_step(secret, "abcdef", now, None) is None
    uri = otpauth_uri(secret, "investigator")
    assert uri.startswith("otpauth://totp/Equipoise%3Ainvestigator?secret=")
    assert "period=30" in uri
