"""Publishing over HTTP with a token (``POST /api/v1/trpc/<procedure>``), standard library only."""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import urllib.error
import urllib.request
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Union

from ._convert import camel_keys, json_default
from .errors import RealtimeError, Unavailable, error_from

TokenProvider = Union[str, Callable[[], Union[str, Awaitable[str]]]]


async def resolve_token(token: TokenProvider) -> str:
    """A token, or what a sync or async callable returns."""
    if isinstance(token, str):
        return token
    value = token()
    if inspect.isawaitable(value):
        value = await value
    return str(value)


def _http_base(url: str) -> str:
    base = url.rstrip("/")
    if base.startswith("ws"):
        base = "http" + base[2:]
    for suffix in ("/api/v1/ws", "/api/v1/trpc"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base


class Publisher:
    """Calls the API's mutations over HTTP. ``token`` is a string, or a sync or async callable returning one.

    Every publish (``notify_*``, ``send_notification``) carries an ``idempotencyKey``: a new uuid4 per
    call unless one is given. A publish that fails with :class:`Unavailable` (the server unreachable,
    a connection cut before its answer, a timeout, a 5xx such as ``engine_unavailable``) is retried
    up to ``retries`` times, with full-jitter backoff from ``retry_delay`` seconds, under the same key:
    the server stores the event at most once, and a retry after a lost reply gets the first call's ids.
    """

    def __init__(self, base_url: str, token: TokenProvider, *, timeout: float = 10.0, retries: int = 3,
                 retry_delay: float = 0.2):
        self.base_url = _http_base(base_url)
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay

    async def publish(self, procedure: str, payload: Dict[str, Any], idempotency_key: Optional[str] = None) -> Any:
        """Calls a publish mutation under an idempotency key (a new uuid4 unless given), retrying with it when unavailable."""
        body = {**payload, "idempotencyKey": idempotency_key or str(uuid.uuid4())}
        attempt = 0
        while True:
            try:
                return await self.call(procedure, body)
            except Unavailable:
                if attempt >= self.retries:
                    raise
                attempt += 1
                await asyncio.sleep(random.uniform(0, self.retry_delay * 2 ** (attempt - 1)))

    async def call(self, procedure: str, payload: Dict[str, Any]) -> Any:
        """Calls one mutation with a plain JSON input; returns its result (``result.data.json``)."""
        token = await resolve_token(self.token)
        body = json.dumps(payload, default=json_default).encode("utf-8")
        return await asyncio.get_running_loop().run_in_executor(None, self._post, procedure, body, token)

    def _post(self, procedure: str, body: bytes, token: str) -> Any:
        request = urllib.request.Request(
            f"{self.base_url}/api/v1/trpc/{procedure}",
            data=body,
            method="POST",
            headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as err:
            raise self._error(err) from None
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise Unavailable(f"{procedure}: {err}") from err
        return answer.get("result", {}).get("data", {}).get("json")

    @staticmethod
    def _error(err: urllib.error.HTTPError) -> RealtimeError:
        try:
            raw = json.loads(err.read().decode("utf-8"))
        except (ValueError, OSError):
            raw = {}
        error = raw.get("error", {}) if isinstance(raw, dict) else {}
        error = error.get("json", error) if isinstance(error, dict) else {}
        data = error.get("data") or {}
        retry_after = err.headers.get("retry-after") if err.headers else None
        return error_from(
            data.get("code"),
            data.get("reason"),
            error.get("message") or f"HTTP {err.code}",
            status=err.code,
            issues=data.get("issues"),
            retry_after=float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None,
        )

    # The original integration's functions, as methods.

    async def notify_investigation_update(self, investigation_id: str, update_type: str, data: Dict[str, Any], *,
                                          idempotency_key: Optional[str] = None) -> str:
        """Publishes an ``investigation_update``; ``data`` as in the contract (snake_case keys accepted). Returns its event id."""
        result = await self.publish(
            "investigation.notifyUpdate",
            {"investigationId": investigation_id, "updateType": update_type, "data": camel_keys(data)},
            idempotency_key,
        )
        return result["id"]

    async def notify_anomaly_detected(self, investigation_id: str, anomaly_data: Dict[str, Any], *,
                                      idempotency_key: Optional[str] = None) -> str:
        """Publishes an ``anomaly_detected``: ``severity``, ``description``, ``contract_id``, ``confidence``. Returns its event id."""
        result = await self.publish(
            "investigation.notifyAnomaly",
            {"investigationId": investigation_id, "anomaly": camel_keys(anomaly_data)},
            idempotency_key,
        )
        return result["id"]

    async def notify_analysis_update(self, analysis_id: str, update_type: str, data: Dict[str, Any], *,
                                     idempotency_key: Optional[str] = None) -> str:
        """Publishes an ``analysis_update``. Returns its event id."""
        result = await self.publish(
            "analysis.notifyUpdate",
            {"analysisId": analysis_id, "updateType": update_type, "data": camel_keys(data)},
            idempotency_key,
        )
        return result["id"]

    async def send_notification(
        self,
        user_id: Optional[Union[str, List[str]]] = None,
        notification: Optional[Dict[str, Any]] = None,
        *,
        broadcast: bool = False,
        title: Optional[str] = None,
        body: Optional[str] = None,
        level: Optional[str] = None,
        link: Optional[str] = None,
        idempotency_key: Optional[str] = None,
    ) -> List[str]:
        """Sends a notification to one user (or a list of users, or ``broadcast=True``). Returns the event ids.

        The notification is ``{"title", "body" (or "message"), "level", "link"}``, or the keyword arguments.
        """
        fields = dict(notification or {})
        if "message" in fields and "body" not in fields:
            fields["body"] = fields.pop("message")
        for key, value in (("title", title), ("body", body), ("level", level), ("link", link)):
            if value is not None:
                fields[key] = value
        fields.setdefault("level", "info")
        if broadcast:
            target: Dict[str, Any] = {"broadcast": True}
        else:
            users = [user_id] if isinstance(user_id, str) else list(user_id or [])
            target = {"userIds": users}
        result = await self.publish("notification.send", {**target, **camel_keys(fields)}, idempotency_key)
        return list(result["ids"])

    # A user's chat, over HTTP.

    async def create_chat_session(self) -> str:
        """A new chat session owned by the token's user; returns its id."""
        result = await self.call("chat.createSession", {})
        return result["sessionId"]

    async def send_chat(self, session_id: str, content: str) -> str:
        """Sends a user message to a chat session; returns its message id (the reply streams on ``client.chat``)."""
        result = await self.call("chat.send", {"sessionId": session_id, "content": content})
        return result["messageId"]

    async def send_typing(self, session_id: str, is_typing: bool) -> None:
        """Tells the session's other watchers whether the token's user is typing."""
        await self.call("chat.typing", {"sessionId": session_id, "isTyping": is_typing})


_default: Optional[Publisher] = None


def configure(base_url: str, token: TokenProvider, *, timeout: float = 10.0, retries: int = 3, retry_delay: float = 0.2) -> Publisher:
    """Sets the publisher the module-level functions use: the server's URL and a service token."""
    global _default
    _default = Publisher(base_url, token, timeout=timeout, retries=retries, retry_delay=retry_delay)
    return _default


def _publisher() -> Publisher:
    if _default is None:
        raise RuntimeError("cidadao_realtime.configure(base_url, token) was not called")
    return _default


async def notify_investigation_update(investigation_id: str, update_type: str, data: Dict[str, Any], *,
                                      idempotency_key: Optional[str] = None) -> str:
    return await _publisher().notify_investigation_update(investigation_id, update_type, data, idempotency_key=idempotency_key)


async def notify_anomaly_detected(investigation_id: str, anomaly_data: Dict[str, Any], *, idempotency_key: Optional[str] = None) -> str:
    return await _publisher().notify_anomaly_detected(investigation_id, anomaly_data, idempotency_key=idempotency_key)


async def notify_analysis_update(analysis_id: str, update_type: str, data: Dict[str, Any], *,
                                 idempotency_key: Optional[str] = None) -> str:
    return await _publisher().notify_analysis_update(analysis_id, update_type, data, idempotency_key=idempotency_key)


async def send_notification(user_id: Optional[Union[str, List[str]]] = None, notification: Optional[Dict[str, Any]] = None, **kwargs: Any) -> List[str]:
    return await _publisher().send_notification(user_id, notification, **kwargs)


async def create_chat_session() -> str:
    return await _publisher().create_chat_session()


async def send_chat(session_id: str, content: str) -> str:
    return await _publisher().send_chat(session_id, content)
