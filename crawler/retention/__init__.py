"""Retention, safely: delete upstream only what a verified snapshot holds.

Modules, one job each (the flow: ``crawler hold`` and ``crawler retention``
in :mod:`crawler.commands`, wired in :mod:`crawler.app`)::

    store      retention.sqlite: hold events, stored plans, intents, receipt rows
    holds      which holds are in force and which cover a project (pure)
    select     the plan's selection flags, ages and id files (pure)
    rules      eligibility: the reasons to refuse an item (pure)
    changes    has an item changed upstream: detail, attachments, document text (pure)
    feed       the Activity Feed as a change detector (optional: needs its scope)
    facts      what the archive holds of an item, whole or not, and a full re-hash
    check      facts offline, then online, for one item -> Facts
    plan       the plan file codec: canonical JSON with its own sha256
    planner    ``retention plan``: candidates, checks, the plan (never deletes)
    apply      ``retention apply``: re-check, intent, DELETE, confirm, receipt; reconcile
    receipts   the receipt codec and its storage (blobs, then the row)
    audit      ``crawler verify``'s part: receipts against their plans
    ledger     which projects a new snapshot lost to retention (for its manifest)
    report     the plan table and the totals printed
"""
