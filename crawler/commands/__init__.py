"""One module per subcommand: flags in, calls to the library, text out."""

from __future__ import annotations

from crawler.api.client import ClientConfig
from crawler.config import Settings


def client_config(settings: Settings) -> ClientConfig:
    return ClientConfig(
        base_url=settings.base_url,
        api_key=settings.api_key,
        rate=settings.rate,
        max_attempts=settings.max_attempts,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_json_bytes=settings.max_json_bytes,
        backoff_base=settings.backoff_base,
        backoff_cap=settings.backoff_cap,
    )
