"""Access keys and scopes, as the live service checks them."""

from __future__ import annotations

USER_DATA = "read:compliance_user_data"
ORG_DATA = "read:compliance_org_data"
DELETE = "delete:compliance_user_data"
ACTIVITIES = "read:compliance_activities"

ALL_SCOPES: frozenset[str] = frozenset({USER_DATA, ORG_DATA, DELETE, ACTIVITIES})
READ_SCOPES: frozenset[str] = frozenset({USER_DATA, ORG_DATA, ACTIVITIES})

DELETE_SCOPES: frozenset[str] = frozenset({DELETE})
# Read scopes without the feed: a key made before the feed was granted to it.
NO_FEED_SCOPES: frozenset[str] = frozenset({USER_DATA, ORG_DATA})

DEFAULT_KEY = "sk-ant-api01-simulator.not-a-real-key.0000"
DEFAULT_DELETE_KEY = "sk-ant-api01-simulator.delete-only.0000"


def key_from_headers(x_api_key: str | None, authorization: str | None) -> str | None:
    """The presented key: ``x-api-key`` first, else ``Authorization: Bearer <key>``."""
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


def scope_message(got: frozenset[str], needed: str) -> str:
    have = ", ".join(repr(s) for s in sorted(got))
    return f"Missing required scopes. Got: [{have}] Needed: [{needed!r}]"
