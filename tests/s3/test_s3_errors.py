"""Bad input on an S3 archive: a clear message and exit 2, nothing written, no credential shown."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from crawler.cli import main
from tests.conftest import SMALL_SPEC
from tests.s3.conftest import Bucket
from tests.s3.server import free_ports
from tests.support import TEST_KEY_ENV, threaded_simulator

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "s3:/bucket", "s3://Bad_Bucket/x"])
def test_an_s3_url_without_a_valid_bucket(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--archive", url]) == 2
    err = capsys.readouterr().err
    assert "bucket" in err.lower() or "s3://BUCKET" in err


@pytest.mark.parametrize("retain", ["7 weeks", "0d", "-5s", "forever", ""])
def test_a_retention_that_cannot_be_parsed(
    retain: str, bucket: Bucket, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["archive", "--archive", bucket.url(), "--object-lock", "compliance"]
    assert main([*args, f"--retain={retain}", "--base-url", "http://127.0.0.1:9"]) == 2
    assert "retain" in capsys.readouterr().err
    assert bucket.keys() == []


def test_an_unreachable_endpoint_is_said_in_seconds(
    bucket: Bucket, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = free_ports(1)[0]
    started = time.monotonic()
    code = main(
        ["status", "--archive", bucket.url(), "--s3-endpoint", f"http://127.0.0.1:{closed}"]
    )
    assert code == 2
    assert time.monotonic() - started < 15
    assert "cannot reach the S3 endpoint" in capsys.readouterr().err


def test_wrong_credentials(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-0123456789")
    assert main(["status", "--archive", bucket.url()]) == 2
    err = capsys.readouterr().err
    assert "refused the credentials" in err
    assert "not-the-secret-0123456789" not in err


def test_a_missing_bucket(bucket: Bucket, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--archive", "s3://no-such-bucket-here/x"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_lock_on_a_bucket_without_object_lock_is_refused_before_any_write(
    plain_bucket: Bucket, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_simulator(SMALL_SPEC) as ts:
        monkeypatch.setenv(TEST_KEY_ENV, ts.sim.key)
        args = ["archive", "--archive", plain_bucket.url(), "--base-url", ts.sim.base_url]
        assert main([*args, "--object-lock", "governance", "--retain", "1d", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "has no Object Lock" in err and "--object-lock-enabled-for-bucket" in err
    assert plain_bucket.keys() == []  # nothing at all was written


def test_a_lock_on_a_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["archive", "--archive", str(tmp_path / "a"), "--object-lock", "compliance"]
    assert main([*args, "--retain", "1d", "--base-url", "http://127.0.0.1:9"]) == 2
    assert "bucket" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
