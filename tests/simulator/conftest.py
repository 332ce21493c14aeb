"""The simulator's own tests read the Activity Feed without its visibility lag.

They check the feed's parameters, paging and event shapes the moment a change is
made; the documented lag (up to about a minute, SimulatorConfig's default) has
tests of its own, which ask for it by name (``make_sim(feed_lag=...)``).
"""

from __future__ import annotations

from typing import Any

import pytest

from crawler.simulator import SimulatorConfig
from tests.conftest import MakeSim


@pytest.fixture
def make_sim(make_sim: MakeSim) -> MakeSim:
    def factory(config: SimulatorConfig | None = None, **kwargs: Any) -> Any:
        if config is None:
            kwargs.setdefault("feed_lag", 0.0)
        return make_sim(config, **kwargs)

    return factory
