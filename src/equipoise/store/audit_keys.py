"""The server's secret keys: HMAC-SHA256 keys that sign the audit trail and session tokens, kept outside the database.

The audit chain's SHA-256 hashes show that entries were not changed one by one, but anyone who can write the
database can recompute them. Each entry therefore also carries an HMAC-SHA256 of its hash under a key the
database does not hold, and the key's id; a session token is stored only as an HMAC under the same key. Someone
who can write the database but not read the key file can then neither forge, change, remove or reorder entries
nor mint a working token (issue 14; the threat model is in docs/operations.md).

HMAC rather than an Ed25519 signature: whoever verifies the trail is the server's operator, who holds the key
anyway, and one HMAC per entry costs about a microsecond against tens for a signature. A public-key signature
would only add a verifier who may check but not sign; the key file can be given to an auditor as it is.

The key file (``$EQUIPOISE_AUDIT_KEY_FILE``, else ``audit-keys`` in the data directory) holds one key a line,
``KEY_ID HEX_SECRET``, oldest first; the last key signs, every key verifies (rotation appends a line). It is
created with mode 0600 the first time Equipoise writes, and refused when others may read or write it.

References:
    Krawczyk, Bellare, Canetti (1997). HMAC: Keyed-Hashing for Message Authentication. RFC 2104.
    Schneier, Kelsey (1999). Secure audit logs to support computer forensics. ACM TISSEC 2(2):159-176.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from equipoise.errors import UserError

KEY_FILE_ENV = "EQUIPOISE_AUDIT_KEY_FILE"
KEY_FILE_NAME = "audit-keys"
_HEADER = ("# Equipoise audit and session keys. Keep this file secret and apart from the database and its backups;\n"
           "# keep every line: entries signed with an old key verify with it. The last key signs. Never edit by hand:\n"
           "# rotate with `equipoise audit rotate-key`.\n")
# Domain separation: an entry's MAC can never serve as a head's or a token's.
_ENTRY, _HEAD, _TOKEN = b"equipoise-audit-entry\n", b"equipoise-audit-head\n", b"equipoise-session-token\n"


@dataclass(frozen=True)
class AuditKeys:
    """The keys of one key file: ``keys`` in the file's order, the last one signs."""

    path: Path
    keys: tuple[tuple[str, bytes], ...]

    @property
    def current_id(self) -> str:
        return self.keys[-1][0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(key_id for key_id, _ in self.keys)

    def _secret(self, key_id: str) -> bytes | None:
        return next((secret for kid, secret in self.keys if kid == key_id), None)

    def entry_mac(self, entry_hash: str, key_id: str | None = None) -> str:
        """The MAC of an audit entry: over its chain hash (which covers its content and the previous hash)."""
        return self._mac(_ENTRY, key_id or self.current_id, entry_hash)

    def head_mac(self, last_id: int, last_hash: str, key_id: str | None = None) -> str:
        """The MAC of the chain's head: removing entries from the end and moving the head back needs a new one."""
        return self._mac(_HEAD, key_id or self.current_id, f"{last_id}\n{last_hash}")

    def token_hash(self, token: str, key_id: str | None = None) -> str:
        """What ``auth_sessions`` stores for a token: its HMAC, which a database writer cannot compute."""
        return self._mac(_TOKEN, key_id or self.current_id, token)

    def token_hashes(self, token: str) -> list[str]:
        """The token's hash under every key (a session made before a rotation still works)."""
        return [self.token_hash(token, key_id) for key_id in self.ids]

    def knows(self, key_id: str) -> bool:
        return self._secret(key_id) is not None

    def _mac(self, domain: bytes, key_id: str, message: str) -> str:
        secret = self._secret(key_id)
        if secret is None:
            raise KeyError(key_id)
        return hmac.new(secret, domain + key_id.encode() + b"\n" + message.encode(), hashlib.sha256).hexdigest()


def key_file_path() -> Path:
    """``$EQUIPOISE_AUDIT_KEY_FILE``, else ``audit-keys`` in the data directory."""
    configured = os.environ.get(KEY_FILE_ENV)
    if configured:
        return Path(configured)
    return _data_directory() / KEY_FILE_NAME


def _data_directory() -> Path:
    # The same rule as equipoise.store.db.data_directory (db imports this module, so it cannot be imported here).
    configured = os.environ.get("EQUIPOISE_DATA_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "equipoise"


def load_keys(path: Path) -> AuditKeys | None:
    """The keys in ``path``; None when there is no such file. A file others may read, or a bad line, is refused."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(info.st_mode):
        raise UserError(f"{path}: the audit key file is a directory")
    if os.name == "posix" and info.st_mode & 0o077:
        raise UserError(f"{path}: the audit key file may be read or written by others "
                        f"(mode {stat.S_IMODE(info.st_mode):o}): chmod 600 it")
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the audit key file: {exc}") from None
    return AuditKeys(path, tuple(_parse(path, text.splitlines())))


def _parse(path: Path, lines: Iterable[str]) -> list[tuple[str, bytes]]:
    keys: list[tuple[str, bytes]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        try:
            key_id, secret = parts[0], bytes.fromhex(parts[1]) if len(parts) == 2 else b""
        except ValueError:
            secret = b""
        if len(secret) < 32 or len(key_id) > 32 or any(key_id == k for k, _ in keys):
            raise UserError(f"{path}, line {number}: not a key (expected KEY_ID and 64 hex digits, ids unique)")
        keys.append((key_id, secret))
    if not keys:
        raise UserError(f"{path}: the audit key file holds no key")
    return keys


def _new_line() -> str:
    key_id = f"{dt.datetime.now(dt.UTC):%Y%m%d}-{secrets.token_hex(4)}"
    return f"{key_id} {secrets.token_hex(32)}\n"


def _write_new(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 in one step: another process sees no file or the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.replace(temporary, path)  # rotation: the new file replaces the old one whole
        else:
            os.link(temporary, path)  # creation: fails if another process created it meanwhile
    finally:
        temporary.unlink(missing_ok=True)


_creating = threading.Lock()


def keys_for_writing(path: Path) -> AuditKeys:
    """The keys in ``path``, creating the file with one new key when there is none (the first write)."""
    with _creating:
        keys = load_keys(path)
        if keys is not None:
            return keys
        try:
            _write_new(path, _HEADER + _new_line())
        except FileExistsError:
            pass  # another process created it first: use its key
        except OSError as exc:
            raise UserError(f"{path}: cannot create the audit key file: {exc}") from None
        created = load_keys(path)
        assert created is not None
        return created


def rotate_key(path: Path) -> AuditKeys:
    """Append a new key, which signs from now on (server processes read the file when they start)."""
    keys = load_keys(path)
    if keys is None:
        raise UserError(f"{path}: no audit key file to rotate (set {KEY_FILE_ENV} to the server's key file)")
    text = path.read_text(encoding="ascii")
    if not text.endswith("\n"):
        text += "\n"
    _write_new(path, text + _new_line())
    rotated = load_keys(path)
    assert rotated is not None
    return rotated
