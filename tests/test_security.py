"""Issue #7, the security pass.

- the key never appears in a log line, an error, a manifest, a record or an
  export: a crawl with a recognisable key, under faults that make it log and
  fail, then every byte written (archive, export, bag, stdout, stderr, log
  records) is searched for it;
- archive directories are 0700 and files 0600, whatever the umask;
- ids from the API never become paths: they are one URL segment, and only
  hex digests name files;
- TLS: plain http only to loopback, verification never turned off;
- an oversized JSON response is refused, not buffered;
- ``--log-format json`` carries no document text.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from crawler import cli
from crawler.api import ClientConfig, ComplianceClient
from crawler.api.urls import segment
from crawler.archive import Archive, BlobRef
from crawler.config import check_base_url
from crawler.errors import ArchiveError, FatalError, RejectedError, UsageError
from crawler.simulator import DatasetSpec, FaultPlan, SimulatorConfig, running_simulator
from crawler.simulator.auth import ALL_SCOPES
from tests.support import crawl

KEY = "sk-ant-api01-SECRETCANARY.Zq9Xv7Wm3Kp2Lr8T.n4Ys6Hd1Fg5Jb0Nc.QQQQ"
SPEC = DatasetSpec(
    seed=41, projects=12, big_document_bytes=20_000, big_file_bytes=200_000, file_size_max=16_384
)
FAST = {"backoff_base": 0.01, "backoff_cap": 0.05}


def _every_file(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_key_never_written_anywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    plan = FaultPlan(seed=3, max_faults_per_url=None)
    plan.set("documents.get", fail_first=1, error_statuses=(500,), should_retry=False)
    plan.set("collaborators", fail_first=1, error_statuses=(429,))
    plan.set("files.content", reset_rate=0.3, bad_content_md5_rate=0.2)
    plan.set("attachments", fail_first=1, error_statuses=(503,))
    archive = tmp_path / "a"
    config = SimulatorConfig(dataset=SPEC, rate=None, faults=plan, keys={KEY: ALL_SCOPES})
    async with running_simulator(config) as sim:
        code = await crawl(
            sim.base_url, KEY, archive, **FAST, max_attempts=3, quiet=False, log_format="json"
        )
        assert code == 1  # failures recorded, with messages and request ids
        plan.clear()
        assert await crawl(sim.base_url, KEY, archive, **FAST, quiet=False) == 0
        # A wrong key: the 401's message must not echo it either.
        with pytest.raises(FatalError) as refused:
            await crawl(sim.base_url, KEY + "x", tmp_path / "b", **FAST)
        assert KEY not in str(refused.value)

    assert cli.main(["export", "--archive", str(archive), "--out", str(tmp_path / "e.ndjson")]) == 0
    assert cli.main(["export", "--archive", str(archive), "--bag", str(tmp_path / "bag")]) == 0
    assert cli.main(["verify", "--archive", str(archive), "--full"]) == 0
    out = capsys.readouterr()

    needle = KEY.encode()
    written = _every_file(tmp_path)
    assert len(written) > 100
    for path in written:
        assert needle not in path.read_bytes(), path
    assert KEY not in out.out and KEY not in out.err
    assert '"event"' in out.err  # the json log was on
    for record in caplog.records:
        assert KEY not in record.getMessage()


async def test_permissions_0700_and_0600(tmp_path: Path) -> None:
    original = os.umask(0o022)  # a permissive umask must not leak into the archive
    try:
        async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None)) as sim:
            assert await crawl(sim.base_url, sim.key, tmp_path / "a", **FAST) == 0
    finally:
        os.umask(original)
    root = tmp_path / "a"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    for path in root.rglob("*"):
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


@pytest.mark.parametrize(
    "hostile",
    ["..", "../../etc/passwd", "a/b", "/abs", "x\\..\\y", "%2e%2e", "a?b#c", "\x00", "é/.."],
)
def test_hostile_ids_stay_one_url_segment(hostile: str) -> None:
    seg = segment(hostile)
    assert "/" not in seg and "?" not in seg and "#" not in seg  # ".." is refused below
    client = ComplianceClient(ClientConfig(base_url="https://api.example.com", api_key="k"))
    path = f"/v1/compliance/apps/projects/{seg}"
    try:
        req = client._request("projects.get", "GET", path, ())
    except RejectedError:
        return  # refused outright (e.g. a bare "..")
    assert req.url.host == "api.example.com"
    assert req.url.raw_path.startswith("/v1/compliance/apps/projects/")
    assert req.url.raw_path.count("/") == 5


def test_the_client_refuses_dot_segments() -> None:
    client = ComplianceClient(ClientConfig(base_url="https://api.example.com", api_key="k"))
    for path in ("/v1/compliance/apps/projects/..", "/v1/compliance/apps/projects/./x"):
        with pytest.raises(RejectedError):
            client._request("projects.get", "GET", path, ())


@pytest.mark.parametrize(
    "md5,sha",
    [("../../../../etc/passwd", "0" * 64), ("0" * 32, "../x"), ("A" * 32, "0" * 64)],
)
def test_only_hex_digests_name_files(tmp_path: Path, md5: str, sha: str) -> None:
    with pytest.raises(ArchiveError):
        BlobRef.from_json({"md5": md5, "sha256": sha, "size": 1})
    with Archive.open_for_writing(tmp_path / "a") as archive, pytest.raises(ArchiveError):
        archive.blobs.path_of(BlobRef(md5, sha, 1))


async def test_hostile_filename_is_not_a_path(tmp_path: Path) -> None:
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None)) as sim:
        for rec in sim.dataset.files.values():
            rec.filename = "../../../../tmp/pwned\x00.sh"
        assert await crawl(sim.base_url, sim.key, tmp_path / "a", **FAST) == 0
    assert (
        cli.main(["export", "--archive", str(tmp_path / "a"), "--bag", str(tmp_path / "bag")]) == 0
    )
    inside = [tmp_path / "a", tmp_path / "bag"]
    for path in _every_file(tmp_path):
        assert any(path.is_relative_to(d) for d in inside), path
        assert "pwned" not in path.name


@pytest.mark.parametrize(
    "url,ok",
    [
        ("https://api.anthropic.com", True),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://[::1]:8080", True),
        ("http://api.anthropic.com", False),
        ("http://10.0.0.5", False),
        ("http://127.0.0.1.evil.example", False),
        ("https://user:pw@api.anthropic.com", False),
        ("ftp://api.anthropic.com", False),
    ],
)
def test_plain_http_only_to_loopback(url: str, ok: bool) -> None:
    if ok:
        assert check_base_url(url)
    else:
        with pytest.raises(UsageError):
            check_base_url(url)


def test_tls_verification_is_never_turned_off() -> None:
    root = Path(__file__).resolve().parent.parent / "crawler"
    for path in root.rglob("*.py"):
        if "simulator" in path.parts:
            continue
        text = path.read_text()
        for switch in ("ssl=False", "verify_ssl", "CERT_NONE", "check_hostname = False"):
            assert switch not in text, (path, switch)


async def test_oversized_json_is_refused_not_buffered(tmp_path: Path) -> None:
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None)) as sim:
        with pytest.raises(FatalError) as err:
            await crawl(sim.base_url, sim.key, tmp_path / "a", **FAST, max_json_bytes=1024)
        assert "exceeds max_json_bytes=1024" in str(err.value)
        assert sim.counters.by_endpoint["projects.list"].get(200) == 1  # refused, not retried
        # With the default bound the same archive completes.
        assert await crawl(sim.base_url, sim.key, tmp_path / "a", **FAST) == 0


async def test_json_log_carries_no_document_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None)) as sim:
        plan = sim.faults
        plan.set("documents.get", fail_first=1, error_statuses=(503,), should_retry=False)
        assert (
            await crawl(
                sim.base_url, sim.key, tmp_path / "a", **FAST, quiet=False, log_format="json"
            )
            == 1
        )
        texts = [d.text for d in sim.dataset.documents.values() if len(d.text) >= 40]
    err = capsys.readouterr().err
    assert '"event"' in err
    for text in texts:
        for start in range(0, len(text) - 32, 997):
            assert text[start : start + 32] not in err
