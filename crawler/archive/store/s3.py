"""An S3-compatible bucket as an :class:`~crawler.archive.store.base.ObjectStore`.

Write once, prove it (docs/ARCHIVE.md, "Stores"): every object goes up with
``If-None-Match: *`` (a 412 means it exists: nothing is ever overwritten), a
``Content-MD5`` and the sha256 (``x-amz-checksum-sha256``, checked by the server,
and kept as metadata so a HEAD proves what is stored). Bodies above
``MULTIPART_BYTES`` go up in parts read one at a time from the local file (memory
stays flat). A write whose outcome is unknown is settled by a HEAD, never by a
blind second write. With a lock policy every object carries its lock headers.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from crawler.archive.store.base import LockPolicy, ObjectInfo, ObjectMissingError, Source
from crawler.archive.store.s3_body import S3Body
from crawler.archive.store.s3_client import S3Bridge, error_code, http_status, is_transient
from crawler.archive.store.s3_lease import S3Lease
from crawler.archive.store.s3_untils import UntilCache
from crawler.errors import ArchiveBusyError, ArchiveError

__all__ = ["MULTIPART_BYTES", "PART_BYTES", "S3Store"]

MULTIPART_BYTES = 16 * 1024 * 1024
PART_BYTES = 8 * 1024 * 1024
LOCAL_BYTES = 1024 * 1024  # bodies up to this size keep a local copy in the cache
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def _b64(hexdigest: str) -> str:
    return base64.b64encode(bytes.fromhex(hexdigest)).decode()


class S3Store:
    kind = "s3"
    worm = True

    def __init__(
        self,
        bridge: S3Bridge,
        bucket: str,
        prefix: str,
        policy: LockPolicy,
        untils: UntilCache | None = None,
        local: Path | None = None,
    ) -> None:
        self.bridge = bridge
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.policy = policy
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        # Small bodies this machine wrote stay in the cache for reads (the search index
        # built at the crawl's end reads them all); ``stream`` always reads the bucket.
        self.local = local
        self._until = untils or UntilCache(None)  # key -> retain-until known (written or read)
        # Uploads run side by side in these threads (more than the default pool's few).
        self.executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="s3-put")
        self.lease: S3Lease | None = None  # set while this process is the writer
        # Reused objects are extended a little past the run's own date (a tenth of the
        # retention, at most 30 days), so the next snapshots soon after need no request.
        self._margin = timedelta(seconds=min(policy.retain_seconds / 10, 30 * 86400))
        self._run_until: datetime | None = None
        self.extended = 0  # reused objects whose lock this run extended

    # -- names -------------------------------------------------------------------------------

    def full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def where(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.full(key)}"

    def lock_until(self, now: datetime | None = None) -> datetime | None:
        """The retain-until of an object written now (None: no lock asked for)."""
        if not self.policy.active:
            return None
        now = now or datetime.now(UTC)
        # Whole seconds, rounded up: never a moment shorter than asked.
        until = now + timedelta(seconds=self.policy.retain_seconds, microseconds=999_999)
        return until.replace(microsecond=0)

    @property
    def run_until(self) -> datetime:
        """The date a reused object must be locked to: fixed at the first reuse.

        A snapshot is retained until its start + the retention; every reuse comes
        after the snapshot started, so the first one's time + the retention is no
        earlier than that.
        """
        if self._run_until is None:
            self._run_until = self.lock_until() or datetime.now(UTC)
        return self._run_until

    @property
    def keep_until(self) -> datetime:
        return self.run_until + self._margin

    def _lock_args(self, hold: bool = False) -> dict[str, Any]:
        args: dict[str, Any] = {"ObjectLockLegalHoldStatus": "ON"} if hold else {}
        until = self.lock_until()
        if until is not None:
            args.update(ObjectLockMode=self.policy.mode.upper(), ObjectLockRetainUntilDate=until)
        return args

    # -- writing -----------------------------------------------------------------------------

    def put_once(
        self,
        key: str,
        source: Source,
        *,
        md5: str,
        sha256: str,
        size: int,
        kind: str = "",
        lock: bool = True,
        hold: bool = False,
    ) -> bool:
        """See the interface; ``lock=False`` (the lease log): the bucket's default only;
        ``hold``: written under the S3 legal hold (one request, no PutObjectLegalHold)."""
        if self.lease is not None and self.lease.lost:
            raise ArchiveBusyError(self.lease.lost)  # taken over: write nothing more
        meta = {"sha256": sha256, "kind": kind or "object"}
        if isinstance(source, Path) and size > MULTIPART_BYTES:
            return self._put_multipart(key, source, sha256, size, meta, hold)
        body = source if isinstance(source, bytes) else source.read_bytes()
        lock_args = self._lock_args(hold) if lock else {}
        args = dict(
            Bucket=self.bucket, Key=self.full(key), Body=body, ContentMD5=_b64(md5),
            ChecksumSHA256=_b64(sha256), IfNoneMatch="*", Metadata=meta, **lock_args,
        )  # fmt: skip
        until = lock_args.get("ObjectLockRetainUntilDate")
        created = self._settled_put(
            key, sha256, size, lambda: self.bridge.client.put_object(**args), until
        )
        if created and until is not None:
            self._until.put(key, until)
        if created and isinstance(source, Path) and size <= LOCAL_BYTES:
            self._keep_local(key, source)
        return created

    def _keep_local(self, key: str, source: Path) -> None:
        if self.local is None or not key.startswith("blobs/"):
            return
        dest = self.local.joinpath(*key.split("/"))
        with contextlib.suppress(OSError):  # a cache: without it, reads go to the bucket
            dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.replace(source, dest)

    def _settled_put(
        self, key: str, sha256: str, size: int, send: Any, until: datetime | None = None
    ) -> bool:
        """Send a conditional write; a 412 is 'exists'; an unknown outcome is read back
        (ours only with our bytes and retain-until: an earlier run's blob is 'exists')."""
        for n in range(self.bridge.settings.attempts):
            try:
                self.bridge.requests += 1
                self.bridge.by_op["put"] += 1
                self.bridge.run(send())
                return True
            except BaseException as exc:
                if error_code(exc) == "PreconditionFailed" or http_status(exc) == 412:
                    if n == 0 and key.startswith("blobs/"):
                        return False  # a blob with this name is this body: deduplicated
                    # Maybe our own write: after an unknown outcome, or resent by aiohttp
                    # itself (an idempotent method, once, on a dropped keep-alive socket).
                    return self._ours(self.head(key), sha256, size, until)
                if not is_transient(exc):
                    raise self.bridge.fail(exc, f"PUT {self.where(key)}") from exc
            # Did it land? Read, never write blindly: ours if the stored sha256 is ours.
            info = self.head(key)
            if info is not None:
                return self._ours(info, sha256, size, until)
            self.bridge.backoff(n)
        raise ArchiveError(f"PUT {self.where(key)}: still failing after retries; rerun later")

    @staticmethod
    def _ours(info: ObjectInfo | None, sha256: str, size: int, until: datetime | None) -> bool:
        if info is None or info.sha256 != sha256 or info.size != size:
            return False
        return until is None or (info.retain_until is not None and info.retain_until >= until)

    def _put_multipart(
        self, key: str, path: Path, sha256: str, size: int, meta: dict[str, str], hold: bool
    ) -> bool:
        if self.head(key) is not None:
            return False
        full = self.full(key)
        lock_args = self._lock_args(hold)
        started = self.bridge.call(
            "create_multipart_upload", Bucket=self.bucket, Key=full, Metadata=meta, **lock_args
        )
        upload_id = started["UploadId"]
        try:
            parts = self._upload_parts(full, upload_id, path)
            done = {"Parts": parts}
            created = self._settled_put(
                key, sha256, size,
                lambda: self.bridge.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=full, UploadId=upload_id, MultipartUpload=done,
                    IfNoneMatch="*",
                ),
                lock_args.get("ObjectLockRetainUntilDate"),
            )  # fmt: skip
        except BaseException:
            self._abort(full, upload_id)
            raise
        if not created:
            self._abort(full, upload_id)
            return False
        info = self.head(key)  # the whole body's sha256, checked once it is assembled
        if info is None or info.size != size:
            raise ArchiveError(f"{self.where(key)}: multipart upload stored the wrong size")
        return True

    def _upload_parts(self, full: str, upload_id: str, path: Path) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        # One buffer for every part: fresh 8 MiB objects per part would leave the
        # allocator's arenas holding freed ones (a peak that grows with the body).
        buf = bytearray(PART_BYTES)
        with open(path, "rb") as f:
            number = 0
            while n := f.readinto(buf):
                number += 1
                chunk = buf if n == PART_BYTES else buf[:n]
                answer = self.bridge.call(
                    "upload_part", Bucket=self.bucket, Key=full, UploadId=upload_id,
                    PartNumber=number, Body=chunk,
                    ContentMD5=base64.b64encode(hashlib.md5(chunk).digest()).decode(),
                )  # fmt: skip
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        return parts

    def _abort(self, full: str, upload_id: str) -> None:
        # An orphaned upload costs space, not data: never let it hide the real error.
        with contextlib.suppress(Exception):
            self.bridge.call(
                "abort_multipart_upload", Bucket=self.bucket, Key=full, UploadId=upload_id
            )

    def replace(self, key: str, source: Source) -> None:
        raise ArchiveError(
            f"{self.where(key)} exists and the bucket is write-once: it cannot be replaced"
        )

    # -- reading -----------------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo | None:
        try:
            r = self.bridge.call("head_object", Bucket=self.bucket, Key=self.full(key))
        except ArchiveError as exc:
            cause = exc.__cause__
            if cause is not None and (error_code(cause) in _MISSING or http_status(cause) == 404):
                return None
            raise
        until = r.get("ObjectLockRetainUntilDate")
        if until is not None:
            self._until.put(key, until)
        meta = r.get("Metadata") or {}
        if "ContentLength" not in r:
            raise ArchiveError(f"HEAD {self.where(key)} answered without a size")
        return ObjectInfo(
            key=key,
            size=int(r["ContentLength"]),
            sha256=meta.get("sha256"),
            kind=meta.get("kind"),
            lock_mode=(r.get("ObjectLockMode") or "").lower() or None,
            retain_until=until,
            legal_hold=r.get("ObjectLockLegalHoldStatus") == "ON",
            modified=r.get("LastModified"),
        )

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def get(self, key: str) -> bytes:
        if self.local is not None and key.startswith("blobs/"):
            with contextlib.suppress(OSError):
                return self.local.joinpath(*key.split("/")).read_bytes()
        with self.stream(key) as f:
            return f.read()

    def stream(self, key: str) -> BinaryIO:
        try:
            r = self.bridge.call("get_object", Bucket=self.bucket, Key=self.full(key))
        except ArchiveError as exc:
            cause = exc.__cause__
            if cause is not None and (error_code(cause) in _MISSING or http_status(cause) == 404):
                raise ObjectMissingError(f"{self.where(key)} is missing") from None
            raise
        return io.BufferedReader(S3Body(self.bridge, r["Body"], self.where(key)), 1 << 20)

    def list(self, prefix: str) -> Iterator[str]:
        full = self.full(prefix)
        cut = len(self.full(""))
        token: str | None = None
        while True:
            args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": full}
            if token:
                args["ContinuationToken"] = token
            page = self.bridge.call("list_objects_v2", **args)
            for item in page.get("Contents", []):
                yield item["Key"][cut:]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def versions(self, key: str) -> int:
        """How many versions the bucket keeps under ``key`` (write-once: exactly one)."""
        full = self.full(key)
        page = self.bridge.call("list_object_versions", Bucket=self.bucket, Prefix=full)
        found = page.get("Versions", []) + page.get("DeleteMarkers", [])
        return sum(1 for v in found if v["Key"] == full)

    # -- locks -------------------------------------------------------------------------------

    def lock(self, owner: str) -> S3Lease:
        self.lease = S3Lease.acquire(self, owner)
        return self.lease

    def retain(self, key: str, until: datetime) -> bool:
        """Extend the object's lock to ``until``; never shortens (the server would refuse)."""
        if not self.policy.active:
            return False
        known = self.known_until(key)
        if known is not None and known >= until:
            return False
        self.bridge.call(
            "put_object_retention", Bucket=self.bucket, Key=self.full(key),
            Retention={"Mode": self.policy.mode.upper(), "RetainUntilDate": until},
        )  # fmt: skip
        self._until.put(key, until)
        self.extended += 1
        return True

    def known_until(self, key: str) -> datetime | None:
        """The object's retain-until: from the cache, else one HEAD."""
        known = self._until.get(key)
        if known is None:
            info = self.head(key)
            known = info.retain_until if info is not None else None
        return known

    def locked_enough(self, key: str) -> bool:
        """Locked at least until the run's retention already (True without a lock policy)."""
        if not self.policy.active:
            return True
        known = self.known_until(key)
        return known is not None and known >= self.run_until

    def keep(self, key: str) -> bool:
        """Extend a reused object to the run's retention (its start + ``--retain``)."""
        if self.locked_enough(key):  # e.g. written by this very run: no request
            return False
        return self.retain(key, self.keep_until)

    def legal_hold(self, key: str, on: bool) -> None:
        self.bridge.call(
            "put_object_legal_hold", Bucket=self.bucket, Key=self.full(key),
            LegalHold={"Status": "ON" if on else "OFF"},
        )  # fmt: skip

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self._until.close()
        self.bridge.close()
