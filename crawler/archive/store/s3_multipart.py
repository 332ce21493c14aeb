"""Bodies above ``MULTIPART_BYTES`` go up in parts, read one at a time (flat memory).

Written once like every other object: the completion carries ``If-None-Match: *``
and is settled like a single PUT (:meth:`S3Store.settled_put`); an upload that is
not ours to complete is aborted. The whole body's sha256 is the metadata the HEAD
after completion proves.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from crawler.archive.store.base import ObjectInfo
from crawler.archive.store.s3_client import S3Bridge
from crawler.errors import ArchiveError

__all__ = ["MULTIPART_BYTES", "PART_BYTES", "put_multipart"]

MULTIPART_BYTES = 16 * 1024 * 1024
PART_BYTES = 8 * 1024 * 1024


class Uploader(Protocol):
    """What of :class:`crawler.archive.store.s3.S3Store` an upload uses."""

    bridge: S3Bridge
    bucket: str

    def full(self, key: str) -> str: ...
    def where(self, key: str) -> str: ...
    def head(self, key: str) -> ObjectInfo | None: ...
    def lock_args(self, hold: bool = False) -> dict[str, Any]: ...
    async def settled_put(
        self, key: str, sha256: str, size: int, send: Callable[[], Awaitable[Any]],
        until: datetime | None = None,
    ) -> bool: ...  # fmt: skip


def put_multipart(
    store: Uploader,
    key: str,
    path: Path,
    sha256: str,
    size: int,
    meta: dict[str, str],
    hold: bool = False,
) -> bool:
    if store.head(key) is not None:
        return False
    bridge, full = store.bridge, store.full(key)
    lock_args = store.lock_args(hold)
    started = bridge.call(
        "create_multipart_upload", Bucket=store.bucket, Key=full, Metadata=meta, **lock_args
    )
    upload_id = started["UploadId"]
    try:
        done = {"Parts": _upload_parts(store, full, upload_id, path)}
        created = bridge.run(
            store.settled_put(
                key, sha256, size,
                lambda: bridge.client.complete_multipart_upload(
                    Bucket=store.bucket, Key=full, UploadId=upload_id, MultipartUpload=done,
                    IfNoneMatch="*",
                ),
                lock_args.get("ObjectLockRetainUntilDate"),
            )
        )  # fmt: skip
    except BaseException:
        _abort(store, full, upload_id)
        raise
    if not created:
        _abort(store, full, upload_id)
        return False
    info = store.head(key)  # the whole body's sha256, checked once it is assembled
    if info is None or info.size != size:
        raise ArchiveError(f"{store.where(key)}: multipart upload stored the wrong size")
    return True


def _upload_parts(store: Uploader, full: str, upload_id: str, path: Path) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    # One buffer for every part: fresh 8 MiB objects per part would leave the
    # allocator's arenas holding freed ones (a peak that grows with the body).
    buf = bytearray(PART_BYTES)
    with open(path, "rb") as f:
        number = 0
        while n := f.readinto(buf):
            number += 1
            chunk = buf if n == PART_BYTES else buf[:n]
            answer = store.bridge.call(
                "upload_part", Bucket=store.bucket, Key=full, UploadId=upload_id,
                PartNumber=number, Body=chunk,
                ContentMD5=base64.b64encode(hashlib.md5(chunk).digest()).decode(),
            )  # fmt: skip
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    return parts


def _abort(store: Uploader, full: str, upload_id: str) -> None:
    # An orphaned upload costs space, not data: never let it hide the real error.
    with contextlib.suppress(Exception):
        store.bridge.call(
            "abort_multipart_upload", Bucket=store.bucket, Key=full, UploadId=upload_id
        )
