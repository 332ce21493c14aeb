"""Where an archive's objects live: one interface, a directory or a bucket.

See docs/ARCHIVE.md, "Stores". ``base`` is the interface and key names, ``disk`` the
archive directory; ``s3`` (and its helpers) an S3-compatible bucket under Object Lock.
"""

from crawler.archive.store.base import (
    LOCK_MODES,
    Lease,
    LockPolicy,
    ObjectInfo,
    ObjectMissingError,
    ObjectStore,
    blob_key,
    manifest_key,
)
from crawler.archive.store.disk import DiskStore

__all__ = [
    "LOCK_MODES",
    "DiskStore",
    "Lease",
    "LockPolicy",
    "ObjectInfo",
    "ObjectMissingError",
    "ObjectStore",
    "blob_key",
    "manifest_key",
]
