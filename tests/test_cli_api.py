"""The commands that talk to the API, run as a user would: a subprocess against the simulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crawler.simulator import ALL_SCOPES, DatasetSpec
from crawler.simulator.auth import USER_DATA
from tests.support import TEST_KEY_ENV, threaded_simulator

KEY = "sim-cli-test-key-000"
USER_ONLY_KEY = "sim-cli-user-scope-only"
SPEC = DatasetSpec(seed=9, projects=12, big_document_bytes=10_000, big_file_bytes=50_000)


def crawler(key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, TEST_KEY_ENV: key}
    env.pop("ANTHROPIC_COMPLIANCE_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "crawler", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_orgs_and_users_list_what_the_key_can_see() -> None:
    with threaded_simulator(SPEC, keys={KEY: ALL_SCOPES}) as ts:
        base = ts.sim.base_url
        orgs = crawler(KEY, "orgs", "--base-url", base)
        assert orgs.returncode == 0, orgs.stderr
        expected = ts.call(lambda: ts.sim.dataset.organizations())
        lines = orgs.stdout.strip().splitlines()
        assert [line.split("\t")[0] for line in lines] == [o["uuid"] for o in expected]

        org = expected[0]["uuid"]
        users = crawler(KEY, "users", "--base-url", base, "--org", org)
        assert users.returncode == 0, users.stderr
        truth = ts.call(lambda: ts.sim.dataset.organization_users(org))
        assert [line.split("\t")[1] for line in users.stdout.strip().splitlines()] == [
            u["email"] for u in truth
        ]


def test_a_wrong_key_exits_2_naming_the_problem_without_echoing_the_key(tmp_path: Path) -> None:
    wrong = "sim-wrong-key-must-not-be-echoed"
    with threaded_simulator(SPEC, keys={KEY: ALL_SCOPES}) as ts:
        run = crawler(
            wrong,
            "archive",
            "--base-url",
            ts.sim.base_url,
            "--archive",
            str(tmp_path / "a"),
            "--rate",
            "0",
            "--quiet",
        )
    assert run.returncode == 2
    assert "401" in run.stderr or "authentication" in run.stderr.lower()
    assert wrong not in run.stdout + run.stderr


def test_a_key_without_the_org_scope_gets_a_scope_error_on_orgs() -> None:
    with threaded_simulator(SPEC, keys={USER_ONLY_KEY: frozenset({USER_DATA})}) as ts:
        run = crawler(USER_ONLY_KEY, "orgs", "--base-url", ts.sim.base_url)
    assert run.returncode == 2
    assert "read:compliance_org_data" in run.stderr
