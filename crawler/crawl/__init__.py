"""The crawl: the only package that joins the API (``api/``) and the disk (``archive/``).

Modules, one job each::

    engine     Crawl.run(): queue, workers, stop and wind-down; RunResult
    snapshot   step 2: continue the unfinished snapshot or start one
    feed       step 2b: read the Activity Feed (scope read:compliance_activities) for what
               changed since the last snapshot; feed_plan: its window, position and dedupe
    holds      step 2c/9b: the legal holds in force; a held project's objects written held
    listing    step 3: the project list walk (the producer), carrying unchanged projects
    project    steps 5-7: one project's detail, attachment and collaborator pages -> its record
    bodies     steps 8-9: document and file bodies, once per snapshot / per md5
    work       ProjectJob, Outcome, SharedWork: what passes between them
    stats      runs, request counts and content totals, saved with each project
    manifest   step 10: the snapshot manifest, written last
"""

from crawler.crawl.engine import STOP_GRACE_SECONDS, Crawl, RunResult

__all__ = ["STOP_GRACE_SECONDS", "Crawl", "RunResult"]
