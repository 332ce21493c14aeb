"""The lean PutObject (crawler/archive/store/s3_put.py), judged by the server itself.

It must store what the client's PutObject would (body, metadata, lock, legal hold,
checksum checked), and fail as the client would: botocore's ClientError with the
server's code, so the store's settling and messages see no difference.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from crawler.archive.remote import connect_store
from crawler.archive.store.location import parse_archive
from crawler.archive.store.s3_client import S3Bridge, S3Settings
from crawler.errors import UsageError
from tests.s3.conftest import Bucket

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def bridge(bucket: Bucket) -> Iterator[S3Bridge]:
    b = S3Bridge(S3Settings(bucket.server.endpoint), bucket.url())
    try:
        yield b
    finally:
        b.close()


def _args(bucket: Bucket, body: bytes, **extra: Any) -> dict[str, Any]:
    md5, sha = hashlib.md5(body).digest(), hashlib.sha256(body).digest()
    return dict(
        Bucket=bucket.name, Key=f"arc/blobs/{md5.hex()[:2]}/{md5.hex()}", Body=body,
        ContentMD5=base64.b64encode(md5).decode(), ChecksumSHA256=base64.b64encode(sha).decode(),
        IfNoneMatch="*", Metadata={"sha256": sha.hex(), "kind": "file"}, **extra,
    )  # fmt: skip


def _put(bridge: S3Bridge, **args: Any) -> Any:
    return bridge.run(bridge.put_object(**args))


def test_stores_what_the_client_would(bucket: Bucket, bridge: S3Bridge) -> None:
    body = secrets.token_bytes(3000)
    until = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
    args = _args(
        bucket, body, ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until,
        ObjectLockLegalHoldStatus="ON",
    )  # fmt: skip
    answer = _put(bridge, **args)
    assert answer["ETag"].strip('"') == hashlib.md5(body).hexdigest()
    got = bucket.client.get_object(Bucket=bucket.name, Key=args["Key"])
    assert got["Body"].read() == body
    assert got["Metadata"] == {"sha256": hashlib.sha256(body).hexdigest(), "kind": "file"}
    assert got["ObjectLockMode"] == "GOVERNANCE"
    assert got["ObjectLockRetainUntilDate"] == until
    hold = bucket.client.get_object_legal_hold(Bucket=bucket.name, Key=args["Key"])
    assert hold["LegalHold"]["Status"] == "ON"


def test_a_second_put_is_refused_as_the_client_would_be(bucket: Bucket, bridge: S3Bridge) -> None:
    args = _args(bucket, b"once")
    _put(bridge, **args)
    with pytest.raises(ClientError) as caught:
        _put(bridge, **_args(bucket, b"once"))
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
    versions = bucket.client.list_object_versions(Bucket=bucket.name, Prefix=args["Key"])
    assert len(versions["Versions"]) == 1


@pytest.mark.parametrize("field", ["ContentMD5", "ChecksumSHA256"])
def test_a_body_that_is_not_its_digest_is_refused(
    bucket: Bucket, bridge: S3Bridge, field: str
) -> None:
    args = _args(bucket, b"the body")
    args[field] = _args(bucket, b"another body")[field]
    with pytest.raises(ClientError) as caught:
        _put(bridge, **args)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert bucket.keys("arc/") == []


def test_wrong_credentials_are_the_clients_message(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    bridge = S3Bridge(S3Settings(bucket.server.endpoint), bucket.url())
    try:
        with pytest.raises(ClientError) as caught:
            _put(bridge, **_args(bucket, b"x"))
        error = bridge.fail(caught.value, "PUT")
        assert isinstance(error, UsageError) and "refused the credentials" in str(error)
        assert "not-the-secret" not in str(error)
    finally:
        bridge.close()


def test_a_parameter_it_does_not_send_is_an_error(bucket: Bucket, bridge: S3Bridge) -> None:
    with pytest.raises(TypeError, match="ContentType"):
        _put(bridge, **_args(bucket, b"x", ContentType="text/plain"))


async def test_put_once_async_inside_and_outside_uploading(bucket: Bucket) -> None:
    store = connect_store(parse_archive(bucket.url()))  # type: ignore[arg-type]
    try:
        bodies = [secrets.token_bytes(100) for _ in range(3)]
        refs = [(hashlib.md5(b).hexdigest(), hashlib.sha256(b).hexdigest()) for b in bodies]
        keys = [f"blobs/{md5[:2]}/{md5}" for md5, _ in refs]
        put = [
            functools.partial(store.put_once_async, key, body, md5=md5, sha256=sha, size=100)
            for key, body, (md5, sha) in zip(keys, bodies, refs, strict=True)
        ]
        async with store.uploading():
            near = store._near[asyncio.get_running_loop()]
            assert await put[0]() and await put[1]()
            assert not await put[1]()  # exists: deduplicated, not written again
        assert store._near == {} and near._session.closed
        assert await put[2]()  # outside: through the bridge's loop
        for key, body in zip(keys, bodies, strict=True):
            assert store.get(key) == body
    finally:
        store.close()
