"""Search is exact against the simulator's ground truth.

For each term, ``crawler search --kind document`` must return exactly the
documents of the latest snapshot whose text contains it: words and phrases as
whole words (case and diacritics folded, as unicode61 reads them), CJK and emoji
as substrings (the trigram table), whatever script they are in.
"""

from __future__ import annotations

import re
import unicodedata

import orjson
import pytest

from crawler.cli import main
from tests.read.conftest import Desk


def _fold(s: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", s.casefold()) if not unicodedata.combining(c)
    )


def _words_truth(desk: Desk, phrase: str) -> set[str]:
    words = [re.escape(_fold(w)) for w in phrase.split()]
    pattern = re.compile(r"(?<!\w)" + r"\W+".join(words) + r"(?!\w)")
    return {d for d, doc in _texts(desk).items() if pattern.search(_fold(doc))}


def _substring_truth(desk: Desk, term: str) -> set[str]:
    return {d for d, text in _texts(desk).items() if term in text}


def _texts(desk: Desk) -> dict[str, str]:
    ds = desk.dataset
    return {
        d: ds.document(d).text
        for d, doc in ds.documents.items()
        if doc.project_id in ds.projects and not ds.projects[doc.project_id].gone_on_detail
    }


def _search(desk: Desk, capsys: pytest.CaptureFixture[str], *args: str) -> set[str]:
    capsys.readouterr()
    code = main(["search", "--archive", str(desk.archive), "--json", "--limit", "100000", *args])
    assert code == 0
    out = capsys.readouterr().out
    hits = [orjson.loads(line) for line in out.splitlines()]
    assert all(h["snapshots"] == [desk.s2] for h in hits)
    ids = [h["document_id"] for h in hits]
    assert len(ids) == len(set(ids))  # one hit per document
    return set(ids)


@pytest.mark.parametrize(
    ("term", "how"),
    [
        ("audit", "words"),
        ("Compliance", "words"),
        ("cafe", "words"),  # diacritics folded: finds café
        ("naïve", "words"),
        ("quarterly report", "phrase"),
        ("straße", "words"),
        ("Привет", "words"),
        ("Ελληνικά", "words"),
        ("日本語", "substring"),
        ("中文内容", "substring"),
        ("文書", "substring"),  # two characters inside a longer word: a scan
        ("🙂", "substring"),
        ("🚀🚀", "substring"),
        ("한국어", "words"),
    ],
)
def test_search_returns_exactly_the_documents_containing_the_term(
    desk: Desk, capsys: pytest.CaptureFixture[str], term: str, how: str
) -> None:
    if how == "substring":
        truth = _substring_truth(desk, term)
        query = term
    else:
        truth = _words_truth(desk, term)
        query = f'"{term}"' if how == "phrase" else term
    assert truth, f"the dataset should hold {term!r} somewhere"
    assert _search(desk, capsys, "--kind", "document", query) == truth


def test_boolean_operators_follow_set_logic(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    audit, legal = _words_truth(desk, "audit"), _words_truth(desk, "legal")
    cjk = _substring_truth(desk, "日本語")
    run = lambda q: _search(desk, capsys, "--kind", "document", q)  # noqa: E731
    assert run("audit AND legal") == audit & legal
    assert run("audit legal") == audit & legal
    assert run("audit OR legal") == audit | legal
    assert run("audit NOT legal") == audit - legal
    assert run("(audit OR legal) AND 日本語") == (audit | legal) & cjk
    assert run("日本語 NOT audit") == cjk - audit


def test_prefix_finds_every_word_that_starts_so(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = {
        d
        for d, text in _texts(desk).items()
        if any(w.startswith("resea") for w in _fold(text).split())
    }
    assert truth
    assert _search(desk, capsys, "--kind", "document", "resea*") == truth
