"""Bearer-token authentication for REST routes, the one admin role check, and the step-up
gate.

While a login session is in step-up (its risk stepped it up; it clears with POST
/api/auth/step-up) the sensitive routes answer 403 ``step_up_required``: every admin route
(``admin_required``), changing one's password and terminating a session other than one's
own (``sensitive``, or ``require_step_up_cleared`` where only some requests of a route are
sensitive). Reading one's own data and signing out still work. The gate reads the session
row authentication has just loaded: no query, no cache of its own.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from app.errors import Forbidden, Unauthorized
from app.services.audit.refusals import record_forbidden
from app.services.auth_service import Principal, authenticate
from app.services.user_service import require_admin

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A bearer access token is required.", code="missing_token")
    return token.strip()


# Refusals whose service records them itself (a wrong current password is a failed try).
_AUDITED_BY_THE_SERVICE = frozenset({"invalid_credentials", "step_up_failed"})


def login_required(view: F) -> F:
    """The request's principal from its bearer token; a signed-in user's refused action
    (Forbidden) is audited here, in one place for every route."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.principal = authenticate(bearer_token())
        try:
            return view(*args, **kwargs)
        except Forbidden as refused:
            if refused.code not in _AUDITED_BY_THE_SERVICE:
                record_forbidden(
                    g.principal.user.id,
                    client_ip(),
                    method=request.method,
                    endpoint=request.endpoint,
                    code=refused.code,
                )
            raise

    wrapper.login_required = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def admin_required(view: F) -> F:
    @login_required
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_admin(current_principal().user)
        require_step_up_cleared()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def sensitive(view: F) -> F:
    """A signed-in route that a session in step-up may not use."""

    @login_required
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_step_up_cleared()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def require_step_up_cleared() -> None:
    if current_principal().session.needs_step_up:
        raise Forbidden(
            "Confirm your password first (POST /api/auth/step-up).", code="step_up_required"
        )


def current_principal() -> Principal:
    return g.principal


def client_ip() -> str:
    """The client's address, or "unknown" when it is not an IP address (with ProxyFix the
    address comes from X-Forwarded-For, which a client can fill with anything)."""
    try:
        return str(ipaddress.ip_address(request.remote_addr or ""))
    except ValueError:
        return "unknown"
