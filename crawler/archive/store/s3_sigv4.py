"""AWS Signature Version 4 for one S3 request whose payload hash is already known.

botocore's signer builds its canonical request through ``email.message`` headers
and costs about 110 us per request; this is the same algorithm (AWS's "Create a
signed AWS API request", S3 flavour: the path is not normalised, the payload hash
is the body's sha256) in a few dozen lines, about 15 us. tests/s3/test_s3_sigv4.py
checks it against botocore's signer header for header, and the server checks it on
every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

__all__ = ["sign"]

_ALGORITHM = "AWS4-HMAC-SHA256"
_SPACES = re.compile(r"\s+")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def sign(
    method: str,
    url: str,
    headers: dict[str, str],
    payload_sha256: str,
    credentials: Any,
    region: str,
    now: datetime | None = None,
) -> None:
    """Add ``x-amz-date``, ``x-amz-content-sha256`` (and the session token) and
    ``Authorization`` to ``headers``; every header given is signed, with the host."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers["x-amz-date"] = stamp
    headers["x-amz-content-sha256"] = payload_sha256
    if credentials.token:
        headers["X-Amz-Security-Token"] = credentials.token
    parts = urlsplit(url)
    signed = {k.lower(): _SPACES.sub(" ", v.strip()) for k, v in headers.items()}
    signed["host"] = _host(parts.scheme, parts.hostname or "", parts.port)
    names = sorted(signed)
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            parts.query,
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = f"{_ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _signing_key(credentials.secret_key, day, region)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"{_ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )


def _host(scheme: str, hostname: str, port: int | None) -> str:
    if ":" in hostname:  # an IPv6 literal
        hostname = f"[{hostname}]"
    if port is None or _DEFAULT_PORTS.get(scheme) == port:
        return hostname
    return f"{hostname}:{port}"


@lru_cache(maxsize=8)
def _signing_key(secret: str, day: str, region: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
