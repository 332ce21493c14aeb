"""An S3-compatible bucket as an :class:`~crawler.archive.store.base.ObjectStore`.

Write once, prove it (docs/ARCHIVE.md, "Stores"): every object goes up with
``If-None-Match: *`` (a 412 means it exists: nothing is ever overwritten), a
``Content-MD5`` and the sha256 (``x-amz-checksum-sha256``, checked by the server,
and kept as metadata so a HEAD proves what is stored). Bodies above
``MULTIPART_BYTES`` go up in parts read one at a time from the local file (memory
stays flat; :mod:`~crawler.archive.store.s3_multipart`). A write whose outcome is
unknown is settled by a HEAD, never by a blind second write. With a lock policy
every object carries its lock headers. Writes and their settling run as coroutines
on the bridge's loop: the crawl awaits them from its own loop
(:meth:`S3Store.put_once_async`), readers block on them (:meth:`S3Store.put_once`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from crawler.archive.store.base import LockPolicy, ObjectInfo, ObjectMissingError, Source
from crawler.archive.store.s3_client import (
    BodyReader,
    S3Bridge,
    error_code,
    http_status,
    is_transient,
)
from crawler.archive.store.s3_copies import LocalCopies
from crawler.archive.store.s3_lease import S3Lease
from crawler.archive.store.s3_multipart import MULTIPART_BYTES, PART_BYTES, put_multipart
from crawler.archive.store.s3_put import LeanPut
from crawler.archive.store.s3_untils import UntilCache
from crawler.errors import ArchiveBusyError, ArchiveError

__all__ = ["MULTIPART_BYTES", "PART_BYTES", "S3Store"]

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def _b64(hexdigest: str) -> str:
    return base64.b64encode(bytes.fromhex(hexdigest)).decode()


def _meta(sha256: str, kind: str) -> dict[str, str]:
    return {"sha256": sha256, "kind": kind or "object"}


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
        self.local = local
        self.copies = LocalCopies(local)
        self._until = untils or UntilCache(None)  # key -> retain-until known (written or read)
        # Uploads run side by side in these threads (more than the default pool's few).
        self.executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="s3-put")
        self.lease: S3Lease | None = None  # set while this process is the writer
        self._near: dict[asyncio.AbstractEventLoop, LeanPut] = {}  # see uploading()
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

    def lock_args(self, hold: bool = False) -> dict[str, Any]:
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
        self._check_lease()
        if isinstance(source, Path) and size > MULTIPART_BYTES:
            return put_multipart(self, key, source, sha256, size, _meta(sha256, kind), hold)
        return self.bridge.run(self._put_single(key, source, md5, sha256, size, kind, lock, hold))

    async def put_once_async(
        self,
        key: str,
        source: Source,
        *,
        md5: str,
        sha256: str,
        size: int,
        kind: str = "",
        hold: bool = False,
    ) -> bool:
        """:meth:`put_once` awaited from an event loop: inside :meth:`uploading`, sent
        from that loop itself; otherwise handed to the bridge's (no thread either way)."""
        if isinstance(source, Path) and size > MULTIPART_BYTES:
            put = functools.partial(
                self.put_once, key, source, md5=md5, sha256=sha256, size=size, kind=kind,
                hold=hold,
            )  # fmt: skip
            return await asyncio.get_running_loop().run_in_executor(self.executor, put)
        self._check_lease()
        near = self._near.get(asyncio.get_running_loop())
        single = self._put_single(key, source, md5, sha256, size, kind, True, hold, near)
        return await single if near is not None else await self.bridge.submit(single)

    @contextlib.asynccontextmanager
    async def uploading(self) -> AsyncIterator[None]:
        """Connections of the running loop's own for :meth:`put_once_async` (a crawl's
        thousands of small PUTs: each hop between threads costs more than the PUT)."""
        loop = asyncio.get_running_loop()
        near = self._near[loop] = self.bridge.lean_put()
        try:
            yield
        finally:
            del self._near[loop]
            await near.close()

    def _check_lease(self) -> None:
        if self.lease is not None and self.lease.lost:
            raise ArchiveBusyError(self.lease.lost)  # taken over: write nothing more

    async def _put_single(
        self,
        key: str,
        source: Source,
        md5: str,
        sha256: str,
        size: int,
        kind: str,
        lock: bool,
        hold: bool,
        near: LeanPut | None = None,
    ) -> bool:
        """On the bridge's loop, or (``near``) on the loop of :meth:`uploading`, whose
        rare HEAD is still the bridge's client."""
        body = source if isinstance(source, bytes) else source.read_bytes()
        lock_args = self.lock_args(hold) if lock else {}
        args = dict(
            Bucket=self.bucket, Key=self.full(key), Body=body, ContentMD5=_b64(md5),
            ChecksumSHA256=_b64(sha256), IfNoneMatch="*", Metadata=_meta(sha256, kind),
            **lock_args,
        )  # fmt: skip
        until = lock_args.get("ObjectLockRetainUntilDate")
        put: Callable[..., Awaitable[Any]] = self.bridge.put_object
        head: Callable[[str], Awaitable[ObjectInfo | None]] = self.ahead
        if near is not None:
            put, head = near.put_object, lambda k: self.bridge.submit(self.ahead(k))
        created = await self.settled_put(key, sha256, size, lambda: put(**args), until, head)
        if created and until is not None:
            self._until.put(key, until)
        if created and isinstance(source, Path):
            self.copies.keep(key, source, size)
        return created

    async def settled_put(
        self,
        key: str,
        sha256: str,
        size: int,
        send: Callable[[], Awaitable[Any]],
        until: datetime | None = None,
        head: Callable[[str], Awaitable[ObjectInfo | None]] | None = None,
    ) -> bool:
        """Send a conditional write; a 412 is 'exists'; an unknown outcome is read back
        (ours only with our bytes and retain-until: an earlier run's blob is 'exists')."""
        look = head or self.ahead
        for n in range(self.bridge.settings.attempts):
            try:
                self.bridge.count("put")
                await send()
                return True
            except Exception as exc:
                if error_code(exc) == "PreconditionFailed" or http_status(exc) == 412:
                    if n == 0 and key.startswith("blobs/"):
                        return False  # a blob with this name is this body: deduplicated
                    # Maybe our own write: after an unknown outcome, or resent by aiohttp
                    # itself (an idempotent method, once, on a dropped keep-alive socket).
                    return self._ours(await look(key), sha256, size, until)
                if not is_transient(exc):
                    raise self.bridge.fail(exc, f"PUT {self.where(key)}") from exc
            # Did it land? Read, never write blindly: ours if the stored sha256 is ours.
            info = await look(key)
            if info is not None:
                return self._ours(info, sha256, size, until)
            await self.bridge.backoff(n)
        raise ArchiveError(f"PUT {self.where(key)}: still failing after retries; rerun later")

    @staticmethod
    def _ours(info: ObjectInfo | None, sha256: str, size: int, until: datetime | None) -> bool:
        if info is None or info.sha256 != sha256 or info.size != size:
            return False
        return until is None or (info.retain_until is not None and info.retain_until >= until)

    def replace(self, key: str, source: Source) -> None:
        raise ArchiveError(
            f"{self.where(key)} exists and the bucket is write-once: it cannot be replaced"
        )

    # -- reading -----------------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo | None:
        return self.bridge.run(self.ahead(key))

    async def ahead(self, key: str) -> ObjectInfo | None:
        """:meth:`head` on the bridge's loop."""
        try:
            r = await self.bridge.acall("head_object", Bucket=self.bucket, Key=self.full(key))
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
        if (copy := self.copies.read(key)) is not None:
            return copy
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
        return io.BufferedReader(BodyReader(self.bridge, r["Body"], self.where(key)), 1 << 20)

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
