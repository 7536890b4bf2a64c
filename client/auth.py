"""How requests authenticate: SigV4 for ``execute-api`` (the API's default), an API key, or nothing.

A signer takes the request about to be sent and returns it with its authentication headers. It runs
for every attempt, so a retried request carries a fresh ``X-Amz-Date`` and, with refreshable
credentials (SSO, assumed roles), current keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from client.transport import HttpRequest

AuthMode = Literal["iam", "api-key", "none"]
Signer = Callable[[HttpRequest], HttpRequest]

SERVICE: Final = "execute-api"
# <api-id>.execute-api.<region>.amazonaws.com[.cn], also the private-API form
# <api-id>-<vpce-id>.execute-api.<region>.vpce.amazonaws.com.
_EXECUTE_API_HOST: Final = re.compile(
    r"[^.]+\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?"
)


class CredentialsError(Exception):
    """No usable AWS credentials; the message says how to provide them."""


def region_from_url(url: str) -> str | None:
    """The region in an ``execute-api`` host name, or None for any other host (e.g. a custom domain)."""
    host = urlsplit(url).hostname or ""
    match = _EXECUTE_API_HOST.fullmatch(host)
    return match.group(1) if match else None


def host_header(url: str) -> str:
    """The Host header for ``url`` exactly as SigV4 signs it: lower-case, default port omitted."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return host if parts.port is None or parts.port == default else f"{host}:{parts.port}"


def no_auth(request: HttpRequest) -> HttpRequest:
    return request


def api_key_signer(api_key: str) -> Signer:
    def sign(request: HttpRequest) -> HttpRequest:
        return replace(request, headers={**request.headers, "x-api-key": api_key})

    return sign


def load_credentials(session_factory: Callable[[], Any] | None = None) -> Any:
    """AWS credentials from botocore's default chain (env, profile, SSO, container, instance)."""
    from botocore.exceptions import BotoCoreError
    from botocore.session import Session

    try:
        credentials = (session_factory or Session)().get_credentials()
    except BotoCoreError as error:  # e.g. a named profile that does not exist, an expired SSO token
        raise CredentialsError(f"cannot load AWS credentials: {error}") from None
    if credentials is None:
        raise CredentialsError(
            "no AWS credentials found for --auth iam: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY (or run aws sso login / aws configure)"
        )
    return credentials


class SigV4Signer:
    """Signs with botocore's ``SigV4Auth`` for ``execute-api`` in ``region``.

    The body is part of the signature (SigV4 hashes the payload), as are Host, Content-Type and the
    other headers present when signing; ``http.client`` must not change them afterwards, so the Host
    header is set explicitly.
    """

    def __init__(self, credentials: Any, region: str) -> None:
        self._credentials = credentials
        self.region = region

    def __call__(self, request: HttpRequest) -> HttpRequest:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.exceptions import BotoCoreError

        headers = {**request.headers, "Host": host_header(request.url)}
        aws_request = AWSRequest(method=request.method, url=request.url, data=request.body, headers=headers)
        try:
            frozen = self._credentials.get_frozen_credentials()
        except BotoCoreError as error:  # refreshable credentials that can no longer be refreshed
            raise CredentialsError(f"cannot refresh AWS credentials: {error}") from None
        SigV4Auth(frozen, SERVICE, self.region).add_auth(aws_request)
        return replace(request, headers={str(k): str(v) for k, v in aws_request.headers.items()})
