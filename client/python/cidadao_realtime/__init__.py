"""Cidadão.AI realtime: subscribe over the JSON dialect, publish over HTTP."""

from .client import RealtimeClient, Subscription, UnknownEvent, parse_event
from .errors import Conflict, Forbidden, InvalidInput, RateLimited, RealtimeError, Unauthorized, Unavailable
from .events import *  # noqa: F401,F403
from .events import __all__ as _event_names
from .publisher import (
    Publisher,
    configure,
    create_chat_session,
    notify_analysis_update,
    notify_anomaly_detected,
    notify_investigation_update,
    send_chat,
    send_notification,
)

__all__ = [
    "RealtimeClient",
    "Subscription",
    "UnknownEvent",
    "parse_event",
    "RealtimeError",
    "Unauthorized",
    "Forbidden",
    "RateLimited",
    "InvalidInput",
    "Unavailable",
    "Conflict",
    "Publisher",
    "configure",
    "notify_investigation_update",
    "notify_anomaly_detected",
    "notify_analysis_update",
    "send_notification",
    "create_chat_session",
    "send_chat",
    *_event_names,
]
