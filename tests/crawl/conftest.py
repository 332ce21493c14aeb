"""Fixtures shared with tests/api: the aioresponses mock made to work with this aiohttp."""

from tests.api.conftest import mocked

__all__ = ["mocked"]
