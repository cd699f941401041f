"""Single sign-on with OpenID Connect (ACC-4): a hospital's identity provider vouches for the person, Equipoise
keeps the roles.

The authorization code flow with PKCE (OpenID Connect Core 1.0 §3.1; RFC 7636, S256):

1. ``start`` gives the provider's authorization URL and a random *binding* value for a browser cookie. The
   ``state`` parameter is sealed (AES-256-GCM, under a key derived from the client secret, so every server
   process can open it and nobody else can read or forge it): it holds the nonce, the PKCE verifier, a hash of
   the binding and an expiry (10 minutes). No server-side table is needed, and the verifier never leaves the
   server in clear.
2. ``finish`` opens the state, checks the browser's cookie against it (so a login started in one browser cannot
   be completed in another: login CSRF), exchanges the code at the token endpoint (client_secret_basic, with the
   verifier), and validates the ID token: signature from the provider's published keys, issuer, audience,
   expiry, issue time and nonce (Core §3.1.3.7).
3. The person is the active Equipoise user whose username is the token's username claim
   (``preferred_username`` by default). Their first sign-on binds the provider's subject to the account; a later
   sign-on with another subject for the same username is refused (a username reassigned at the provider does not
   inherit an Equipoise account). Roles, sites and the audit trail stay Equipoise's; nobody is created here.

Signing, unblinding and publishing settings still ask for the Equipoise password (21 CFR 11.200): single sign-on
replaces the login, not the re-authentication. Every sign-on and every refusal is audited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from equipoise.errors import NotFoundError, UnauthorizedError
from equipoise.identity.auth import AuthService, LoginResult
from equipoise.store.audit import AuditContext, record_event
from equipoise.store.db import Database
from equipoise.store.models import User

STATE_SECONDS = 600
ALGORITHMS = ["RS256", "PS256", "ES256"]  # asymmetric only: an HS256 token would be signed with our own secret
TIMEOUT = 10


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str  # this server's callback, as registered at the provider
    username_claim: str = "preferred_username"
    scope: str = "openid profile email"

    @classmethod
    def from_env(cls) -> OidcSettings | None:
        issuer = os.environ.get("EQUIPOISE_OIDC_ISSUER", "").rstrip("/")
        if not issuer:
            return None
        env = os.environ.get
        return cls(issuer, env("EQUIPOISE_OIDC_CLIENT_ID", ""), env("EQUIPOISE_OIDC_CLIENT_SECRET", ""),
                   env("EQUIPOISE_OIDC_REDIRECT_URI", ""), env("EQUIPOISE_OIDC_USERNAME_CLAIM", "preferred_username"))

    def missing(self) -> list[str]:
        return [name for name, value in (("EQUIPOISE_OIDC_CLIENT_ID", self.client_id),
                                         ("EQUIPOISE_OIDC_CLIENT_SECRET", self.client_secret),
                                         ("EQUIPOISE_OIDC_REDIRECT_URI", self.redirect_uri)) if not value]


class OidcError(UnauthorizedError):
    """A sign-on that cannot be accepted; the message says why, for the person and the audit trail."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OidcLogin:
    def __init__(self, db: Database, auth: AuthService, settings: OidcSettings | None) -> None:
        self.db = db
        self.auth = auth
        self.settings = settings
        self._metadata: dict[str, Any] | None = None
        self._keys: jwt.PyJWKClient | None = None

    def _configured(self) -> OidcSettings:
        if self.settings is None:
            raise NotFoundError("single sign-on is not configured on this server (EQUIPOISE_OIDC_ISSUER and its "
                                "companions): log in with POST /api/auth/login")
        missing = self.settings.missing()
        if missing:
            raise NotFoundError(f"single sign-on is configured incompletely: set {', '.join(missing)}")
        return self.settings

    def _key(self) -> bytes:
        settings = self._configured()
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                    info=b"equipoise oidc state " + settings.client_id.encode()).derive(settings.client_secret.encode())

    def metadata(self) -> dict[str, Any]:
        """The provider's configuration (OpenID Connect Discovery 1.0 §4), fetched once per process."""
        if self._metadata is None:
            settings = self._configured()
            found = _get_json(f"{settings.issuer}/.well-known/openid-configuration")
            if str(found.get("issuer", "")).rstrip("/") != settings.issuer:
                raise OidcError(f"the identity provider says its issuer is {found.get('issuer')!r}, not "
                                f"{settings.issuer!r} (Discovery §4.3): check EQUIPOISE_OIDC_ISSUER")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not found.get(key):
                    raise OidcError(f"the identity provider's configuration has no {key}")
            self._metadata = found
        return self._metadata

    def start(self) -> tuple[str, str]:
        """The provider's authorization URL, and the value of the browser's binding cookie."""
        settings = self._configured()
        binding, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        sealed = {"n": nonce, "v": verifier, "b": hashlib.sha256(binding.encode()).hexdigest(),
                  "e": int(time.time()) + STATE_SECONDS}
        iv = secrets.token_bytes(12)
        state = _b64(iv + AESGCM(self._key()).encrypt(iv, json.dumps(sealed).encode(), b"state"))
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        query = urllib.parse.urlencode({"response_type": "code", "client_id": settings.client_id,
                                        "redirect_uri": settings.redirect_uri, "scope": settings.scope,
                                        "state": state, "nonce": nonce, "code_challenge": challenge,
                                        "code_challenge_method": "S256"})
        endpoint = str(self.metadata()["authorization_endpoint"])
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", binding

    def finish(self, code: str | None, state: str | None, binding: str | None, source: str | None,
               error: str | None = None) -> LoginResult:
        """Complete a sign-on from the provider's redirect; every refusal is audited with its reason."""
        settings = self._configured()
        try:
            claims = self._claims(settings, code, state, binding, error)
        except OidcError as exc:
            self._refused(None, str(exc), source)
            raise
        username = claims.get(settings.username_claim)
        subject = f"{claims['iss']}|{claims['sub']}"
        result: LoginResult | None = None
        why: str | None = None
        with self.db.write(AuditContext(actor=str(username), source=source)) as s:
            user = s.scalar(select(User).where(User.username == username)) if isinstance(username, str) else None
            if user is None or not user.active:
                why = (f"no active Equipoise user {username!r} (the provider's {settings.username_claim}): an "
                       "administrator adds users and their roles")
            elif user.oidc_subject is not None and user.oidc_subject != subject:
                why = (f"user {username} signed on before as another identity of the provider: ask an administrator "
                       "(a username reassigned at the provider does not inherit an Equipoise account)")
            else:
                if user.oidc_subject is None:
                    user.oidc_subject = subject
                result = self.auth.start_session(s, user, source, {"username": user.username, "method": "oidc",
                                                                   "issuer": claims["iss"]})
        if result is None:
            self._refused(username if isinstance(username, str) else None, why or "refused", source)
            raise OidcError(f"single sign-on refused: {why}")
        return result

    def _claims(self, settings: OidcSettings, code: str | None, state: str | None, binding: str | None,
                error: str | None) -> dict[str, Any]:
        if error:
            raise OidcError(f"the identity provider refused the sign-on: {error}")
        if not code or not state:
            raise OidcError("the identity provider's answer has no code or state: start again at "
                            "/api/auth/oidc/login")
        try:
            raw = _unb64(state)
            sealed = json.loads(AESGCM(self._key()).decrypt(raw[:12], raw[12:], b"state"))
        except Exception:  # any damage to the sealed state means the same thing
            raise OidcError("the sign-on's state is not one this server issued: start again at "
                            "/api/auth/oidc/login") from None
        if int(sealed["e"]) < time.time():
            raise OidcError("the sign-on took more than 10 minutes: start again at /api/auth/oidc/login")
        if not binding or not hmac.compare_digest(hashlib.sha256(binding.encode()).hexdigest(), str(sealed["b"])):
            raise OidcError("this sign-on was started in another browser (its cookie is missing or differs): start "
                            "again at /api/auth/oidc/login")
        metadata = self.metadata()
        tokens = _post_form(str(metadata["token_endpoint"]), {
            "grant_type": "authorization_code", "code": code, "redirect_uri": settings.redirect_uri,
            "code_verifier": sealed["v"]}, (settings.client_id, settings.client_secret))
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("the identity provider's token answer has no ID token")
        if self._keys is None:
            self._keys = jwt.PyJWKClient(str(metadata["jwks_uri"]), timeout=TIMEOUT)
        try:
            key = self._keys.get_signing_key_from_jwt(id_token)
            claims: dict[str, Any] = jwt.decode(
                id_token, key.key, algorithms=ALGORITHMS, audience=settings.client_id, issuer=settings.issuer,
                leeway=60, options={"require": ["iss", "sub", "aud", "exp", "iat", "nonce"]})
        except jwt.PyJWTError as exc:
            raise OidcError(f"the ID token is not valid: {exc}") from None
        if not hmac.compare_digest(str(claims["nonce"]), str(sealed["n"])):
            raise OidcError("the ID token's nonce is not this sign-on's (a replayed token)")
        if "azp" in claims and claims["azp"] != settings.client_id:
            raise OidcError("the ID token was issued to another client (azp)")
        return claims

    def _refused(self, username: str | None, why: str, source: str | None) -> None:
        with self.db.write(AuditContext(actor=username or "unknown", source=source)) as s:
            record_event(s, "login.failed", details={"username": username, "method": "oidc", "why": why})


def _get_json(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            found = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise OidcError(f"the identity provider at {url} did not answer: {exc}") from None
    if not isinstance(found, dict):
        raise OidcError(f"the identity provider's {url} is not a JSON object")
    return found


def _post_form(url: str, form: dict[str, str], client: tuple[str, str]) -> dict[str, Any]:
    basic = base64.b64encode(f"{urllib.parse.quote(client[0])}:{urllib.parse.quote(client[1])}".encode()).decode()
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST", headers={
        "Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        raise OidcError(f"the identity provider refused the code ({exc.code}): {detail}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise OidcError(f"the identity provider's token endpoint did not answer: {exc}") from None
    if not isinstance(answer, dict):
        raise OidcError("the identity provider's token answer is not a JSON object")
    return answer
