"""Publishing over HTTP: the original integration functions, ids back, typed errors."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime

import pytest
from conftest import run_async

import cidadao_realtime
from cidadao_realtime import Forbidden, InvalidInput, Publisher, RateLimited, Unauthorized, Unavailable

EVENT_ID = re.compile(r"^\d{1,15}-\d{1,15}$")


@run_async()
async def test_the_module_functions_publish_and_return_event_ids(server):
    cidadao_realtime.configure(server.http_url, server.service_token)
    status = "running"
    first = await cidadao_realtime.notify_investigation_update(
        investigation_id="inv-pub", update_type="status", data={"status": status, "timestamp": datetime.utcnow()}
    )
    anomaly = await cidadao_realtime.notify_anomaly_detected(
        investigation_id="inv-pub",
        anomaly_data={"severity": "high", "description": "split purchases", "contract_id": "CT-9", "confidence": 0.8},
    )
    analysis = await cidadao_realtime.notify_analysis_update(
        analysis_id="an-pub", update_type="status", data={"status": "running", "progress": 10}
    )
    ids = await cidadao_realtime.send_notification("user-42", {"title": "Report ready", "body": "inv-pub", "level": "info"})
    for event_id in (first, anomaly, analysis, *ids):
        assert EVENT_ID.match(event_id), event_id
    assert len(ids) == 1


@run_async()
async def test_a_token_provider_may_be_an_async_callable(server):
    async def token() -> str:
        return server.service_token

    publisher = Publisher(server.ws_url, token)
    event_id = await publisher.notify_investigation_update("inv-pub", "progress", {"progress": 50, "stage": "collecting"})
    assert EVENT_ID.match(event_id)


@run_async()
async def test_publishing_with_a_user_token_raises_forbidden(server):
    publisher = Publisher(server.http_url, server.user_token)
    with pytest.raises(Forbidden) as raised:
        await publisher.notify_investigation_update("inv-pub", "status", {"status": "running"})
    assert raised.value.code == "FORBIDDEN"
    assert raised.value.reason == "service_role_required"
    assert raised.value.status == 403


@run_async()
async def test_a_wrong_input_raises_invalid_input_naming_the_field(server):
    publisher = Publisher(server.http_url, server.service_token)
    with pytest.raises(InvalidInput) as raised:
        await publisher.notify_investigation_update("inv-pub", "progress", {"progress": 101})
    assert raised.value.status == 400
    assert [issue["path"] for issue in raised.value.issues] == ["data.progress"], raised.value.issues
    assert "progress" in str(raised.value)


@run_async()
async def test_a_bad_token_raises_unauthorized(server):
    with pytest.raises(Unauthorized):
        await Publisher(server.http_url, "not-a-token").create_chat_session()


@run_async()
async def test_an_unreachable_server_raises_unavailable():
    with pytest.raises(Unavailable):
        await Publisher("http://127.0.0.1:9", "token", timeout=2).create_chat_session()


@run_async(timeout=60)
async def test_a_burst_of_chat_messages_is_rate_limited_and_the_publisher_stays_usable(server):
    user = f"burst-{uuid.uuid4().hex[:8]}"
    publisher = Publisher(server.http_url, server.token(user))
    session = await publisher.create_chat_session()
    results = await asyncio.gather(*(publisher.send_chat(session, f"message {i}") for i in range(300)), return_exceptions=True)
    limited = [r for r in results if isinstance(r, RateLimited)]
    others = [r for r in results if isinstance(r, BaseException) and not isinstance(r, RateLimited)]
    assert others == []
    assert limited, "300 calls at once were all accepted"
    # The per-user HTTP bucket (and the session's bound on replies in flight) refuse with 429.
    assert {r.reason for r in limited} <= {"rate_limited", "too_many_replies"}
    assert "rate_limited" in {r.reason for r in limited}
    assert all(r.status == 429 and r.code == "TOO_MANY_REQUESTS" for r in limited)
    assert len(limited) < 300
    # The bucket refills: the same publisher's next call goes through.
    for _ in range(100):
        try:
            message_id = await publisher.send_chat(session, "after the burst")
            break
        except RateLimited:
            await asyncio.sleep(0.2)
    else:
        pytest.fail("still rate limited after 20 s")
    assert message_id
