"""Reconnection: the server drops the connection (the token expires: close 4001); the client
gets a fresh token from its provider, reconnects and resumes after the last event it yielded."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, List

from conftest import run_async

from cidadao_realtime import InvestigationUpdateEvent, Publisher, RealtimeClient


@run_async(timeout=40)
async def test_resume_from_the_last_event_id_after_the_server_drops_the_connection(server):
    inv = f"inv-{uuid.uuid4().hex[:8]}"
    publisher = Publisher(server.http_url, server.service_token)
    calls = 0
    asked_again = asyncio.Event()
    published_meanwhile = asyncio.Event()

    async def token_provider() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            # Expires within 2 s: the server closes the connection with 4001 then.
            return server.token("resumer", investigations=[inv], expires_in=2)
        asked_again.set()
        # Hold the reconnection until events were published while disconnected.
        await published_meanwhile.wait()
        return server.token("resumer", investigations=[inv])

    events: List[Any] = []
    async with RealtimeClient(server.ws_url, token_provider, backoff_base=0.05) as client:
        sub = client.investigation_updates(inv)

        async def consume() -> None:
            async for event in sub:
                events.append(event)
                if len(events) == 4:
                    return

        task = asyncio.ensure_future(consume())
        await sub.wait_live(timeout=10)
        before = await publisher.notify_investigation_update(inv, "progress", {"progress": 10})
        await asyncio.wait_for(asked_again.wait(), 10)
        assert not sub.live
        meanwhile = [await publisher.notify_investigation_update(inv, "progress", {"progress": p}) for p in (20, 30)]
        published_meanwhile.set()
        await sub.wait_live(timeout=10)
        after = await publisher.notify_investigation_update(inv, "progress", {"progress": 40})
        await asyncio.wait_for(task, 10)

    # Each event once, in order: the two published while disconnected replayed from the last id.
    assert [e.id for e in events] == [before, *meanwhile, after]
    assert [e.data.progress for e in events] == [10.0, 20.0, 30.0, 40.0]
    assert all(isinstance(e, InvestigationUpdateEvent) for e in events)
    assert sub.connections == 2
    assert calls == 2


def test_backoff_is_full_jitter_exponential_and_bounded():
    client = RealtimeClient("http://localhost:8000", "token", backoff_base=0.5, backoff_max=8)
    for attempt, cap in ((0, 0.5), (1, 1.0), (3, 4.0), (10, 8.0), (100, 8.0)):
        delays = [client.backoff(attempt) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap / 2
    assert client.url == "ws://localhost:8000/api/v1/ws"
