"""Subscribing over the JSON dialect, with reconnection and resume."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any, AsyncIterator, Dict, Optional, Set

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ._convert import parse_datetime
from .errors import RealtimeError, Unauthorized, error_from
from .events import EVENT_TYPES
from .publisher import TokenProvider, resolve_token

log = logging.getLogger("cidadao_realtime")

#: Close codes after which reconnecting cannot help.
_FATAL_CLOSE = {1009}
#: Errors answered to a subscribe that retrying cannot fix.
_FATAL_CODES = {"FORBIDDEN", "BAD_REQUEST", "NOT_FOUND", "PARSE_ERROR"}


@dataclass(frozen=True)
class UnknownEvent:
    """An event of a type this version of the package does not know (a newer server)."""

    type: str
    id: str
    timestamp: Optional[datetime]
    data: Any


def parse_event(raw: Dict[str, Any]) -> Any:
    """A JSON event frame as its typed event object."""
    cls = EVENT_TYPES.get(raw.get("type"))
    if cls is None:
        stamp = raw.get("timestamp")
        return UnknownEvent(raw.get("type", ""), raw.get("id", ""), parse_datetime(stamp) if stamp else None, raw.get("data"))
    return cls.from_json(raw)


def _ws_url(url: str) -> str:
    base = url.rstrip("/")
    if base.startswith("http"):
        base = "ws" + base[4:]
    if not base.endswith("/api/v1/ws"):
        base += "/api/v1/ws"
    return base


class Subscription:
    """One subscription: an async iterator of typed events that reconnects and resumes by itself.

    ``last_event_id`` is the id of the last event yielded; a new subscription given it resumes after it.
    """

    def __init__(self, client: "RealtimeClient", target: Dict[str, Any], last_event_id: Optional[str]):
        self._client = client
        self._target = target
        self.last_event_id = last_event_id
        self._ws: Any = None
        self._closed = False
        #: Connections made (1 + reconnections), for logs and tests.
        self.connections = 0
        self._live: Optional[asyncio.Event] = None

    @property
    def _live_event(self) -> asyncio.Event:
        if self._live is None:
            self._live = asyncio.Event()
        return self._live

    @property
    def live(self) -> bool:
        """Whether the server has confirmed the subscription on the current connection."""
        return self._live is not None and self._live.is_set()

    async def wait_live(self, timeout: Optional[float] = None) -> None:
        """Waits until the server confirms the subscription (events published from then on are delivered)."""
        await asyncio.wait_for(self._live_event.wait(), timeout)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._events()

    async def __aenter__(self) -> "Subscription":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True
        ws = self._ws
        if ws is not None:
            await ws.close()

    async def _events(self) -> AsyncIterator[Any]:
        client = self._client
        client._subscriptions.add(self)
        attempt = 0
        auth_failures = 0
        try:
            while not self._closed:
                try:
                    async for event in self._connection():
                        attempt = 0
                        auth_failures = 0
                        yield event
                    if self._closed:
                        return
                except Unauthorized:
                    auth_failures += 1
                    if auth_failures > client.max_auth_failures:
                        raise
                except RealtimeError as err:
                    if err.code in _FATAL_CODES:
                        raise
                    log.info("subscription %s: %s; reconnecting", self._target, err)
                except (ConnectionClosed, InvalidHandshake, OSError, asyncio.TimeoutError) as err:
                    code = getattr(err, "code", None)
                    if code in _FATAL_CLOSE:
                        raise
                    log.info("subscription %s: connection lost (%s); reconnecting", self._target, err)
                if self._closed:
                    return
                await asyncio.sleep(client.backoff(attempt))
                attempt += 1
        finally:
            client._subscriptions.discard(self)
            await self.close()

    async def _connection(self) -> AsyncIterator[Any]:
        """One connection: authenticate with a fresh token, subscribe from the last id, yield events until it ends."""
        client = self._client
        token = await resolve_token(client.token_provider)
        ws = await asyncio.wait_for(
            websockets.connect(client.url, ping_interval=None, close_timeout=1, max_size=client.max_message_bytes),
            client.connect_timeout,
        )
        self._ws = ws
        self.connections += 1
        pinger = None
        try:
            await ws.send(json.dumps({"type": "auth", "data": {"token": token}}))
            data = dict(self._target)
            if self.last_event_id:
                data["last_event_id"] = self.last_event_id
            await ws.send(json.dumps({"type": "subscribe", "data": data}))
            subscribed = False
            pinger = asyncio.ensure_future(self._ping(ws))
            while True:
                try:
                    text = await ws.recv()
                except ConnectionClosed as closed:
                    if self._closed:
                        return
                    if closed.code == 4001:
                        raise Unauthorized(closed.reason or "token refused", code="UNAUTHORIZED", reason=closed.reason) from closed
                    raise
                frame = json.loads(text)
                kind = frame.get("type")
                if kind == "pong" or kind == "unsubscribed":
                    continue
                if kind == "subscribed":
                    subscribed = True
                    self._live_event.set()
                    continue
                if kind == "error":
                    err = frame.get("data") or {}
                    error = error_from(err.get("code"), err.get("reason"), err.get("message") or "error")
                    if not subscribed:
                        raise error
                    log.warning("server error on %s: %s", self._target, error)
                    continue
                event = parse_event(frame)
                if event.id:
                    self.last_event_id = event.id
                yield event
        finally:
            if pinger is not None:
                pinger.cancel()
            self._live_event.clear()
            self._ws = None
            await ws.close()

    async def _ping(self, ws: Any) -> None:
        """The dialect's ``{"type":"ping"}`` now and then, so idle proxies keep the connection."""
        try:
            while True:
                await asyncio.sleep(self._client.ping_interval)
                await ws.send(json.dumps({"type": "ping"}))
        except (ConnectionClosed, asyncio.CancelledError):
            return


