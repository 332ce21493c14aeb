"""PutObject without botocore's request pipeline: the one request a crawl sends by thousands.

A crawl into a bucket is mostly small PutObjects (about seven per project). Through
the aiobotocore client each costs about 0.9 ms of the crawler's CPU on loopback
(parameter validation, a dozen event hooks, endpoint rules, serialisation, parsing),
three times the request itself, and that CPU is taken from the crawl
(bench/README.md, "12. The vault"). This sends the same PutObject the client would:
the client's own endpoint, region and credential chain, path-style URL, signed
with SigV4 (:mod:`~crawler.archive.store.s3_sigv4`; the payload hash is the sha256
the caller already computed), from the running loop. Any answer but a 2xx
becomes botocore's ``ClientError``, so retries, settling and messages stay where
they are (``s3_client``, ``s3``). Every other call goes through the client.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import aiohttp
from botocore.exceptions import ClientError, NoCredentialsError

from crawler.archive.store.s3_sigv4 import sign

__all__ = ["LeanPut"]

# PutObject's parameters as the client names them -> their headers (all this store sends).
_HEADERS = {
    "ContentMD5": "Content-MD5",
    "ChecksumSHA256": "x-amz-checksum-sha256",
    "IfNoneMatch": "If-None-Match",
    "ObjectLockMode": "x-amz-object-lock-mode",
    "ObjectLockLegalHoldStatus": "x-amz-object-lock-legal-hold",
}


class LeanPut:
    """PutObject over its own aiohttp session; made and used on the bridge's loop."""

    def __init__(self, client: Any, credentials: Any, *, pool: int, timeout: aiohttp.ClientTimeout):
        self._endpoint = str(client.meta.endpoint_url).rstrip("/")
        self._region = client.meta.region_name or "us-east-1"
        self._credentials = credentials  # botocore's chain, as the client resolved it
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=pool), timeout=timeout, auto_decompress=False
        )

    async def put_object(self, *, Bucket: str, Key: str, Body: bytes, **params: Any) -> Any:
        """PutObject, named and called as the client's (``Bucket``, ``Key``, ``Body``, ...)."""
        url = f"{self._endpoint}/{Bucket}/{quote(Key, safe='/~')}"
        headers = _headers(params)
        sha256 = base64.b64decode(params["ChecksumSHA256"]).hex()
        await self._sign(url, headers, sha256)
        async with self._session.put(url, data=Body, headers=headers) as response:
            body = await response.read()
            if 200 <= response.status < 300:
                return {
                    "ETag": response.headers.get("ETag"),
                    "VersionId": response.headers.get("x-amz-version-id"),
                }
        raise _client_error(response.status, body)

    async def _sign(self, url: str, headers: dict[str, str], sha256: str) -> None:
        if self._credentials is None:
            raise NoCredentialsError()
        frozen = await self._credentials.get_frozen_credentials()  # refreshed when due
        sign("PUT", url, headers, sha256, frozen, self._region)

    async def close(self) -> None:
        await self._session.close()


def _headers(params: dict[str, Any]) -> dict[str, str]:
    headers = {"Content-Type": "binary/octet-stream"}  # what botocore sends for bytes
    for name, value in params.items():
        if name == "Metadata":
            headers.update({f"x-amz-meta-{k}": v for k, v in value.items()})
        elif name == "ObjectLockRetainUntilDate":
            headers["x-amz-object-lock-retain-until-date"] = _iso(value)
        elif name in _HEADERS:
            headers[_HEADERS[name]] = str(value)
        else:
            raise TypeError(f"PutObject parameter {name} is not sent by this store")
    return headers


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _client_error(status: int, body: bytes) -> ClientError:
    """The error botocore would raise: the XML's Code and Message, and the status."""
    code, message = str(status), ""
    try:
        root = ElementTree.fromstring(body) if body else None
    except ElementTree.ParseError:
        root = None
    if root is not None:
        code = root.findtext("Code") or code
        message = root.findtext("Message") or ""
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PutObject")
