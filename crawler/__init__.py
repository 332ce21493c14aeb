"""crawler: archive Claude project data from the Anthropic Compliance API.

Read this first. The data of one ``crawler archive`` run flows one way, and
each step has one owner::

    cli ─> config ─> pipeline ──────────────────────────────────> archive
                       │ producer: project list pages                 ├─ blobs    md5-named bodies, atomic writes
                       │   └─> bounded queue                          ├─ index    SQLite: snapshots, projects, run state
                       │ workers: detail, attachments,                └─ manifest snapshots/<id>.json, written last
                       │   collaborators, documents, files
                       └─> api client ─> limiter (one per run, every request)
                             └─ retry policy, error mapping

1. ``cli`` / ``commands.archive`` parse flags; ``config`` merges defaults <
   TOML < environment < flags into one frozen ``Settings`` and rejects bad
   input before anything is written.
2. ``pipeline.Crawl`` picks the snapshot: continue the unfinished one with
   the same filters, or start a new one (incremental: against the last).
3. The producer (``pipeline``) walks ``/apps/projects`` at ``limit=100``;
   each page is stored as a blob, and its projects and the ``created_at``
   watermark are recorded in the index in one transaction before the next
   page is asked for.
4. A bounded ``asyncio.Queue`` holds projects waiting for a worker.
5. A worker (``fetcher.ProjectFetcher``) fetches the project's detail,
6. its attachment pages (none when ``attachments_count`` is 0),
7. its collaborator pages,
8. each document's body, once per snapshot (``SharedWork`` coalesces
   concurrent askers), storing the raw response and the text,
9. each file body, streamed to a blob while hashed, unless its listed md5 is
   already archived; then writes the project record blob and marks the
   project done in the index.
10. ``pipeline.Crawl._finish`` writes the snapshot manifest: the collection
    record (filters, settings, times, counts, requests, failures).

Every request in steps 3–9 goes through ``api.client.ComplianceClient``: the
one ``api.limiter.RateLimiter`` paces it, ``api.retry.RetryPolicy`` decides
retries, and every failure is translated once into ``errors`` (fatal, retry,
skip the item). ``api`` knows nothing of disks, ``archive`` nothing of HTTP;
only ``pipeline`` and ``fetcher`` join them. ``verify``, ``export`` and
``diff`` read the archive and never touch the network. ``simulator`` is the
local stand-in for the API that the demo, tests and benchmarks crawl; it
shares no code with the client. The archive format is ``docs/ARCHIVE.md``.

Modules, one job each::

    cli, commands/*     flags in, exit codes out; one module per subcommand
    config              defaults < TOML < environment < flags -> frozen Settings
    errors              the typed error tree (fatal / retry / skip the item)
    api/client          HTTP: auth headers, timeouts, error mapping, pages, streamed bodies
    api/limiter         the one rate limiter: smooth spacing, shared pauses, server budget
    api/retry           whether and when to retry (retry-after floor, backoff, jitter)
    pipeline            snapshot choice, producer, queue, workers, stop, manifest
    fetcher             one project's requests -> one project record
    progress            live line, log lines (text/json), final summary
    archive/blobs       md5-named blobs: atomic, streamed, deduplicated, collisions kept
    archive/index       SQLite catalogue: snapshots, projects, documents, failures, run state
    archive/manifest    snapshot manifests, streamed, written last
    verify              fast and full integrity checks (offline)
    export, bag         NDJSON in the connector's shape, and BagIt (offline)
    verify_export       a recipient's check of an export against its manifest
    diff                what changed between two snapshots (offline)
    read/searchindex    search.sqlite: the search index's one codec (FTS5 words + trigrams)
    read/indexer        archive -> search index, once per record and per text (crawl's last step)
    read/query, search  query -> set algebra over bodies -> ranked, filtered hits with snippets
    read/presets        DLP patterns (--preset secrets)
    read/web/*          crawler serve: the read-only desk (aiohttp, Jinja2, no script)
    simulator/*         the local Compliance API: dataset, endpoints, faults, mutations
    demo, loop          ``make demo``; uvloop where available
"""

__version__ = "0.1.0"
