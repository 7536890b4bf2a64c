"""The one exception type that becomes an HTTP error response.

Every failure the API reports is an ``ApiError``: an HTTP status, a stable machine-readable ``code``
(the table lives in ``docs/api.md``) and a short message that never carries prompt, completion or
stack-trace text. ``upstream`` names the Bedrock error type (for logs only).
"""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """An error the client sees as ``{"error": {"code", "message", "requestId"}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        upstream: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})
        self.upstream = upstream


class ConfigError(Exception):
    """The function's environment is incomplete or invalid (an operator problem, reported as 500)."""


def validation_error(message: str) -> ApiError:
    """A 400 for a request that is well-formed JSON but breaks the request schema."""
    return ApiError(400, "VALIDATION_ERROR", message)