class RealtimeClient:
    """A client of the real-time API's JSON dialect.

    ``url`` is the server (``http://host:8000``) or its WebSocket endpoint (``ws://host:8000/api/v1/ws``);
    ``token_provider`` a token, or a sync or async callable called for a fresh token at every (re)connection.
    Each subscription is its own connection; all are closed when the ``async with`` block ends.
    """

    def __init__(
        self,
        url: str,
        token_provider: TokenProvider,
        *,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        ping_interval: float = 25.0,
        connect_timeout: float = 10.0,
        max_auth_failures: int = 3,
        max_message_bytes: int = 16 * 1024 * 1024,
    ):
        self.url = _ws_url(url)
        self.token_provider = token_provider
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.ping_interval = ping_interval
        self.connect_timeout = connect_timeout
        self.max_auth_failures = max_auth_failures
        self.max_message_bytes = max_message_bytes
        self._subscriptions: Set[Subscription] = set()

    def backoff(self, attempt: int) -> float:
        """Full jitter: a uniform delay up to ``min(backoff_max, backoff_base * 2**attempt)``."""
        return random.uniform(0, min(self.backoff_max, self.backoff_base * (2 ** min(attempt, 30))))

    async def __aenter__(self) -> "RealtimeClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        for sub in list(self._subscriptions):
            await sub.close()

    def investigation_updates(self, investigation_id: str, last_event_id: Optional[str] = None) -> Subscription:
        """``investigation_update`` and ``anomaly_detected`` events of one investigation (and ``resync_required``)."""
        return Subscription(self, {"investigation_id": investigation_id}, last_event_id)

    def analysis_updates(self, analysis_id: str, last_event_id: Optional[str] = None) -> Subscription:
        """``analysis_update`` events of one analysis (and ``resync_required``)."""
        return Subscription(self, {"analysis_id": analysis_id}, last_event_id)

    def chat(self, session_id: str, last_event_id: Optional[str] = None) -> Subscription:
        """``chat_message``, ``chat_token`` and ``typing`` events of a chat session, and those of the investigations it watches."""
        return Subscription(self, {"session_id": session_id}, last_event_id)

    def notifications(self, last_event_id: Optional[str] = None) -> Subscription:
        """``notification`` events addressed to the token's user."""
        return Subscription(self, {"notifications": True}, last_event_id)
