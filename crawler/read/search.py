"""Run a search over the search index: match, filter, rank, page, snippet.

What the CLI (``crawler search``) and the web view's search page both call.
Matching happens on bodies (each text once, see ``searchindex``); a hit is a
body where it occurs (a project's document, its own words, a filename) in the
chosen snapshots, after the filters. Ranking is bm25 (lower is better, as
SQLite gives it). Snippets carry their highlights as character spans, so each
caller renders them its own safe way (ANSI, JSON offsets, ``<mark>``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from crawler.errors import UsageError
from crawler.read import query as q
from crawler.read.presets import PRESETS, Pattern
from crawler.read.searchindex import KINDS, SearchIndex

__all__ = ["Hit", "SearchFilters", "SearchResult", "run_search"]

OPEN, CLOSE = "\ue000", "\ue001"  # private-use marks: never in the text we show
_SNIPPET_TOKENS = 14
_SNIPPET_CHARS = 60  # a trigram table's tokens are characters
_WINDOW = 70
_LOCK = threading.Lock()  # one temp table per connection: one search at a time


@dataclass(frozen=True)
class SearchFilters:
    snapshot_ids: Sequence[str] | None  # None: every indexed snapshot
    organizations: Sequence[str] = ()  # uuid or tagged id
    users: Sequence[str] = ()  # creator: user id or email
    since: str | None = None  # created_at instant key, inclusive
    until: str | None = None  # exclusive
    kind: str | None = None


@dataclass
class Hit:
    project_id: str
    project_name: str | None
    kind: str
    item_id: str | None
    label: str | None
    snapshot_ids: list[str]
    score: float
    body_id: int
    snippet: str = ""
    highlights: list[tuple[int, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "project_name": self.project_name,
            "kind": self.kind,
            "document_id": self.item_id if self.kind == "document" else None,
            "item_id": self.item_id,
            "label": self.label,
            "snapshots": self.snapshot_ids,
            "score": self.score,
            "snippet": self.snippet,
            "highlights": [list(h) for h in self.highlights],
        }


@dataclass
class SearchResult:
    query: str
    count: int
    hits: list[Hit]
    seconds: float = 0.0


def run_search(
    index: SearchIndex,
    query: str,
    filters: SearchFilters,
    *,
    raw: bool = False,
    preset: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> SearchResult:
    """Every hit counted, ``limit`` of them returned from ``offset``, best first."""
    started = time.perf_counter()
    if filters.kind is not None and filters.kind not in KINDS:
        raise UsageError(f"search: --kind must be one of {', '.join(KINDS)}")
    with _LOCK:
        conn = index.conn
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS matched "
            "(id INTEGER PRIMARY KEY, score REAL NOT NULL, snippet TEXT)"
        )
        conn.execute("DELETE FROM temp.matched")
        snippets: _Snippets
        if preset is not None:
            snippets = _match_preset(conn, preset)
        elif raw:
            snippets = _match_raw(conn, query)
        else:
            snippets = _match_query(conn, query)
        # Delta snapshots (crawler watch) are resolved first; --all-snapshots lists, per
        # hit, the snapshots that stored its record (a delta's inherited ones not repeated).
        scope = (
            "members" if filters.snapshot_ids is None else index.member_scope(filters.snapshot_ids)
        )
        count, rows = _select(conn, filters, limit, offset, scope)
        hits = [_hit(row) for row in rows]
        for hit in hits:
            hit.snippet, hit.highlights = snippets.make(conn, hit.body_id)
    return SearchResult(query, count, hits, time.perf_counter() - started)


def _select(
    conn: sqlite3.Connection, filters: SearchFilters, limit: int, offset: int, members: str
) -> tuple[int, list[Any]]:
    """Matched bodies -> their occurrences in the chosen snapshots: a count and one page.

    The join is driven from the matched bodies (CROSS JOIN fixes the order), so a
    rare term costs what it finds, not what the snapshot holds.
    """
    where, params = _where(filters)
    joins = (
        "FROM temp.matched m CROSS JOIN occurrences o ON o.body_id = m.id "
        "CROSS JOIN records r ON r.id = o.record_id "
        f"CROSS JOIN {members} mb ON mb.record_id = r.id WHERE {where}"
    )
    order = "ORDER BY 7, 1, 3, 4 LIMIT ? OFFSET ?"
    if filters.snapshot_ids is not None and len(filters.snapshot_ids) == 1:
        # One snapshot holds a project once: no grouping needed.
        cols = (
            "r.project_id, r.name, o.kind, o.item_id, o.label, mb.snapshot_id, m.score, o.body_id"
        )
        count = int(conn.execute(f"SELECT count(*) {joins}", params).fetchone()[0])
        rows = conn.execute(f"SELECT {cols} {joins} {order}", [*params, limit, offset])
        return count, rows.fetchall()
    grouped = (
        "SELECT r.project_id, max(r.name), o.kind, o.item_id, max(o.label), "
        f"group_concat(DISTINCT mb.snapshot_id), min(m.score), o.body_id {joins} "
        "GROUP BY r.project_id, o.kind, o.item_id, o.body_id"
    )
    conn.execute("DROP TABLE IF EXISTS temp.grouped")
    conn.execute(f"CREATE TEMP TABLE grouped AS {grouped}", params)
    count = int(conn.execute("SELECT count(*) FROM temp.grouped").fetchone()[0])
    rows = conn.execute(f"SELECT * FROM temp.grouped {order}", [limit, offset])
    return count, rows.fetchall()


def _hit(row: Sequence[Any]) -> Hit:
    snaps = sorted(set(str(row[5]).split(","))) if row[5] else []
    return Hit(row[0], row[1], row[2], row[3], row[4], snaps, float(row[6]), int(row[7]))


def _where(f: SearchFilters) -> tuple[str, list[Any]]:
    clauses: list[str] = ["1"]
    params: list[Any] = []
    if f.snapshot_ids is not None:
        clauses.append(f"mb.snapshot_id IN ({', '.join('?' * len(f.snapshot_ids))})")
        params += list(f.snapshot_ids)
    if f.organizations:
        marks = ", ".join("?" * len(f.organizations))
        clauses.append(f"(mb.organization_uuid IN ({marks}) OR mb.organization_id IN ({marks}))")
        params += list(f.organizations) * 2
    if f.users:
        marks = ", ".join("?" * len(f.users))
        clauses.append(f"(mb.user_id IN ({marks}) OR mb.user_email IN ({marks}))")
        params += list(f.users) * 2
    if f.since is not None:
        clauses.append("mb.created_key >= ?")
        params.append(f.since)
    if f.until is not None:
        clauses.append("mb.created_key < ?")
        params.append(f.until)
    if f.kind is not None:
        clauses.append("o.kind = ?")
        params.append(f.kind)
    return " AND ".join(clauses), params


# -- matching -------------------------------------------------------------------------------------


def _fts_error(exc: sqlite3.Error, query: str) -> UsageError:
    return UsageError(f"search: {query!r} is not a query SQLite's FTS5 accepts: {exc}")


def _match_query(conn: sqlite3.Connection, query: str) -> _Snippets:
    node = q.parse(query)
    ids_sql, params = q.compile_ids(node)
    positive = q.positive_terms(node)
    words = q.ranking_match(positive, "words")
    grams = q.ranking_match(positive, "grams")
    sql = "INSERT INTO temp.matched (id, score) SELECT m.id, 0.0"
    joins = ""
    all_params: list[Any] = []
    for name, table, match in (("w", "body_words", words), ("g", "body_grams", grams)):
        if match is None:
            continue
        sql += f" + coalesce({name}.s, 0.0)"
        joins += (
            f" LEFT JOIN (SELECT rowid AS id, bm25({table}) AS s FROM {table} "
            f"WHERE {table} MATCH ?) {name} USING (id)"
        )
        all_params.append(match)
    sql += f" FROM ({ids_sql}) m{joins}"
    try:
        conn.execute(sql, [*params, *all_params])
    except sqlite3.OperationalError as exc:
        raise _fts_error(exc, query) from None
    scan = [t.text.strip() for t in positive if q.route(t) == "scan"]
    return _Snippets(words, grams, scan)


def _match_raw(conn: sqlite3.Connection, query: str) -> _Snippets:
    try:
        conn.execute(
            "INSERT INTO temp.matched (id, score) SELECT rowid, bm25(body_words) "
            "FROM body_words WHERE body_words MATCH ?",
            (query,),
        )
    except sqlite3.OperationalError as exc:
        raise _fts_error(exc, query) from None
    return _Snippets(query, None, [])


def _match_preset(conn: sqlite3.Connection, name: str) -> _Snippets:
    patterns = PRESETS.get(name)
    if patterns is None:
        raise UsageError(f"search: no preset {name!r}; presets: {', '.join(sorted(PRESETS))}")
    found: dict[int, str] = {}
    for pattern in patterns:
        for body_id, text in _candidates(conn, pattern):
            if body_id in found:
                continue
            m = pattern.find(text)
            if m is not None:
                found[body_id] = _window(text, m.start(), m.end(), pattern.name + ": ")
    conn.executemany(
        "INSERT INTO temp.matched (id, score, snippet) VALUES (?, 0.0, ?)", found.items()
    )
    return _Snippets(None, None, [])


def _candidates(conn: sqlite3.Connection, pattern: Pattern) -> sqlite3.Cursor:
    if not pattern.literals:
        return conn.execute("SELECT id, text FROM bodies")
    match = " OR ".join(q.fts_string(lit) for lit in pattern.literals)
    return conn.execute(
        "SELECT b.id, b.text FROM body_grams g JOIN bodies b ON b.id = g.rowid "
        "WHERE body_grams MATCH ?",
        (match,),
    )


# -- snippets -------------------------------------------------------------------------------------


def _window(text: str, start: int, end: int, prefix: str = "") -> str:
    lo = max(0, start - _WINDOW)
    hi = min(len(text), end + _WINDOW)
    head = "…" if lo > 0 else ""
    tail = "…" if hi < len(text) else ""
    return f"{prefix}{head}{text[lo:start]}{OPEN}{text[start:end]}{CLOSE}{text[end:hi]}{tail}"


def split_marks(marked: str) -> tuple[str, list[tuple[int, int]]]:
    """Plain text and the spans that were between OPEN and CLOSE; newlines become spaces."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    start = 0
    for ch in marked:
        if ch == OPEN:
            start = pos
        elif ch == CLOSE:
            spans.append((start, pos))
        else:
            out.append(" " if ch in "\r\n\t" else ch)
            pos += 1
    return "".join(out), spans


