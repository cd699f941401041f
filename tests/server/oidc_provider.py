"""A small OpenID Connect provider for the single sign-on tests: discovery, published keys, an authorization
endpoint that signs the configured person in at once, and a token endpoint that checks the client's secret, the
one-time code, the redirect URI and the PKCE verifier (RFC 7636 S256) before it signs an ID token (RS256).

It is a real provider over real HTTP on 127.0.0.1, as a hospital's (Keycloak, Entra ID) would be seen by
Equipoise; ``mode`` makes it misbehave the ways a forged or misdirected token would.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
import uvicorn
from benchmarks.load_generator import free_port
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import RedirectResponse

CLIENT_ID, CLIENT_SECRET = "equipoise", "client secret of the test provider"


@dataclass
class Provider:
    port: int = field(default_factory=free_port)
    username: str = "coord"  # who signs in at the provider
    subject: str = "subject-0001"
    mode: str = "honest"  # or: other-key, wrong-audience, wrong-nonce, expired, hs256
    key: Any = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    other_key: Any = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                    "response_types_supported": ["code"], "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"]}

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}

        @app.get("/authorize")
        def authorize(response_type: str, client_id: str, redirect_uri: str, state: str, nonce: str,
                      code_challenge: str, code_challenge_method: str, scope: str = "") -> RedirectResponse:
            if (response_type, client_id, code_challenge_method) != ("code", CLIENT_ID, "S256") or \
                    "openid" not in scope.split():
                raise HTTPException(400, "invalid_request")
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"redirect_uri": redirect_uri, "nonce": nonce, "challenge": code_challenge}
            return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", status_code=302)

        @app.post("/token")
        async def token(request: Request, authorization: str = Header()) -> dict[str, Any]:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            grant_type, code, redirect_uri, code_verifier = (form.get(k, "") for k in (
                "grant_type", "code", "redirect_uri", "code_verifier"))
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".replace(" ", "%20").encode()).decode()
            if authorization != f"Basic {expected}":
                raise HTTPException(401, "invalid_client")
            issued = self.codes.pop(code, None)  # one use only
            challenge = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=")
            if grant_type != "authorization_code" or issued is None or issued["redirect_uri"] != redirect_uri or \
                    issued["challenge"] != challenge.decode():
                raise HTTPException(400, "invalid_grant")
            now = int(time.time())
            claims = {"iss": self.issuer, "sub": self.subject, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                      "nonce": issued["nonce"], "preferred_username": self.username}
            key = self.key
            if self.mode == "other-key":
                key = self.other_key
            elif self.mode == "wrong-audience":
                claims["aud"] = "another-application"
            elif self.mode == "wrong-nonce":
                claims["nonce"] = "a nonce of another sign-on"
            elif self.mode == "expired":
                claims.update(iat=now - 3600, exp=now - 1800)
            if self.mode == "hs256":  # signed with the client secret: a forgery anyone holding it could make
                id_token = jwt.encode(claims, CLIENT_SECRET, algorithm="HS256", headers={"kid": "k1"})
            else:
                id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
            return {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "id_token": id_token}

        return app

    @contextmanager
    def running(self) -> Iterator[Provider]:
        server = uvicorn.Server(uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "the test identity provider did not start"
        try:
            yield self
        finally:
            server.should_exit = True
            thread.join(timeout=10)
