"""Encrypted backups (SEC-1: encryption at rest of what leaves the server).

A backup holds everything, password hashes and allocation secrets included, and is the file most likely to be
copied off the server (to a sponsor's archive, an offsite disk). ``equipoise backup create --encrypt`` seals it
with AES-256-GCM (NIST SP 800-38D) under a key derived from a passphrase with scrypt (RFC 7914; N = 2^15, r = 8,
p = 1, a fresh 16-byte salt per file). The file is:

    EQUIPOISE-BACKUP-AES256GCM\\n
    {"kdf": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "<base64>", "nonce": "<base64>"}\\n
    <ciphertext of the backup zip><16-byte GCM tag>

The header line is authenticated too (GCM associated data), so changing the salt, the parameters or any byte of
the ciphertext makes decryption fail, as does a wrong passphrase: nothing is restored from a file that does not
authenticate. Reading decrypts into an owner-only temporary file that is removed afterwards.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from equipoise.errors import UserError

MAGIC = b"EQUIPOISE-BACKUP-AES256GCM\n"
PASSPHRASE_ENV = "EQUIPOISE_BACKUP_PASSPHRASE"
MIN_PASSPHRASE = 12
TAG = 16
CHUNK = 1 << 20
SCRYPT = {"n": 1 << 15, "r": 8, "p": 1}


def is_encrypted(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _key(passphrase: str, salt: bytes, params: dict[str, Any]) -> bytes:
    return Scrypt(salt=salt, length=32, n=int(params["n"]), r=int(params["r"]), p=int(params["p"])).derive(
        passphrase.encode())


def encrypt_file(plain: Path, out: BinaryIO, passphrase: str) -> None:
    """Write ``plain`` encrypted to the open file ``out``."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise UserError(f"the backup passphrase needs at least {MIN_PASSPHRASE} characters")
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    header = (json.dumps({"kdf": "scrypt", **SCRYPT, "salt": base64.b64encode(salt).decode(),
                          "nonce": base64.b64encode(nonce).decode()}, sort_keys=True) + "\n").encode()
    encryptor = Cipher(algorithms.AES(_key(passphrase, salt, SCRYPT)), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(MAGIC + header)
    out.write(MAGIC + header)
    with plain.open("rb") as source:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            out.write(encryptor.update(chunk))
    out.write(encryptor.finalize())
    out.write(encryptor.tag)


@contextmanager
def decrypted(path: Path, passphrase: str | None) -> Iterator[Path]:
    """The backup zip inside the encrypted file ``path``, in an owner-only temporary file for the duration."""
    if not passphrase:
        raise UserError(f"{path} is encrypted: give its passphrase (${PASSPHRASE_ENV}, or type it when asked)")
    size = path.stat().st_size
    with path.open("rb") as handle, tempfile.TemporaryDirectory(prefix="equipoise-restore-") as scratch:
        handle.read(len(MAGIC))
        header = handle.readline()
        try:
            params = json.loads(header)
            salt, nonce = base64.b64decode(params["salt"]), base64.b64decode(params["nonce"])
            if params.get("kdf") != "scrypt":
                raise ValueError(f"key derivation {params.get('kdf')!r}")
        except (ValueError, KeyError, TypeError) as error:
            raise UserError(f"{path}: the encryption header cannot be read ({error})") from None
        start = len(MAGIC) + len(header)
        if size - start < TAG:
            raise UserError(f"{path} is truncated: it has no authentication tag")
        handle.seek(size - TAG)
        tag = handle.read(TAG)
        handle.seek(start)
        decryptor = Cipher(algorithms.AES(_key(passphrase, salt, params)), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(MAGIC + header)
        target = Path(scratch) / "backup.zip"
        with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            left = size - TAG - start
            while left > 0:
                chunk = handle.read(min(CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                out.write(decryptor.update(chunk))
            try:
                out.write(decryptor.finalize())
            except InvalidTag:
                raise UserError(f"{path} does not decrypt: a wrong passphrase, or the file was changed; nothing "
                                "was read from it") from None
        yield target
