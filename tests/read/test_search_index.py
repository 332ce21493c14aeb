"""The search index: each body once, cost following what is new, resumable, rebuildable."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest

from crawler.archive import Archive
from crawler.cli import main
from crawler.read import indexer
from crawler.read.reader import ArchiveReader
from crawler.read.search import SearchFilters, run_search
from crawler.read.searchindex import SEARCH_FILE, Member, Occurrence, SearchIndex, body_of
from tests.read.conftest import Desk


def _copy(desk: Desk, tmp_path: Path) -> Path:
    dest = tmp_path / "archive"
    shutil.copytree(desk.archive, dest)
    return dest


def test_the_crawl_leaves_every_finished_snapshot_indexed(desk: Desk) -> None:
    index = SearchIndex.open_reader(desk.archive / SEARCH_FILE)
    assert index is not None
    with index:
        assert set(index.indexed_snapshots()) == {desk.s1, desk.s2}


def test_a_body_shared_by_documents_and_snapshots_is_indexed_once(desk: Desk) -> None:
    ds = desk.dataset
    same = ds.cases.identical_documents
    assert len(same) == 2 and ds.document(same[0]).md5 == ds.document(same[1]).md5
    index = SearchIndex.open_reader(desk.archive / SEARCH_FILE)
    assert index is not None
    with index:
        c = index.conn
        dupes = c.execute("SELECT count(*) FROM bodies GROUP BY md5, sha256 HAVING count(*) > 1")
        assert dupes.fetchall() == []
        rows = c.execute(
            "SELECT DISTINCT o.item_id, o.body_id FROM occurrences o JOIN bodies b "
            "ON b.id = o.body_id WHERE b.md5 = ?",
            (ds.document(same[0]).md5,),
        ).fetchall()
        assert {r[0] for r in rows} >= set(same)
        assert len({r[1] for r in rows}) == 1


def test_update_reads_only_what_is_new(desk: Desk, tmp_path: Path) -> None:
    archive = _copy(desk, tmp_path)
    (archive / SEARCH_FILE).unlink()
    with ArchiveReader.open(archive) as reader:
        first = indexer.update(reader)
        again = indexer.update(reader)
    assert first.snapshots == [desk.s1, desk.s2]
    # s2 refetched everything, but most records and texts are the same blobs as in s1.
    total_docs = sum(1 for _ in desk.dataset.documents)
    assert 0 < first.documents < total_docs * 2
    assert again.snapshots == [] and again.records == 0 and again.documents == 0


def test_a_killed_update_is_completed_by_the_next(desk: Desk, tmp_path: Path) -> None:
    archive = _copy(desk, tmp_path)
    (archive / SEARCH_FILE).unlink()
    with ArchiveReader.open(archive) as reader:
        indexer.update(reader)
        expected = _hits(archive, desk.s2, "audit OR 日本語")
    # A kill between records: some records indexed, no members, snapshot not marked.
    index = SearchIndex.open_writer(archive / SEARCH_FILE)
    with index.tx() as c:
        c.execute("DELETE FROM snapshots WHERE id = ?", (desk.s2,))
        c.execute("DELETE FROM members WHERE snapshot_id = ?", (desk.s2,))
        c.execute(
            "DELETE FROM occurrences WHERE record_id IN (SELECT id FROM records WHERE id % 2 = 0)"
        )
        c.execute("DELETE FROM records WHERE id % 2 = 0")
    index.close()
    with ArchiveReader.open(archive) as reader:
        resumed = indexer.update(reader)
    assert resumed.snapshots == [desk.s2] and resumed.records > 0
    assert _hits(archive, desk.s2, "audit OR 日本語") == expected


def test_reindex_rebuild_gives_the_same_answers(
    desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _copy(desk, tmp_path)
    before = _hits(archive, desk.s2, "report NOT budget")
    (archive / SEARCH_FILE).write_bytes(b"this is not a database")
    assert main(["reindex", "--archive", str(archive), "--rebuild", "--quiet"]) == 0
    assert _hits(archive, desk.s2, "report NOT budget") == before
    assert not list((archive / "tmp").iterdir())
    with Archive.open_for_reading(archive):
        pass
    assert main(["verify", "--archive", str(archive)]) == 0


def test_search_without_an_index_names_the_command_that_builds_it(
    desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _copy(desk, tmp_path)
    (archive / SEARCH_FILE).unlink()
    assert main(["search", "--archive", str(archive), "audit"]) == 2
    assert "crawler reindex" in capsys.readouterr().err
    assert not (archive / SEARCH_FILE).exists()  # search never writes


def _hits(archive: Path, snapshot: str, query: str) -> list[tuple[str, str | None, str]]:
    index = SearchIndex.open_reader(archive / SEARCH_FILE)
    assert index is not None
    with index:
        result = run_search(index, query, SearchFilters([snapshot]), limit=100000)
    return sorted((h.project_id, h.item_id, h.kind) for h in result.hits)


# -- against the codec directly: presets, raw syntax, filters -----------------------------------


def _tiny(tmp_path: Path, texts: dict[str, str]) -> SearchIndex:
    index = SearchIndex.open_writer(tmp_path / SEARCH_FILE)
    occ = [Occurrence("document", k, f"{k}.txt", body_of(v)) for k, v in texts.items()]
    with index.tx():
        rid = index.add_record("a" * 32, "b" * 64, "proj", "P", occ)
        member = Member("proj", "org-1", "org_1", "user_1", "u@x", "2025")
        index.add_members("S", [(member, rid)])
        index.mark_indexed("S", None)
    return index


def test_secrets_preset_finds_key_and_card_shapes_only(tmp_path: Path) -> None:
    index = _tiny(
        tmp_path,
        {
            "key": "the key is sk-ant-api03-" + "Ab3" * 10 + " do not share",
            "aws": "AKIA" + "ABCDEFGHIJKLMNOP",
            "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIE...",
            "card": "paid with 4111 1111 1111 1111 yesterday",
            "not-card": "order 4111 1111 1111 1112 shipped",
            "plain": "nothing secret about sk- prefixes or AKIA alone",
        },
    )
    with index:
        result = run_search(index, "", SearchFilters(["S"]), preset="secrets")
    assert {h.item_id for h in result.hits} == {"key", "aws", "pem", "card"}
    card = next(h for h in result.hits if h.item_id == "card")
    start, end = card.highlights[0]
    assert card.snippet[start:end] == "4111 1111 1111 1111"


def test_terms_are_quoted_unless_raw(tmp_path: Path) -> None:
    index = _tiny(tmp_path, {"a": "alpha beta", "b": "alpha gamma", "c": "x-ray: delta"})
    with index:
        assert run_search(index, "x-ray:", SearchFilters(["S"])).count == 1  # punctuation is text
        assert run_search(index, "NEAR(alpha beta)", SearchFilters(["S"]), raw=True).count == 1
        with pytest.raises(Exception, match="FTS5"):
            run_search(index, 'alpha AND "', SearchFilters(["S"]), raw=True)


def test_filters_narrow_by_org_user_time_and_kind(tmp_path: Path) -> None:
    index = _tiny(tmp_path, {"a": "alpha"})
    with index:

        def count(**kw: object) -> int:
            return run_search(index, "alpha", SearchFilters(["S"], **kw)).count  # type: ignore[arg-type]

        assert count() == 1
        assert count(organizations=["org_1"]) == 1 and count(organizations=["org-2"]) == 0
        assert count(users=["u@x"]) == 1 and count(users=["v@x"]) == 0
        assert count(since="2024") == 1 and count(until="2024") == 0
        assert count(kind="document") == 1 and count(kind="filename") == 0


def test_json_output_names_project_and_document(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "--archive", str(desk.archive), "--json", "日本語"]) == 0
    captured = capsys.readouterr()
    hits = [orjson.loads(line) for line in captured.out.splitlines()]
    assert hits and captured.err.strip().endswith("hits")
    doc = next(h for h in hits if h["kind"] == "document")
    assert doc["project_id"].startswith("claude_proj_")
    assert doc["document_id"].startswith("claude_proj_doc_")
    start, end = doc["highlights"][0]
    assert doc["snippet"][start:end] == "日本語"


def test_all_snapshots_says_which_snapshots_held_a_hit(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "search",
                "--archive",
                str(desk.archive),
                "--all-snapshots",
                "--json",
                "--kind",
                "project",
                "--limit",
                "1000",
                "Be concise",
            ]
        )
        == 0
    )
    hits = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(set(h["snapshots"]) == {desk.s1, desk.s2} for h in hits)


def test_small_batches_still_cover_every_project(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _copy(desk, tmp_path)
    (archive / SEARCH_FILE).unlink()
    monkeypatch.setattr(indexer, "_BATCH", 7)
    with ArchiveReader.open(archive) as reader:
        stats = indexer.update(reader)
        every = sum(1 for s in (desk.s1, desk.s2) for _ in reader.rows(s))
    assert stats.projects == every
    index = SearchIndex.open_reader(archive / SEARCH_FILE)
    assert index is not None
    with index:
        assert index.counts()["members"] == every


async def test_a_broken_search_index_never_fails_the_crawl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from crawler.simulator import DatasetSpec, running_simulator
    from tests.support import crawl

    archive = tmp_path / "archive"
    async with running_simulator(dataset=DatasetSpec.small(projects=12), rate=None) as sim:
        assert await crawl(sim.base_url, sim.key, archive) == 0
        (archive / SEARCH_FILE).write_bytes(b"not a database at all" * 100)
        assert await crawl(sim.base_url, sim.key, archive) == 0
    assert "search index not updated" in capsys.readouterr().err
    assert main(["verify", "--archive", str(archive)]) == 0
    assert main(["reindex", "--archive", str(archive), "--rebuild", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["search", "--archive", str(archive), "--all-snapshots", "--json", "Be"]) == 0
    hits = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len({s for h in hits for s in h["snapshots"]}) == 2


@pytest.mark.parametrize(
    "ts",
    [
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.5Z",
        "2024-01-01T00:00:00.1234567891Z",
        "2024-06-30T23:59:60Z",
        "2024-01-01T01:00:00+01:00",
        "2024-01-01t00:00:00z",
        None,
        "not a time",
    ],
)
def test_the_fast_sort_key_is_instant_key(ts: str | None) -> None:
    from crawler.archive.index import instant_key

    assert indexer._instant(ts) == instant_key(ts)


async def test_an_incremental_snapshot_copies_what_it_carried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler.simulator import DatasetSpec, running_simulator
    from tests.support import crawl

    archive = tmp_path / "archive"
    async with running_simulator(dataset=DatasetSpec.small(projects=30), rate=None) as sim:
        assert await crawl(sim.base_url, sim.key, archive) == 0
        sim.mutate(seed=2, fraction=0.2)
        assert await crawl(sim.base_url, sim.key, archive, "--incremental") in (0, 1)

    def members(path: Path) -> list[tuple[object, ...]]:
        with sqlite3.connect(path) as c:
            return c.execute(
                "SELECT m.snapshot_id, m.project_id, r.md5, m.created_key, m.updated_key, "
                "m.name_key, m.deleted, m.state FROM members m LEFT JOIN records r "
                "ON r.id = m.record_id ORDER BY 1, 2"
            ).fetchall()

    with ArchiveReader.open(archive) as reader:
        carried = len(reader.project_ids(reader.snapshot().id, ["carried"]))
        fast = indexer.update(reader, tmp_path / "fast.sqlite")
        monkeypatch.setattr(SearchIndex, "carry_members", lambda *a: -1)  # the slow path
        slow = indexer.update(reader, tmp_path / "slow.sqlite")
    assert carried > 10 and fast.carried == carried and slow.carried == 0
    assert fast.projects == slow.projects
    assert members(tmp_path / "fast.sqlite") == members(tmp_path / "slow.sqlite")


def test_cli_time_window_and_bad_flags(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["search", "--archive", str(desk.archive), "--json", "--limit", "100000", "audit"]
    assert main(base) == 0
    everything = capsys.readouterr().out.splitlines()
    assert main([*base, "--since", "2000-01-01", "--until", "2100-01-01T00:00:00Z"]) == 0
    assert capsys.readouterr().out.splitlines() == everything
    assert main([*base, "--since", "2100-01-01"]) == 0
    assert capsys.readouterr().out == ""
    assert main([*base, "--since", "yesterday"]) == 2
    assert main(["search", "--archive", str(desk.archive)]) == 2  # no query, no preset
    assert main(["search", "--archive", str(desk.archive), "NOT audit"]) == 2
    assert main(["search", "--archive", str(desk.archive), "--snapshot", "nope", "x"]) == 2
