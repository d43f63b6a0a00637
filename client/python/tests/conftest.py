"""Settings of the server the tests run against, given by test/python.test.ts in the environment."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Coroutine, Dict, List, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class Server:
    def __init__(self) -> None:
        try:
            self.http_url = os.environ["CIDADAO_TEST_HTTP_URL"]
            self.ws_url = os.environ["CIDADAO_TEST_WS_URL"]
            self.secret = os.environ["CIDADAO_TEST_JWT_SECRET"]
            self.service_token = os.environ["CIDADAO_TEST_SERVICE_TOKEN"]
            self.user_token = os.environ["CIDADAO_TEST_USER_TOKEN"]
        except KeyError as missing:
            pytest.exit(f"{missing} is not set: run these tests with `npx vitest run test/python.test.ts`", returncode=2)

    def token(self, sub: str, *, roles: Optional[List[str]] = None, investigations: Optional[List[str]] = None,
              analyses: Optional[List[str]] = None, expires_in: float = 3600) -> str:
        """An HS256 token of the server's secret (the first key of JWT_SECRET)."""
        key = self.secret.split(",")[0].strip().encode("utf-8")
        now = int(time.time())
        claims: Dict[str, Any] = {"sub": sub, "iat": now, "exp": int(now + expires_in)}
        for name, value in (("roles", roles), ("investigations", investigations), ("analyses", analyses)):
            if value is not None:
                claims[name] = value

        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

        signing = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
        signature = hmac.new(key, signing.encode("ascii"), hashlib.sha256).digest()
        return signing + "." + b64(signature)


@pytest.fixture(scope="session")
def server() -> Server:
    return Server()


def run_async(timeout: float = 30) -> Callable[[Callable[..., Coroutine[Any, Any, Any]]], Callable[..., Any]]:
    """Runs an async test in its own event loop, within `timeout` seconds (pytest-asyncio is not needed)."""

    def decorate(fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return asyncio.run(asyncio.wait_for(fn(*args, **kwargs), timeout))

        return wrapper

    return decorate
