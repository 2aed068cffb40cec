"""A real token server for the distribution registry's ``auth: token`` (Docker's token spec).

``GET /token?service=…&scope=…`` authenticates the caller by basic auth (or not at all), grants
the intersection of the asked scopes with its policy, and answers a JWT signed RS256 with a key
generated here, whose self-signed certificate travels in the ``x5c`` header and is the
registry's ``rootcertbundle``. Policy: a known user gets every action asked on every repository
and the catalog; an anonymous caller gets ``pull`` on repositories under the public prefixes
and nothing else; a wrong password is a 401.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ISSUER = "starform-test-token-issuer"
SERVICE = "starform-test-registry"
TOKEN_SECONDS = 300


def _key_and_certificate() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


class TokenServer:
    """The token service; ``requests`` counts the token requests it answered (by outcome)."""

    def __init__(self, *, users: Mapping[str, str], public_prefixes: tuple[str, ...] = ("public/",)) -> None:
        self.users = dict(users)
        self.public_prefixes = public_prefixes
        self.key, self.certificate = _key_and_certificate()
        self.requests: list[dict[str, Any]] = []
        self.issued: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def realm(self) -> str:
        """The URL the registry sends clients to."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def write_certificate(self, path: Path) -> Path:
        """Write the signing certificate (the registry's ``rootcertbundle``)."""
        path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        return path

    def _who(self, authorization: str | None) -> tuple[bool, str | None]:
        if not authorization:
            return True, None
        scheme, _, encoded = authorization.partition(" ")
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False, None
        expected = self.users.get(username)
        if scheme.lower() != "basic" or expected is None or not hmac.compare_digest(expected, password):
            return False, None
        return True, username

    def _grant(self, user: str | None, scope: str) -> dict[str, Any] | None:
        kind, _, rest = scope.partition(":")
        name, _, actions_text = rest.rpartition(":")
        actions = [a for a in actions_text.split(",") if a]
        if user is None:
            public = kind == "repository" and name.startswith(self.public_prefixes)
            actions = [a for a in actions if a == "pull"] if public else []
        return {"type": kind, "name": name, "actions": actions} if actions else None

    def issue(self, user: str | None, scopes: list[str], service: str) -> str:
        """A signed token for ``user`` granting what the policy allows of ``scopes``."""
        now = int(dt.datetime.now(dt.UTC).timestamp())
        access = [grant for grant in (self._grant(user, s) for s in scopes) if grant]
        claims = {
            "iss": ISSUER,
            "sub": user or "",
            "aud": service,
            "exp": now + TOKEN_SECONDS,
            "nbf": now - 1,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "access": access,
        }
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        headers = {"typ": "JWT", "x5c": [base64.b64encode(der).decode()]}
        token = jwt.encode(claims, self.key, algorithm="RS256", headers=headers)
        with self._lock:
            self.issued.append(token)
        return token

    def handle(self, path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        """Answer one request: the status and the JSON body."""
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        ok, user = self._who(authorization)
        record = {"user": user, "scopes": query.get("scope", []), "ok": ok}
        with self._lock:
            self.requests.append(record)
        if parts.path != "/token":
            return 404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]}
        if not ok:
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid credentials"}]}
        token = self.issue(user, query.get("scope", []), query.get("service", [SERVICE])[0])
        issued = dt.datetime.now(dt.UTC).isoformat()
        return 200, {"token": token, "access_token": token, "expires_in": TOKEN_SECONDS, "issued_at": issued}

    @contextmanager
    def running(self) -> Iterator[TokenServer]:
        """Serve on a free loopback port for the duration of the block."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = owner.handle(self.path, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=self._server.serve_forever, name="token-server", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=5)
