"""Typed errors of the real-time API (tRPC's code and the contract's reason)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional


class RealtimeError(Exception):
    """An error the server answered with, or the API being unreachable."""

    def __init__(self, message: str, *, code: Optional[str] = None, reason: Optional[str] = None, status: Optional[int] = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.status = status


class Unauthorized(RealtimeError):
    """The token is missing, invalid or expired (HTTP 401, close code 4001)."""


class Forbidden(RealtimeError):
    """The token does not grant this (publishing without the ``service`` role, someone else's chat, ...)."""


class RateLimited(RealtimeError):
    """Too many calls: wait and try again (``retry_after`` seconds when the server said)."""

    def __init__(self, message: str, *, retry_after: Optional[float] = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InvalidInput(RealtimeError):
    """The input does not match the contract; ``issues`` names each field (``path``, ``message``)."""

    def __init__(self, message: str, *, issues: Optional[List[Dict[str, Any]]] = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.issues: List[Dict[str, Any]] = list(issues or [])


class Conflict(RealtimeError):
    """An ``idempotency_key`` reused, within the server's IDEMPOTENCY_TTL_SECONDS, for another payload (HTTP 409)."""


class Unavailable(RealtimeError):
    """The server could not be reached, or answered with a server error."""


_BY_CODE = {
    "UNAUTHORIZED": Unauthorized,
    "FORBIDDEN": Forbidden,
    "TOO_MANY_REQUESTS": RateLimited,
    "BAD_REQUEST": InvalidInput,
    "PARSE_ERROR": InvalidInput,
    "PAYLOAD_TOO_LARGE": InvalidInput,
    "CONFLICT": Conflict,
}


def error_from(code: Optional[str], reason: Optional[str], message: str, *, status: Optional[int] = None,
               issues: Optional[List[Dict[str, Any]]] = None, retry_after: Optional[float] = None) -> RealtimeError:
    """The typed exception of a tRPC error code."""
    cls = _BY_CODE.get(code or "", Unavailable if status is None or status >= 500 else RealtimeError)
    if cls is InvalidInput:
        return InvalidInput(message, issues=issues, code=code, reason=reason, status=status)
    if cls is RateLimited:
        return RateLimited(message, retry_after=retry_after, code=code, reason=reason, status=status)
    return cls(message, code=code, reason=reason, status=status)
