"""A server restart with Redis (run by test/python.test.ts's second test only): the client
reconnects to the restarted server and resumes, the events published meanwhile (through
another node on the same Redis) replayed once each, in order."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any, List

import pytest
from conftest import run_async

from cidadao_realtime import Publisher, RealtimeClient

RESTART_DIR = os.environ.get("CIDADAO_TEST_RESTART_DIR")


async def wait_until(predicate: Any, timeout: float = 15) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


@pytest.mark.skipif(RESTART_DIR is None, reason="run by test/python.test.ts, which restarts the server")
@run_async(timeout=60)
async def test_a_server_restart_resumes_from_the_last_event_id(server):
    signals = Path(RESTART_DIR)
    inv = f"inv-{uuid.uuid4().hex[:8]}"
    # The restarted node's and the other node's HTTP endpoints share the Redis.
    other = Publisher(os.environ["CIDADAO_TEST_OTHER_HTTP_URL"], server.service_token)
    events: List[Any] = []
    async with RealtimeClient(server.ws_url, lambda: server.user_token, backoff_base=0.1, backoff_max=0.5) as client:
        sub = client.investigation_updates(inv)

        async def consume() -> None:
            async for event in sub:
                events.append(event)
                if len(events) == 3:
                    return

        task = asyncio.ensure_future(consume())
        await sub.wait_live(timeout=10)
        first = await other.notify_investigation_update(inv, "status", {"status": "running"})
        await wait_until(lambda: len(events) == 1)
        (signals / "received-first").touch()
        # The test closes the server (1001); the client tries to reconnect, in vain until it is back.
        await wait_until(lambda: not sub.live)
        meanwhile = await other.notify_investigation_update(inv, "progress", {"progress": 50})
        (signals / "published-meanwhile").touch()
        await sub.wait_live(timeout=20)
        after = await other.notify_investigation_update(inv, "status", {"status": "completed"})
        await asyncio.wait_for(task, 10)
    assert [e.id for e in events] == [first, meanwhile, after]
    assert sub.connections >= 2
