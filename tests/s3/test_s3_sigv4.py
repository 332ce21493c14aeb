"""Our SigV4 (crawler/archive/store/s3_sigv4.py) against botocore's signer, as the oracle.

The server checks every signature too (tests/s3/test_s3_put.py); this pins the
algorithm's corners the server never shows: a session token, default and other
ports, an escaped key, runs of spaces in a value, the date's day boundary.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from botocore import auth as botocore_auth
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from crawler.archive.store.s3_sigv4 import sign

BODY = b"the body of a blob"
SHA = hashlib.sha256(BODY).hexdigest()
NOW = dt.datetime(2026, 12, 2, 23, 59, 59, tzinfo=dt.UTC)


def _botocore(
    monkeypatch: pytest.MonkeyPatch, url: str, headers: dict[str, str], creds: ReadOnlyCredentials
) -> dict[str, str]:
    monkeypatch.setattr(botocore_auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest("PUT", url, headers=dict(headers), data=BODY)
    S3SigV4Auth(creds, "s3", "eu-west-3").add_auth(request)
    return {k.lower(): v for k, v in request.headers.items()}


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("http://127.0.0.1:8333/bucket/arc/blobs/ab/abcdef", None),
        ("https://s3.eu-west-3.amazonaws.com/bucket/arc/blobs/ab/abcdef", "session/token+="),
        ("https://s3.example.test:443/b/arc/records/x%20y/%C3%A9", None),
        ("http://[::1]:9000/b/arc/snapshots/2026.json", None),
    ],
)
def test_the_same_signature_as_botocore(
    monkeypatch: pytest.MonkeyPatch, url: str, token: str | None
) -> None:
    creds = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    headers = {
        "Content-Type": "binary/octet-stream",
        "Content-MD5": "8J5o1l1lP0W0ZQx3O5w2Yw==",
        "If-None-Match": "*",
        "x-amz-meta-kind": "  two   spaces  ",
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": "2027-12-02T23:59:59Z",
    }
    ours = dict(headers)
    sign("PUT", url, ours, SHA, creds, "eu-west-3", now=NOW)
    theirs = _botocore(monkeypatch, url, headers, creds)
    assert theirs["x-amz-content-sha256"] == SHA  # botocore hashed the body itself
    for name in ("authorization", "x-amz-date", "x-amz-security-token"):
        assert {k.lower(): v for k, v in ours.items()}.get(name) == theirs.get(name), name
