"""The operator's endpoints (agency only), the same on both runtimes: dead letters and their
redrive, online replays of a projection, the enrollment read models rebuilt from the events.

One router serves every service context of the process (all four when embedded, one in a
service process). The gateway of the distributed runtime sends each request to the service it
names and merges the lists of all (`route_ops`), so `injuryledger` commands read the same
answers from either runtime.
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Literal, Sequence

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, text

from libs.db import writing
from libs.events.consumer import ConsumerRunner
from libs.events.envelope import Envelope
from libs.events.log_access import find_dead_letter_copy, read_record
from libs.events.shadow import NotReplayable, ShadowRebuild, check_replayable, start_in_thread
from libs.events.tables import dead_letters
from libs.settings import SERVICE_NAMES, Settings
from libs.web.auth import agency_only
from libs.web.problems import Problem, conflict, not_found

from .service import ServiceContext, ServiceSpec

MAX_PAGE = 1000
MAX_KEPT_REPLAYS = 100
SERVICE_PATTERN = "^(" + "|".join(SERVICE_NAMES) + ")$"
REPLAY_ID = re.compile(r"^(" + "|".join(SERVICE_NAMES) + r")\.[0-9a-f]{12}$")
ServiceName = Literal["enrollment", "levy", "claims", "payments"]
assert set(ServiceName.__args__) == set(SERVICE_NAMES)  # type: ignore[attr-defined]


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"service": "claims", "projection": "claims"}]})
    service: ServiceName
    projection: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9-]*$",
                            description="the projection's name, e.g. `claims`, `policies`, `enrollment`")
    hold: bool = Field(False, description="wait in state `ready` for `POST .../swap` instead of swapping at once")
    batch: int = Field(1000, ge=1, le=5000, description="events a rebuild transaction applies at most")


# -- replays of this process (their threads hold the state; finished ones are kept a while)

_replays: "OrderedDict[str, tuple[str, ShadowRebuild]]" = OrderedDict()
_replays_lock = threading.Lock()


def _register(service: str, rebuild: ShadowRebuild) -> str:
    with _replays_lock:
        for _, other in _replays.values():
            if other.live is rebuild.live and not other.finished:
                raise conflict(f"a replay of {rebuild.live.group} is already running: {other.id}")
        _replays[rebuild.id] = (service, rebuild)
        finished = [k for k, (_, r) in _replays.items() if r.finished]
        for key in finished[: max(0, len(_replays) - MAX_KEPT_REPLAYS)]:
            del _replays[key]
    return rebuild.id


def build_ops_router(contexts: Sequence[tuple[ServiceSpec, ServiceContext]]) -> APIRouter:
    router = APIRouter(tags=["operations"], dependencies=[Depends(agency_only)])
    served = {ctx.name: (spec, ctx) for spec, ctx in contexts}

    def context(service: str) -> ServiceContext:
        if service not in served:
            raise not_found("service", f"{service} (not served by this process)")
        return served[service][1]

    def runner_of(ctx: ServiceContext, group: str) -> ConsumerRunner:
        for runner in ctx.runners:
            if runner.group == group:
                return runner
        raise conflict(f"no consumer group {group} runs in the {ctx.name} service any more")

    @router.get("/v1/ops/dead-letters", summary="Dead letters of every service (the newest last)")
    def list_dead_letters(
        service: str | None = Query(None, pattern=SERVICE_PATTERN),
        state: Literal["open", "redriven", "all"] = Query("open"),
        limit: int = Query(100, ge=1, le=MAX_PAGE),
    ) -> dict:
        items: list[dict] = []
        for name, (_, ctx) in served.items():
            if service in (None, name):
                items += _dead_letter_rows(ctx, state, limit)
        items.sort(key=lambda i: (i["recorded_at"], i["service"], i["id"]))
        return {"items": items[-limit:]}

    @router.get("/v1/ops/dead-letters/{service}/{letter_id}", summary="One dead letter with its event")
    def show_dead_letter(service: str = Path(pattern=SERVICE_PATTERN),
                         letter_id: int = Path(ge=1, le=2**62)) -> dict:
        ctx = context(service)
        row = _dead_letter(ctx, letter_id)
        item = _item(ctx, row, full=True)
        runner = next((r for r in ctx.runners if r.group == row.consumer), None)
        record, source = _original(runner, row) if runner else (None, None)
        item["event"] = json.loads(record.value) if record is not None and _decodes(record) else None
        item["event_source"] = source
        return item

    @router.post("/v1/ops/dead-letters/{service}/{letter_id}/redrive",
                 summary="Apply a dead-lettered event again, after a fix (it takes effect once)")
    def redrive(service: str = Path(pattern=SERVICE_PATTERN), letter_id: int = Path(ge=1, le=2**62)) -> dict:
        ctx = context(service)
        row = _dead_letter(ctx, letter_id)
        if row.redriven_at is not None:
            return {**_item(ctx, row), "outcome": "already redriven"}
        runner = runner_of(ctx, row.consumer)
        record, _ = _original(runner, row)
        if record is None:
            raise conflict("neither the log nor the dead-letter topic holds this record any more")
        if not _decodes(record):
            raise conflict("the record is not a readable event; it cannot be applied")
        try:
            outcome = runner.redrive(letter_id, record)
        except Exception as exc:  # noqa: BLE001 - the handler still fails: say how, change nothing
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:500]
            raise conflict(f"the event still fails in {runner.group}: {reason}") from exc
        ctx.notify([])  # a projection may have written events of its own: relay them now
        return {**_item(ctx, _dead_letter(ctx, letter_id)), "outcome": outcome}

    @router.post("/v1/ops/replays", status_code=202,
                 summary="Rebuild a projection from the start of the log into fresh tables, then swap them in")
    def start_replay(body: ReplayRequest, response: Response) -> dict:
        ctx = context(body.service)
        spec = served[body.service][0]
        group = f"{ctx.topics.prefix}{ctx.name}.{body.projection}"
        live = next((r for r in ctx.runners if r.group == group), None)
        if live is None:
            names = sorted(r.group.rsplit(".", 1)[-1] for r in ctx.runners)
            raise Problem(422, "Invalid input", f"projection: {body.service} has no projection {body.projection}",
                          errors=[{"field": "projection", "message": f"one of {', '.join(names)}"}])
        fresh = next(p for p in spec.build_projectors(ctx) if p.name == body.projection)
        try:
            check_replayable(fresh)
        except NotReplayable as exc:
            raise conflict(str(exc)) from exc
        rebuild = ShadowRebuild(live, fresh, ctx.engine, hold=body.hold, max_batch=body.batch,
                                replay_id=_new_replay_id(body.service))
        _register(body.service, rebuild)
        start_in_thread(rebuild, on_done=lambda _r: ctx.notify([]))
        response.headers["Location"] = f"/v1/ops/replays/{rebuild.id}"
        return _replay_doc(body.service, rebuild)

    @router.get("/v1/ops/replays", summary="Replays of the last while, the newest last")
    def list_replays() -> dict:
        with _replays_lock:
            mine = [(s, r) for s, r in _replays.values() if s in served and _belongs(served[s][1], r)]
        return {"items": [_replay_doc(s, r) for s, r in mine]}

    @router.get("/v1/ops/replays/{replay_id}", summary="A replay's progress")
    def get_replay(replay_id: str = Path(pattern=REPLAY_ID.pattern)) -> dict:
        service, rebuild = _find_replay(replay_id, served)
        return _replay_doc(service, rebuild)

    @router.post("/v1/ops/replays/{replay_id}/swap", status_code=202, summary="Swap in a held replay")
    def swap_replay(replay_id: str = Path(pattern=REPLAY_ID.pattern)) -> dict:
        service, rebuild = _find_replay(replay_id, served)
        if not rebuild.hold or rebuild.finished:
            raise conflict(f"replay {replay_id} is {rebuild.state}; only a held replay waits for its swap")
        rebuild.request_swap()
        return _replay_doc(service, rebuild)

    @router.post("/v1/ops/rebuild-read-models",
                 summary="Enrollment: rebuild employers, workers, employments and imported_workers from the event store")
    def rebuild_read_models() -> dict:
        from services.enrollment.read_models import read_models_hash, rebuild_read_models as rebuild

        ctx = context("enrollment")
        with writing(ctx.session_factory) as session:
            if session.get_bind().dialect.name == "postgresql":  # commands wait; readers do not
                session.execute(text("LOCK TABLE employers, workers, employments, imported_workers IN EXCLUSIVE MODE"))
            aggregates = rebuild(session)
        with ctx.session_factory() as session:
            digest = read_models_hash(session)
        return {"service": "enrollment", "aggregates": aggregates, "state_hash": digest}

    return router


# -- dead letters

def _dead_letter_rows(ctx: ServiceContext, state: str, limit: int) -> list[dict]:
    query = select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
    if state == "open":
        query = query.where(dead_letters.c.redriven_at.is_(None))
    elif state == "redriven":
        query = query.where(dead_letters.c.redriven_at.is_not(None))
    with ctx.session_factory() as session:
        return [_item(ctx, row) for row in session.execute(query)]


def _dead_letter(ctx: ServiceContext, letter_id: int):  # noqa: ANN202 - a row
    with ctx.session_factory() as session:
        row = session.execute(select(dead_letters).where(dead_letters.c.id == letter_id)).first()
    if row is None:
        raise not_found("dead letter", f"{ctx.name}/{letter_id}")
    return row


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Poison|Exit|Timeout\w*)\b.*")


def _summary(error: str) -> str:
    """The line of a traceback that says what went wrong (the last exception line)."""
    lines = [line for line in error.strip().splitlines() if line.strip()]
    found = [line for line in lines if EXCEPTION_LINE.match(line)]
    return (found[-1] if found else lines[-1] if lines else "")[:500]


def _item(ctx: ServiceContext, row, full: bool = False) -> dict:  # noqa: ANN001
    return {
        "service": ctx.name, "id": row.id, "consumer": row.consumer,
        "projection": row.consumer.removeprefix(f"{ctx.topics.prefix}{ctx.name}."),
        "topic": row.topic, "partition": row.partition, "offset": row.offset, "event_id": row.event_id,
        "error": row.error if full else _summary(row.error),
        "recorded_at": _iso(row.recorded_at), "redriven_at": _iso(row.redriven_at),
    }


def _iso(value) -> str | None:  # noqa: ANN001
    return value.isoformat() if value is not None else None


def _original(runner: ConsumerRunner, row):  # noqa: ANN001, ANN202
    """The dead-lettered record, from the log where it was, else from the dead-letter topic."""
    record = read_record(runner.log, row.topic, row.partition, row.offset)
    if record is not None:
        return record, "log"
    copy = find_dead_letter_copy(runner.log, runner.dead_letter_topic, f"{row.topic}/{row.partition}/{row.offset}")
    return (copy, "dead-letter topic") if copy is not None else (None, None)


def _decodes(record) -> bool:  # noqa: ANN001
    try:
        Envelope.from_json(record.value)
        return True
    except ValueError:
        return False


# -- replays

def _new_replay_id(service: str) -> str:
    import uuid

    return f"{service}.{uuid.uuid4().hex[:12]}"


def _belongs(ctx: ServiceContext, rebuild: ShadowRebuild) -> bool:
    return any(r is rebuild.live for r in ctx.runners)


def _find_replay(replay_id: str, served: dict) -> tuple[str, ShadowRebuild]:
    with _replays_lock:
        found = _replays.get(replay_id)
    if found is None or found[0] not in served or not _belongs(served[found[0]][1], found[1]):
        raise not_found("replay", replay_id)
    return found


def _replay_doc(service: str, rebuild: ShadowRebuild) -> dict:
    return {**rebuild.describe(), "service": service}


# -- the gateway's side (distributed runtime)

Forward = Callable[[Any, str], Awaitable[Any]]


async def route_ops(request, forward: Forward, settings: Settings):  # noqa: ANN001, ANN201
    """Send an operator's request to the service it names, or ask every service and merge the
    lists. None for a path this module does not serve."""
    path, method = request.url.path, request.method
    parts = path.strip("/").split("/")  # v1, ops, ...
    if path == "/v1/ops/dead-letters" and method == "GET":
        wanted = request.query_params.get("service")
        services = [wanted] if wanted in SERVICE_NAMES else list(SERVICE_NAMES)
        return await _fan_out(request, forward, settings, services)
    if len(parts) >= 4 and parts[2] == "dead-letters":
        return await _to(request, forward, settings, parts[3])
    if path == "/v1/ops/replays" and method == "GET":
        return await _fan_out(request, forward, settings, list(SERVICE_NAMES))
    if path == "/v1/ops/replays":
        try:
            named = json.loads(await request.body()).get("service")
        except (ValueError, AttributeError):
            named = None
        # A body naming no known service still goes somewhere, to be answered 422 like any other.
        return await _to(request, forward, settings, named if named in SERVICE_NAMES else SERVICE_NAMES[0])
    if len(parts) >= 4 and parts[2] == "replays":
        return await _to(request, forward, settings, parts[3].split(".", 1)[0])
    if path == "/v1/ops/rebuild-read-models":
        return await _to(request, forward, settings, "enrollment")
    return None


async def _to(request, forward: Forward, settings: Settings, service: str):  # noqa: ANN001, ANN202
    # A path naming no known service still goes to one, which checks the token first (401/403)
    # and then answers 404 as the embedded process does.
    return await forward(request, settings.service_url(service if service in SERVICE_NAMES else SERVICE_NAMES[0]))


async def _fan_out(request, forward: Forward, settings: Settings, services: list[str]):  # noqa: ANN001, ANN202
    from starlette.responses import JSONResponse

    answers = await asyncio.gather(*(forward(request, settings.service_url(s)) for s in services))
    if any(a.status_code != 200 for a in answers):
        return max(answers, key=lambda a: a.status_code)
    items = [i for a in answers for i in json.loads(a.body)["items"]]
    if request.url.path.endswith("dead-letters"):
        items.sort(key=lambda i: (i["recorded_at"], i["service"], i["id"]))
        limit = min(int(request.query_params.get("limit", "100")), MAX_PAGE)
        items = items[-limit:]
    else:
        items.sort(key=lambda i: i["started_at"])
    return JSONResponse({"items": items})

