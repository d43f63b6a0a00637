"""Conversions between the contract's JSON and Python values."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any, Dict, Optional

_CAMEL = re.compile(r"_([a-z0-9])")


def parse_datetime(value: Any) -> datetime:
    """An ISO-8601 string of the contract (``...Z``) as an aware ``datetime`` in UTC."""
    if isinstance(value, datetime):
        return value
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def format_datetime(value: datetime) -> str:
    """A ``datetime`` as ISO-8601; a naive one stays offset-less (the server takes it as UTC)."""
    return value.isoformat()


def json_default(value: Any) -> Any:
    """``json.dumps``'s fallback: dates and datetimes as ISO strings, sets as lists."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "to_json"):
        return value.to_json()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def camel(key: str) -> str:
    """``contract_id`` → ``contractId``; a key already in camelCase stays as it is."""
    return _CAMEL.sub(lambda m: m.group(1).upper(), key)


def camel_keys(data: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The top-level keys of a dict in camelCase (values, nested dicts included, untouched)."""
    return {camel(k): v for k, v in (data or {}).items()}