@dataclass
class _Snippets:
    words: str | None
    grams: str | None
    scan: list[str]

    def make(self, conn: sqlite3.Connection, body_id: int) -> tuple[str, list[tuple[int, int]]]:
        stored = conn.execute("SELECT snippet FROM temp.matched WHERE id = ?", (body_id,))
        row = stored.fetchone()
        if row is not None and row[0]:
            return split_marks(row[0])
        for table, match, tokens in (
            ("body_words", self.words, _SNIPPET_TOKENS),
            ("body_grams", self.grams, _SNIPPET_CHARS),
        ):
            if match is None:
                continue
            row = conn.execute(
                f"SELECT snippet({table}, 0, ?, ?, '…', ?) FROM {table} "
                f"WHERE {table} MATCH ? AND rowid = ?",
                (OPEN, CLOSE, tokens, match, body_id),
            ).fetchone()
            if row is not None and OPEN in row[0]:
                return split_marks(row[0])
        text = conn.execute("SELECT text FROM bodies WHERE id = ?", (body_id,)).fetchone()
        text = str(text[0]) if text else ""
        low = text.lower()
        for term in self.scan:
            at = low.find(term.lower())
            if at >= 0:
                return split_marks(_window(text, at, at + len(term)))
        return split_marks(text[: 2 * _WINDOW] + ("…" if len(text) > 2 * _WINDOW else ""))
