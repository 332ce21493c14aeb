"""The dataset: deterministic, fast to build, planted with every edge case, truthful counts."""

from __future__ import annotations

import hashlib
import time

from crawler.simulator import Dataset, DatasetSpec
from crawler.simulator.model import LISTED_ABSENT


def test_same_spec_same_data() -> None:
    spec = DatasetSpec.small(seed=11)
    a, b = Dataset.generate(spec), Dataset.generate(spec)
    ta, tb = list(a.projects_truth()), list(b.projects_truth())
    assert ta == tb
    assert Dataset.generate(DatasetSpec.small(seed=12)).project_ids() != a.project_ids()


def test_twenty_thousand_projects_generate_quickly() -> None:
    # This process's CPU time, not the wall clock: the cores are shared with other workers.
    start = time.process_time()
    ds = Dataset.generate(DatasetSpec(projects=20_000, edge_cases=True))
    assert time.process_time() - start < 5.0
    assert len(ds.projects) == 20_000
    # The big file is not held in memory: it is generated when read.
    assert ds.files[ds.cases.big_file].size == 4 * 1024 * 1024  # type: ignore[index]


def test_edge_cases_are_planted() -> None:
    ds = Dataset.generate(DatasetSpec.small())
    c = ds.cases
    assert ds.project(c.empty_project).detail["attachments_count"] == 0  # type: ignore[arg-type,index]
    assert len(ds.project(c.many_attachments_project).attachments) > 100  # type: ignore[arg-type]
    assert len(ds.project(c.many_collaborators_project).collaborators) > 100  # type: ignore[arg-type]
    assert ds.project(c.gone_project).detail is None  # type: ignore[arg-type]
    assert ds.project(c.null_creator_project).list_entry["user"] is None  # type: ignore[arg-type]
    assert ds.projects[c.private_project].is_private  # type: ignore[index]
    assert not ds.projects[c.public_project].is_private  # type: ignore[index]
    assert c.deleted_projects and all(ds.projects[p].deleted_at for p in c.deleted_projects)
    a, b = (ds.document(d) for d in c.identical_documents)
    assert a.id != b.id and a.text == b.text and a.project_id != b.project_id
    assert ds.document(c.empty_document).text == ""  # type: ignore[arg-type]
    big = ds.document(c.big_document)  # type: ignore[arg-type]
    assert big.size >= 4096 and big.size > len(big.text) * 1.5  # multi-byte
    assert ds.document(c.null_creator_document).response["user"] is None  # type: ignore[arg-type]
    assert ds.file(c.zero_byte_file).read_bytes() == b""  # type: ignore[arg-type]
    assert ds.file(c.null_md5_file).metadata["md5"] is None  # type: ignore[arg-type]
    stale = ds.file(c.stale_md5_file)  # type: ignore[arg-type]
    assert stale.recorded_md5 != stale.md5 == hashlib.md5(stale.read_bytes()).hexdigest()
    assert ds.files[c.absent_md5_file].listed == LISTED_ABSENT  # type: ignore[index]
    holders = [p for p in ds.projects.values() if ("file", c.shared_file) in p.attachments]
    assert len(holders) == 2
    d1, d2 = (ds.file(f) for f in c.duplicate_content_files)
    assert d1.id != d2.id and d1.md5 == d2.md5
    names = {ds.files[f].filename for f in c.hostile_name_files}
    assert {"../../x", "nul\x00byte.bin", "line\nbreak.txt"} <= names
    assert any(len(n) == 300 for n in names)
    forms = {ds.projects[p].created_at[-6:] for p in c.tie_group}
    assert len(forms) >= 3


def test_documents_and_files_hash_as_served() -> None:
    ds = Dataset.generate(DatasetSpec.small())
    for doc_id in list(ds.documents)[:20]:
        doc = ds.document(doc_id)
        raw = doc.text.encode()
        assert doc.metadata["md5"] == hashlib.md5(raw).hexdigest()
        assert doc.metadata["size_bytes"] == len(raw)
        assert doc.response["content"] == doc.text
    for file_id in list(ds.files)[:20]:
        f = ds.file(file_id)
        assert b"".join(f.iter_bytes()) == f.read_bytes()
        assert len(f.read_bytes()) == f.size


def test_minimum_requests_counts() -> None:
    ds = Dataset.generate(DatasetSpec.small(short_page_rate=0, empty_page_rate=0))
    counts = ds.minimum_requests()
    truths = list(ds.projects_truth())
    assert counts["projects.list"] == 1
    assert counts["projects.get"] == len(truths)
    live = [t for t in truths if not t.gone]
    assert counts["collaborators"] == len(live) + sum(len(t.collaborators) > 100 for t in live)
    with_att = [t for t in live if t.attachments]
    assert counts["attachments"] == len(with_att) + sum(len(t.attachments) > 100 for t in live)
    assert counts["documents.get"] == sum(len(t.documents) for t in live)
    assert counts["documents.metadata"] == 0
    assert (
        ds.minimum_requests(document_metadata=True)["documents.metadata"] == counts["documents.get"]
    )
    occurrences = sum(len(t.files) for t in live)
    assert counts["files.content"] < occurrences  # shared and duplicate content dedupe
    assert ds.minimum_requests(files=False)["files.content"] == 0
    org = ds.orgs[0].tagged_id
    assert ds.minimum_requests({"organization_ids": [org]})["projects.get"] == len(
        ds.project_ids({"organization_ids": [org]})
    )


def test_cli_args_rebuild_the_same_spec() -> None:
    import argparse

    from crawler.simulator.cli import add_arguments, config_from_args

    spec = DatasetSpec.small(seed=4, attachments_per_project=(1, 3), edge_cases=False)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from_args(parser.parse_args(spec.to_cli_args())).dataset == spec
