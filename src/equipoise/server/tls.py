"""HTTPS served by Equipoise itself (SEC-1, encryption in transit), for a server that has no TLS proxy in front.

The certificate and its key are PEM files (a CA-issued certificate, or one from the hospital's own CA). They are
checked before the server starts: a missing file, a key that does not match the certificate, or a certificate
past its end date stops ``equipoise serve`` with the reason, instead of a server that fails every handshake.
Only TLS 1.2 and later are accepted (NIST SP 800-52 Rev. 2, §3.1). While TLS is on, every response carries
``Strict-Transport-Security`` (RFC 6797), so browsers never fall back to plain HTTP.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from equipoise.errors import UserError

TLS_CERT_ENV, TLS_KEY_ENV = "EQUIPOISE_TLS_CERT", "EQUIPOISE_TLS_KEY"
HSTS = "max-age=31536000"  # one year (RFC 6797 §6.1.1); no includeSubDomains: the hospital's other hosts are not ours


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    expires: dt.datetime


def tls_files(cert: Path | None, key: Path | None, now: dt.datetime | None = None) -> TlsFiles | None:
    """The checked certificate and key (options, else $EQUIPOISE_TLS_CERT and $EQUIPOISE_TLS_KEY), or None for
    plain HTTP."""
    cert = cert or (Path(os.environ[TLS_CERT_ENV]) if os.environ.get(TLS_CERT_ENV) else None)
    key = key or (Path(os.environ[TLS_KEY_ENV]) if os.environ.get(TLS_KEY_ENV) else None)
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise UserError("HTTPS needs both --tls-cert and --tls-key (or $EQUIPOISE_TLS_CERT and $EQUIPOISE_TLS_KEY)")
    for what, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not path.is_file():
            raise UserError(f"{what} {path}: no such file")
    from cryptography import x509

    try:
        certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    except (ValueError, OSError) as exc:
        raise UserError(f"--tls-cert {cert}: not a PEM certificate ({exc})") from None
    expires = certificate.not_valid_after_utc
    if expires <= (now or dt.datetime.now(dt.UTC)):
        raise UserError(f"--tls-cert {cert}: the certificate expired on {expires:%Y-%m-%d %H:%M} UTC")
    try:
        server_context().load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise UserError(f"--tls-key {key}: it does not match the certificate {cert}, or it is not a PEM private "
                        f"key without a passphrase ({exc.reason or exc})") from None
    return TlsFiles(cert, key, expires)


def server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def tls_context(_config: object, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """uvicorn's context for the certificate, refusing TLS 1.0 and 1.1 (uvicorn's ``ssl_context_factory``)."""
    context = default()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class StrictTransportSecurity:
    """ASGI middleware: every HTTP response says to use HTTPS only (RFC 6797)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"strict-transport-security", HSTS.encode())]
            await send(message)

        await self.app(scope, receive, send_with_header)
