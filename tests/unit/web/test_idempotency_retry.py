"""An `Idempotency-Key` retried the moment the first answer reaches the client replays that
answer: the key is settled before the response is sent (the levy contract test once met a 409
"still being processed" on the distributed runtime, where a retry can overtake the settle)."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

from libs.db import make_engine, session_factory
from libs.events.tables import core_metadata
from libs.web.middleware import IdempotencyMiddleware


def test_a_retry_sent_on_the_first_answer_is_a_replay_not_a_conflict(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    core_metadata.create_all(engine)
    sessions = session_factory(engine)
    runs: list[int] = []

    async def create(scope, receive, send) -> None:  # noqa: ANN001 - an ASGI app that records once
        await receive()
        runs.append(1)
        await send({"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps({"payment_id": "pm_1"}).encode()})

    middleware = IdempotencyMiddleware(create, lambda: sessions)
    scope = {"type": "http", "method": "POST", "path": "/v1/contribution-payments", "query_string": b"",
             "headers": [(b"idempotency-key", b"k-1"), (b"authorization", b"Bearer t")]}

    def receiver():  # noqa: ANN202
        async def receive() -> dict:
            return {"type": "http.request", "body": b'{"amount": "10.00"}', "more_body": False}
        return receive

    async def call(on_start=None) -> list[dict]:  # noqa: ANN001
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)
            if message["type"] == "http.response.start" and on_start is not None:
                await on_start()

        await middleware(scope, receiver(), send)
        return sent

    async def scenario() -> tuple[list[dict], list[dict]]:
        retried: list[list[dict]] = []

        async def retry_now() -> None:  # the client retries as soon as the first answer starts
            retried.append(await call())

        first = await call(on_start=retry_now)
        return first, retried[0]

    first, retry = asyncio.run(scenario())
    assert first[0]["status"] == 201 and runs == [1]
    assert retry[0]["status"] == 201, retry
    assert (b"idempotent-replayed", b"true") in retry[0]["headers"]
    assert json.loads(retry[1]["body"]) == {"payment_id": "pm_1"}
    engine.dispose()
