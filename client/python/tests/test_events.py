"""Subscribing over the JSON dialect: every event type arrives as its typed object."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone
from typing import Any, Awaitable, List, Tuple

from conftest import run_async

from cidadao_realtime import (
    AnalysisUpdateErrorData,
    AnalysisUpdateEvent,
    AnalysisUpdatePartialResultData,
    AnalysisUpdateStatusData,
    AnomalyDetectedData,
    AnomalyDetectedEvent,
    ChatMessageData,
    ChatMessageEvent,
    ChatTokenData,
    ChatTokenEvent,
    Forbidden,
    InvestigationUpdateAgentFindingData,
    InvestigationUpdateEvent,
    InvestigationUpdateProgressData,
    InvestigationUpdateReportStatusData,
    InvestigationUpdateStatusData,
    NotificationData,
    NotificationEvent,
    Publisher,
    RealtimeClient,
    ResyncRequiredData,
    ResyncRequiredEvent,
    Subscription,
    TypingData,
    TypingEvent,
)


async def collect(sub: Subscription, until: Any, timeout: float = 10) -> Tuple[List[Any], Awaitable[None]]:
    """Starts consuming a subscription and returns once it is live: the list its events go to, and
    an awaitable that completes when `until(events)` holds."""
    events: List[Any] = []

    async def consume() -> None:
        async for event in sub:
            events.append(event)
            if until(events):
                return

    task = asyncio.ensure_future(consume())
    waiter = asyncio.ensure_future(sub.wait_live())
    done, _ = await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()
    if task in done:
        task.result()
    return events, asyncio.wait_for(task, timeout)


def aware(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset().total_seconds() == 0


@run_async()
async def test_investigation_updates_and_anomalies_as_typed_events(server):
    inv = f"inv-{uuid.uuid4().hex[:8]}"
    publisher = Publisher(server.http_url, server.service_token)
    async with RealtimeClient(server.ws_url, lambda: server.user_token) as client:
        sub = client.investigation_updates(inv)
        events, done = await collect(sub, lambda ev: len(ev) == 5)
        sent_at = datetime.utcnow()
        ids = [
            await publisher.notify_investigation_update(inv, "status", {"status": "running", "message": "started", "timestamp": sent_at}),
            await publisher.notify_investigation_update(inv, "progress", {"progress": 42.5, "stage": "collecting"}),
            await publisher.notify_investigation_update(inv, "agent_finding", {"agent": "zumbi", "finding": "overpricing", "details": {"rows": [1, 2]}}),
            await publisher.notify_investigation_update(inv, "report_status", {"status": "ready", "url": "https://example.org/r.pdf"}),
            await publisher.notify_anomaly_detected(
                inv, {"severity": "critical", "description": "3x market price", "contract_id": "CT-1", "confidence": 0.94}
            ),
        ]
        await done
    assert [e.id for e in events] == ids
    assert sub.last_event_id == ids[-1]
    status, progress, finding, report, anomaly = events
    assert isinstance(status, InvestigationUpdateEvent) and isinstance(status.data, InvestigationUpdateStatusData)
    assert status.type == "investigation_update"
    assert aware(status.timestamp)
    assert (status.data.investigation_id, status.data.update_type, status.data.status, status.data.message) == (inv, "status", "running", "started")
    # The naive utcnow() was taken as UTC by the server.
    assert aware(status.data.timestamp)
    assert abs((status.data.timestamp - sent_at.replace(tzinfo=timezone.utc)).total_seconds()) < 0.001
    assert isinstance(progress.data, InvestigationUpdateProgressData)
    assert progress.data.progress == 42.5 and isinstance(progress.data.progress, float) and progress.data.stage == "collecting"
    assert isinstance(finding.data, InvestigationUpdateAgentFindingData)
    assert finding.data.details == {"rows": [1, 2]}
    assert isinstance(report.data, InvestigationUpdateReportStatusData) and report.data.url == "https://example.org/r.pdf"
    assert isinstance(anomaly, AnomalyDetectedEvent) and isinstance(anomaly.data, AnomalyDetectedData)
    assert (anomaly.data.severity, anomaly.data.contract_id, anomaly.data.confidence) == ("critical", "CT-1", 0.94)


@run_async()
async def test_analysis_updates_as_typed_events(server):
    analysis = f"an-{uuid.uuid4().hex[:8]}"
    publisher = Publisher(server.http_url, server.service_token)

    async def token() -> str:
        return server.user_token

    async with RealtimeClient(server.http_url, token) as client:
        events, done = await collect(client.analysis_updates(analysis), lambda ev: len(ev) == 3)
        await publisher.notify_analysis_update(analysis, "status", {"status": "running", "progress": 5})
        await publisher.notify_analysis_update(analysis, "partial_result", {"result": {"rows": 120}, "sequence": 1})
        await publisher.notify_analysis_update(analysis, "error", {"code": "E_SOURCE", "message": "source down"})
        await done
    assert all(isinstance(e, AnalysisUpdateEvent) and e.type == "analysis_update" for e in events)
    status, partial, error = (e.data for e in events)
    assert isinstance(status, AnalysisUpdateStatusData) and status.progress == 5.0 and isinstance(status.progress, float)
    assert isinstance(partial, AnalysisUpdatePartialResultData) and partial.result == {"rows": 120} and partial.sequence == 1
    assert isinstance(partial.sequence, int)
    assert isinstance(error, AnalysisUpdateErrorData) and (error.code, error.message) == ("E_SOURCE", "source down")


@run_async()
async def test_chat_messages_tokens_and_typing_as_typed_events(server):
    user = f"chat-{uuid.uuid4().hex[:8]}"
    token = server.token(user)
    me = Publisher(server.http_url, token)
    session = await me.create_chat_session()
    async with RealtimeClient(server.ws_url, lambda: token) as client:

        def replied(ev: List[Any]) -> bool:
            return any(isinstance(e, ChatMessageEvent) and e.data.role == "assistant" for e in ev) and any(
                isinstance(e, TypingEvent) for e in ev
            )

        events, done = await collect(client.chat(session), replied, timeout=20)
        await me.send_typing(session, True)
        message_id = await me.send_chat(session, "who supplied CT-1?")
        await done
    typing = next(e for e in events if isinstance(e, TypingEvent))
    assert isinstance(typing.data, TypingData) and typing.data.is_typing is True and typing.data.user_id == user
    mine = next(e for e in events if isinstance(e, ChatMessageEvent) and e.data.role == "user")
    assert isinstance(mine.data, ChatMessageData) and mine.data.message_id == message_id and mine.data.content == "who supplied CT-1?"
    tokens = [e for e in events if isinstance(e, ChatTokenEvent)]
    assert tokens and all(isinstance(t.data, ChatTokenData) for t in tokens)
    assert tokens[-1].data.done is True
    reply = next(e for e in events if isinstance(e, ChatMessageEvent) and e.data.role == "assistant")
    assert reply.data.content == "".join(t.data.delta for t in tokens)


@run_async()
async def test_notifications_as_typed_events(server):
    user = f"notified-{uuid.uuid4().hex[:8]}"
    async with RealtimeClient(server.ws_url, lambda: server.token(user)) as client:
        events, done = await collect(client.notifications(), lambda ev: len(ev) == 1)
        ids = await Publisher(server.http_url, server.service_token).send_notification(
            user, title="Report ready", body="inv-123", level="warning", link="https://example.org/inv-123"
        )
        await done
    (event,) = events
    assert isinstance(event, NotificationEvent) and isinstance(event.data, NotificationData)
    assert event.id == ids[0]
    assert (event.data.title, event.data.body, event.data.level, event.data.link) == ("Report ready", "inv-123", "warning", "https://example.org/inv-123")


@run_async()
async def test_resync_required_is_its_own_event_type(server):
    inv = f"inv-{uuid.uuid4().hex[:8]}"
    async with RealtimeClient(server.ws_url, lambda: server.user_token) as client:
        events, done = await collect(client.investigation_updates(inv, last_event_id="999999999999-0"), lambda ev: len(ev) == 1)
        await done
    (event,) = events
    assert isinstance(event, ResyncRequiredEvent) and isinstance(event.data, ResyncRequiredData)
    assert event.data.reason in ("unknown_event_id", "history_trimmed")
    assert event.data.last_event_id == "999999999999-0"


@run_async()
async def test_a_subscription_the_token_does_not_grant_raises_forbidden(server):
    async with RealtimeClient(server.ws_url, lambda: server.token("nobody", investigations=["inv-mine"])) as client:
        try:
            async for _ in client.investigation_updates("inv-someone-elses"):
                raise AssertionError("an event of a forbidden investigation")
        except Forbidden as err:
            assert err.reason == "not_granted"
        else:
            raise AssertionError("no Forbidden")
