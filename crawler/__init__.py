"""crawler: archive Claude project data from the Anthropic Compliance API.

Read this first. The data of one ``crawler archive`` run flows one way, and
each step has one owner::

    cli/commands ─> app ─> crawl ────────────────────────────────────────> archive
                            │ listing: project list pages                    ├─ blobs     md5-named bodies (via store)
                            │   └─> bounded queue                            ├─ index     SQLite catalogue, run state
                            │ project, bodies: detail, attachments,          ├─ records   the one project-record codec
                            │   collaborators, documents, files              ├─ manifest  snapshots/<id>.json, written last
                            │ feed: what changed since the last snapshot     ├─ feed_rows the feed's position and events
                            │ stats, manifest                                ├─ repository Archive: blobs, then rows
                            │                                                └─ store     disk or S3 (put-once, lock)
                            └─> api: endpoints ─> client ─> limiter (one per run, every request)
                                                    └─ retry policy, error mapping

    read: reader (the offline read model) ─> export, bag, diff, status, snapshots,
          search (indexer ─> search.sqlite), web desk (crawler serve)
    retention: holds, plan (reader + fresh reads + feed) ─> apply (delete key) ─> receipts
    produce: reader ─> families ─> natives, texts, DAT, EDRM XML ─> the production register
    seal: every finished snapshot, hold, plan, intent, receipt ─> a leaf ─> a signed checkpoint
    watch: a cycle every --every (changes: feed + updated_at list pages ─> a delta snapshot;
           a full walk every --full-every) ─> metrics, /readyz, pings, a verify slice

1. ``cli`` / ``commands.archive`` parse flags; ``config`` merges defaults <
   TOML < environment < flags into one frozen ``Settings`` and rejects bad
   input before anything is written; ``app.run_archive`` wires the run, after
   a TCP connect that says in seconds when the API cannot be reached at all
   (``api.reach``).
2. ``crawl.snapshot`` picks the snapshot: continue the unfinished one with
   the same filters, or start a new one (incremental: against the last).
   2b. ``crawl.feed`` reads the Activity Feed since the last snapshot's
   position (incremental) and names the projects to fetch whole; every
   snapshot records where the next one starts.
   2c. ``crawl.holds`` reads the legal holds in force (a bucket's only): a
   held project's objects are written under the S3 legal hold.
3. ``crawl.listing`` walks ``/apps/projects`` at ``limit=100`` (through
   ``api.endpoints`` and the one paginator, ``api.paging``); each page is
   stored as a blob, and its projects and the ``created_at`` watermark are
   recorded in the index in one transaction before the next page is asked for.
   The walk never waits for a worker; when it ends, the run's total is known
   (the progress bar's ETA).
4. Side by side with the walk, the listing feeds a bounded ``asyncio.Queue``
   from the index: the projects still to settle, in the order listed, a batch
   at a time (memory stays flat).
5. A worker (``crawl.project.ProjectFetcher``) fetches the project's detail,
6. its attachment pages (none when ``attachments_count`` is 0),
7. its collaborator pages,
8. each document's body, once per snapshot (``crawl.bodies``; ``SharedWork``
   coalesces concurrent askers), storing the raw response and the text,
9. each file body, streamed to a blob while hashed, unless its listed md5 is
   already archived; then writes the project record blob (``archive.records``)
   and ``crawl.stats`` records the outcome, its failures and the content
   totals in the index in one transaction.
   9b. ``crawl.holds`` reads the holds again and puts the legal hold on any
   object of a held project this snapshot wrote that is not held yet.
10. ``crawl.manifest`` writes the snapshot manifest: the collection record
    (filters, settings, times, counts, requests, failures).
11. ``seal.sealer`` logs the finished snapshot as a leaf of the archive's
    signed log and signs its checkpoint (a sealed archive only), before the
    run reports it done; the run's start logs what a killed run left unlogged.

Every request in steps 3–9 goes through ``api.client.ComplianceClient``: the
one ``api.limiter.RateLimiter`` paces it, ``api.retry.RetryPolicy`` decides
retries, and every failure is translated once into ``errors`` (fatal, retry,
skip the item). ``api`` knows nothing of disks, ``archive`` nothing of HTTP;
only ``crawl`` joins them (``tests/test_structure.py`` holds these lines, and
finds import cycles). The offline commands read through ``read.reader`` and
never touch the network. ``simulator`` is the local stand-in for the API that
the demo, tests and benchmarks crawl; it shares no code with the client. The
archive format is ``docs/ARCHIVE.md``. Deleting upstream is ``retention``'s
alone, with its own key, and only what a verified snapshot holds (README,
"Retention").

Modules, one job each::

    cli, commands/*     flags in, one call out, exit codes; one module per subcommand
    app                 the composition root: run_archive(settings) and friends
    config              defaults (each once) < TOML < environment < flags -> frozen Settings
    config_sources      the TOML file (schema-checked, "did you mean") and the access key
    config_archive      --archive DIR|s3://BUCKET/PREFIX, --s3-endpoint, --object-lock, --retain
    canonical           the UTC timestamp and canonical JSON every layer shares
    errors              the typed error tree (fatal / retry / skip the item)
    api/endpoints       one typed call per endpoint; the only place paths are named
    api/paging          the one page walk (repeated-token and page-cap guards)
    api/urls            ApiPath and the one id encoding (each id encoded once)
    api/client          HTTP: session, auth headers, timeouts, the retry loop, streamed bodies
    api/failures        HTTP and transport failures -> typed errors; the key scrubbed
    api/model           ClientConfig, Fetched, Page, Download, RequestStats
    api/limiter         the one rate limiter: pace, window test, shared pauses, --rate auto
    api/budget          the shared budget read from the rate-limit headers (own vs others' use)
    api/retry           whether and when to retry (retry-after floor, backoff, jitter)
    api/reach           before the first request: can the host be reached at all (seconds)
    crawl/engine        Crawl.run(): queue, workers, stop and wind-down
    crawl/snapshot      which snapshot a run writes into
    crawl/feed          the Activity Feed: window, position, dedupe (feed_plan); what changed
    crawl/holds         the legal holds in force: a held project's objects written held
    crawl/listing       the list walk, and the queue fed from the index; carrying unchanged projects
    crawl/project       one project's requests -> one project record
    crawl/bodies        document and file bodies, once per snapshot / per md5
    crawl/work          ProjectJob, Outcome, SharedWork
    crawl/stats         runs, request counts and content totals, saved with each project
    crawl/manifest      the snapshot manifest, written last
    archive/refs, fs    BlobRef and hashing; atomic writes, fsync, umask, lock (leaves)
    archive/layout      the marker, fixed names, snapshot ids
    archive/sqlite      connecting, schema scripts, write transactions (all three .sqlite files)
    archive/journal     a cache's rows as put-once objects in a bucket, replayed into it
    archive/schema, db, blob_rows, project_pages, index   the SQLite catalogue: SQL, queries
    archive/store/*     ObjectStore, the one storage interface: disk (the directory) and s3
                        (a bucket under Object Lock: s3_client, s3_put + s3_sigv4 (the hot
                        PutObject), s3_multipart, s3_lease, s3_untils, location)
    archive/remote, rebuild   opening a bucket (checks, lease, marker); its cache rebuilt from it
    archive/keep        what a snapshot reuses, and the seal's log, stay locked as long as it
    archive/holding     legal holds on what a run writes: held PUTs, a project's keys
    archive/blobs       BlobStore: md5-named objects, streamed, deduplicated, collisions kept
    archive/records     the one project-record codec (records_read: typed accessors)
    archive/feed_rows   the feed's tables: each snapshot's feed state and the events it read
    archive/deltas, carry_rows   delta snapshots: resolving a chain; a changes cycle's rows
    archive/blob_slices the blobs in slices from a cursor (watch's continuous verification)
    archive/manifest    snapshot manifests, streamed, written last
    archive/merkle, note  RFC 9162 tree hash and proofs; C2SP checkpoints, signed notes, keys
    archive/log, logstore the seal's leaves and checkpoints; their put-once files (log/)
    archive/repository  Archive: puts blobs, then their index rows; records; manifests
    read/reader         the offline read model: snapshots, projects, records, blobs
    read/connector      a project as the connector's record; export filters
    read/export, bag    NDJSON (+ md5 and manifest) and BagIt, atomic and hashed
    read/verify         fast and full integrity checks of an archive (verify_store: a bucket's locks)
    read/verify_export  a recipient's check of an export against its manifest
    read/diff           what changed between two snapshots
    read/searchindex    search.sqlite: the search index's one codec (FTS5 words + trigrams)
    read/indexer        archive -> search index, once per record and per text (crawl's last step)
    read/query, search  query -> set algebra over bodies -> ranked, filtered hits with snippets
    read/searching      what search and the desk share: snapshot choice, filters, the project list
    read/presets        DLP patterns (--preset secrets)
    read/web/*          crawler serve: the read-only desk (aiohttp, Jinja2, no script)
    retention/store     retention.sqlite: append-only holds and receipts, stored plans, intents
    retention/bucket    in a bucket: those rows as objects, the cache replayed, S3 legal holds
    retention/holds, select, rules, changes   holds in force, the selection, eligibility (pure)
    retention/facts, check, feed   an item's archived copy and re-hash, fresh read, feed
    retention/plan, planner        the plan codec (own sha256); ``retention plan`` (never deletes)
    retention/apply, receipts      ``retention apply``: intent, DELETE, confirm, receipt
    retention/audit, ledger, report   verify's receipt checks; deletions in manifests; tables
    archive/productions productions.sqlite: the production register (append-only Bates ranges)
    produce/run, register   ``crawler produce``: check, write, register, seal, place; --reproduce
    produce/bucket      in a bucket: the register's rows as objects named by their numbers
    produce/volume, family, sheet   the numbered walk: a project's family -> natives and texts
    produce/dat, edrm, files, place, bates   the load files, hashed files, production.json and
                        the bag, numbers and the only paths a production writes
    produce/verify      ``crawler verify-production``: its own DAT parser, every native rehashed
    seal/events, sealer the archive's history as log events; sync after each write (catch-up)
    seal/audit, proof   verify's checks of the log and of a kept checkpoint; export proofs
    seal/keyfile        keys init, and where writers find the signing key
    watch/loop, cycle   ``crawler watch``: the schedule, signals, backoff; one cycle (lock, crawl,
                        seal, search index, verify slice) -> a CycleReport
    watch/changes       a changes cycle's listing: the parent carried, then only what moved
    watch/metrics, listener, ping, oneshot   Prometheus figures set at a cycle's end; /metrics,
                        /healthz, /readyz; healthchecks.io pings; archive --metrics-file
    watch/lockwait, options, verifying   --lock-wait (exit 75); flags and [watch]; --verify-slice
    progress            live bar with ETA, log lines (text/json)
    summary             sizes, durations, the pace against the budget, the final summary
    simulator/*         the local Compliance API: dataset, endpoints, activity feed, faults, mutations
    demo, loop          ``make demo``; uvloop where available
"""

__version__ = "0.1.0"
