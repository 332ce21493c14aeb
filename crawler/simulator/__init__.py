"""A local simulator of the Anthropic Compliance API, for tests, benchmarks and demos.

It serves every endpoint the archiver uses under ``/v1/compliance`` from a
synthetic organisation that is deterministic from a seed and holds the cases
that break crawlers (ties at page boundaries, >100 attachments, hostile
filenames, stale md5s, a project that 404s between list and fetch...). It
behaves like the live service: key and scope checks, a strict sliding-window
rate limit (any window length; ``reset`` is when the full budget is back, as
documented; optionally another consumer spending the same budget) with the
``anthropic-ratelimit-*`` headers, opaque expiring page
tokens holding ``+ / =``, short and empty pages, the error body shape,
``request-id`` on every response. Faults (latency, 5xx, resets, truncated or
malformed bodies, slow streams, wrong Content-MD5, token expiry) are seeded and
can be changed while it runs; mutations change the data between snapshots.

It shares no code with the client side (``crawler.api``, ``crawler.archive``):
if both sides read the docs wrongly through one helper, no test could tell.

It also serves the Activity Feed (``GET /activities``, see ``activity``): every
mutation records the event the live service would, every authenticated request
a ``compliance_api_accessed`` event, with an optional seeded visibility lag;
and both DELETE endpoints, for a separate delete-only key.

Public API::

    from crawler.simulator import (SimulatorConfig, DatasetSpec, FaultPlan, EndpointFaults,
                                   Simulator, running_simulator, ALL_SCOPES, READ_SCOPES,
                                   NO_FEED_SCOPES, DELETE_SCOPES)
    async with running_simulator(SimulatorConfig(dataset=DatasetSpec(projects=250))) as sim:
        sim.base_url, sim.key, sim.delete_key, sim.dataset, sim.counters, sim.faults
        changes = sim.mutate(seed=2, fraction=0.01, kinds="all", bulk=0, noise=0)
        sim.feed.rendered(), sim.feed.advance(60), sim.counters.delete_calls(project_id)

Keys (``SimulatorConfig.keys``): by default ``DEFAULT_KEY`` reads (user data, org
data, activities) and ``DEFAULT_DELETE_KEY`` only deletes; ``sim.add_key`` adds one
at run time. ``SimulatorConfig.feed_lag`` (seconds) delays each event's visibility.

Ground truth: ``sim.dataset.projects_truth(filters)``, ``.project(id)``,
``.document(id)``, ``.file(id)``, ``.list_pages(filters, limit)``,
``.minimum_requests(filters, files, document_metadata)``, ``.cases``.
The same ``DatasetSpec`` always builds the same data;
``spec.to_cli_args()`` rebuilds it in ``crawler simulate``.
"""

from crawler.simulator.activity import ActivityLog
from crawler.simulator.auth import (
    ACTIVITIES,
    ALL_SCOPES,
    DEFAULT_DELETE_KEY,
    DEFAULT_KEY,
    DELETE,
    DELETE_SCOPES,
    NO_FEED_SCOPES,
    ORG_DATA,
    READ_SCOPES,
    USER_DATA,
)
from crawler.simulator.counters import Counters
from crawler.simulator.dataset import (
    Cases,
    Dataset,
    DatasetSpec,
    DocumentTruth,
    FileTruth,
    ProjectFilters,
    ProjectTruth,
)
from crawler.simulator.faults import ENDPOINTS, EndpointFaults, FaultPlan
from crawler.simulator.mutations import DEFAULT_KINDS, KINDS, ChangeSet
from crawler.simulator.server import Simulator, SimulatorConfig, running_simulator

__all__ = [
    "ACTIVITIES",
    "ALL_SCOPES",
    "DEFAULT_DELETE_KEY",
    "DEFAULT_KEY",
    "DEFAULT_KINDS",
    "DELETE",
    "DELETE_SCOPES",
    "ENDPOINTS",
    "KINDS",
    "NO_FEED_SCOPES",
    "ORG_DATA",
    "READ_SCOPES",
    "USER_DATA",
    "ActivityLog",
    "Cases",
    "ChangeSet",
    "Counters",
    "Dataset",
    "DatasetSpec",
    "DocumentTruth",
    "EndpointFaults",
    "FaultPlan",
    "FileTruth",
    "ProjectFilters",
    "ProjectTruth",
    "Simulator",
    "SimulatorConfig",
    "running_simulator",
]
