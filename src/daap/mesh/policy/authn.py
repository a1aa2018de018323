"""Authentication at every port: a bearer token in, the :class:`Caller` every query carries out.

Each server gets one :class:`Authenticator` (``daap up`` builds it once and hands
it to REST, GraphQL, the registry API, Flight SQL and the PostgreSQL wire port).
When it is not ``required`` every request is the local, unrestricted caller, as
when the mesh has no principals; when it is, a request without a valid token is
refused before anything runs, with the reason :meth:`Identities.authenticate`
gives (no credentials, malformed, unknown or wrong, expired, revoked).

HTTP and Flight send the token the same way, as the header
``Authorization: Bearer daap_<id>_<secret>``; PostgreSQL clients send it as the
password of their principal (SCRAM-SHA-256, see :meth:`Authenticator.scram_verifiers`).
Nothing is cached: a token revoked with ``daap token revoke`` is refused on the
next request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from daap.errors import AuthenticationError
from daap.mesh.policy.identity import TOKEN_PREFIX, Identities, scram_verifiers
from daap.mesh.workspace import Workspace
from daap.spec.mesh import ANONYMOUS, PrincipalSpec

#: the HTTP (and gRPC) header a token travels in: ``Authorization: Bearer <token>``
HEADER = "authorization"
SCHEME = "Bearer"


@dataclass(frozen=True)
class Caller:
    """Who asks. Policies (row filters, masks) key on it; ``fingerprint`` names its policy.

    ``fingerprint`` changes whenever anything a policy may read changes (the
    principal's name, kind, roles, domain, purposes, attributes), so results
    cached for one caller are never served to a caller a policy treats
    differently. ``principal`` is None for the local caller (authentication off).
    """

    name: str = "local"
    fingerprint: str = "unrestricted"
    principal: PrincipalSpec | None = field(default=None, compare=False)

    @property
    def authenticated(self) -> bool:
        return self.principal is not None


#: every request when authentication is off: today's unrestricted local caller
LOCAL = Caller()
#: a request without credentials, when authentication is on: it may discover and read only the
#: products whose policies grant every principal (public read); anything else asks for a token
ANONYMOUS_PRINCIPAL = PrincipalSpec(ANONYMOUS, "anonymous", source="none")
ANONYMOUS_CALLER = Caller(ANONYMOUS, "anonymous", ANONYMOUS_PRINCIPAL)


def is_anonymous(caller: Caller) -> bool:
    return caller.principal is not None and caller.principal.kind == "anonymous"


def no_credentials() -> AuthenticationError:
    """The refusal of a request that needs a token and has none."""
    return AuthenticationError(
        "no credentials: send the header `Authorization: Bearer <token>`",
        hint="create a token with `daap token create PRINCIPAL`",
    )


def fingerprint(principal: PrincipalSpec) -> str:
    """A digest of what policies may read of ``principal``; equal principals, equal fingerprints."""
    facts = {
        "name": principal.name,
        "kind": principal.kind,
        "roles": sorted(principal.roles),
        "domain": principal.domain,
        "purposes": sorted(principal.purposes),
        "attributes": dict(sorted(principal.attributes.items())),
    }
    canonical = json.dumps(facts, sort_keys=True, separators=(",", ":"))
    return "principal:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def caller_of(principal: PrincipalSpec) -> Caller:
    """The caller a principal's requests carry."""
    return Caller(principal.name, fingerprint(principal), principal)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value; None when there is none.

    The scheme is case-insensitive (RFC 7235). The header's value is never
    echoed in an error: it may be a secret sent the wrong way.

    Raises:
        AuthenticationError: another scheme (``Basic ...``), or a bare token without ``Bearer``.
    """
    if authorization is None or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() == SCHEME.lower():
        return token.strip() or None
    if scheme.startswith(TOKEN_PREFIX):
        raise AuthenticationError(
            "the Authorization header holds a bare token: write `Bearer ` before it",
            hint="send `Authorization: Bearer <token>`",
        )
    raise AuthenticationError(
        "the Authorization header must use the Bearer scheme", hint="send `Authorization: Bearer <token>`"
    )


def challenge(token_sent: bool) -> str:
    """The ``WWW-Authenticate`` value of a 401 (RFC 6750 §3): ``invalid_token`` once a token was sent."""
    return f'{SCHEME} realm="daap", error="invalid_token"' if token_sent else f'{SCHEME} realm="daap"'


class Authenticator:
    """Turns the credentials of a request into its :class:`Caller`; safe to share between threads.

    Args:
        identities: the workspace's principals and tokens; may be None only when not ``required``.
        required: refuse requests without a valid token. When False, every request is
            :data:`LOCAL`, whatever it sends.
    """

    def __init__(self, identities: Identities | None = None, *, required: bool = False) -> None:
        if required and identities is None:
            raise ValueError("a required Authenticator needs the workspace's identities")
        self.identities = identities
        self.required = required

    @classmethod
    def for_workspace(cls, ws: Workspace, required: bool | None = None) -> Authenticator:
        """The workspace's authenticator: required when it has at least one principal
        (``mesh.yaml`` or ``daap principal add``), unless ``required`` says otherwise."""
        identities = Identities(ws)
        if required is None:
            required = bool(identities.principals())
        return cls(identities, required=required)

    def authenticate(self, token: str | None) -> Caller:
        """The caller ``token`` stands for; :data:`LOCAL` when authentication is off.

        Raises:
            AuthenticationError: authentication is required and the token is missing, malformed,
                unknown or wrong, expired, revoked, or its principal is gone.
        """
        if not self.required:
            return LOCAL
        assert self.identities is not None
        if not token:
            raise no_credentials()
        return caller_of(self.identities.authenticate(token))

    def authenticate_header(self, authorization: str | None, *, anonymous: bool = False) -> Caller:
        """The caller of a request whose ``Authorization`` header is ``authorization``.

        Args:
            anonymous: a request without any credentials is :data:`ANONYMOUS_CALLER` (for ports
                that serve public products) instead of refused.

        Raises:
            AuthenticationError: as :meth:`authenticate`, or the header is not ``Bearer <token>``.
        """
        if not self.required:
            return LOCAL
        if anonymous and (authorization is None or not authorization.strip()):
            return ANONYMOUS_CALLER
        return self.authenticate(bearer_token(authorization))

    def principal_caller(self, name: str) -> Caller:
        """The caller of a principal already authenticated by name (a PostgreSQL login);
        :data:`LOCAL` when authentication is off.

        Raises:
            AuthenticationError: authentication is required and there is no such principal.
        """
        if not self.required:
            return LOCAL
        assert self.identities is not None
        principal = self.identities.principal(name)
        if principal is None:
            raise AuthenticationError(f"no principal {name!r}")
        return caller_of(principal)

    def scram_verifiers(self, user: str) -> list[tuple[bytes, int, bytes, bytes]]:
        """(salt, iterations, StoredKey, ServerKey) of each live token of principal ``user``: the
        passwords a PostgreSQL client may log in with (user = principal, password = token)."""
        if self.identities is None:
            return []
        return scram_verifiers(self.identities, user)

    def describe(self) -> str:
        """One line for a startup message: which mode is on."""
        if not self.required:
            return "authentication: off (every request is the local, unrestricted caller)"
        assert self.identities is not None
        count = len(self.identities.principals())
        who = f"{count} principal{'' if count == 1 else 's'}"
        return (
            f"authentication: required ({who}): every port asks for a token; /healthz and /metrics are open"
        )


__all__ = [
    "ANONYMOUS_CALLER",
    "ANONYMOUS_PRINCIPAL",
    "HEADER",
    "LOCAL",
    "Authenticator",
    "Caller",
    "bearer_token",
    "caller_of",
    "challenge",
    "fingerprint",
    "is_anonymous",
    "no_credentials",
]
