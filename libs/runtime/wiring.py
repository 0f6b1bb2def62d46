"""Builds what both runtimes share: a service's database, context, relay and consumers."""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from libs.db import make_engine, migrate, session_factory
from libs.events.consumer import ConsumerRunner
from libs.events.log import EventLog, Topics
from libs.events.relay import OutboxRelay
from libs.settings import SERVICE_NAMES, Settings

from .service import ServiceContext, ServiceSpec


def load_specs(names: tuple[str, ...] = SERVICE_NAMES) -> list[ServiceSpec]:
    """Importing every service registers every event type, so any consumer can upcast any event."""
    specs = [importlib.import_module(f"services.{n}.service").SPEC for n in SERVICE_NAMES]
    return [s for s in specs if s.name in names]


@dataclass
class Wired:
    spec: ServiceSpec
    ctx: ServiceContext
    relay: OutboxRelay
    runners: list[ConsumerRunner]


def wire(spec: ServiceSpec, settings: Settings, log: EventLog, topics: Topics, projection_wait_ms: int,
         max_batch: int = 1_000) -> Wired:
    """`max_batch`: the most events a consumer applies in one transaction (1,000 by default, for
    the embedded runtime: there a batch holds the service database's write lock, which a command
    waits for), or its projector's `min_batch` where that is more."""
    engine = make_engine(settings.database_url(spec.name), sqlite_cache_mib=settings.sqlite_cache_mib)
    migrate(engine, spec.name)
    ctx = ServiceContext(
        name=spec.name,
        settings=settings,
        engine=engine,
        session_factory=session_factory(engine),
        topics=topics,
        projection_wait_ms=projection_wait_ms,
    )
    if spec.on_start is not None:
        spec.on_start(ctx)
    relay = OutboxRelay(ctx.session_factory, log, spec.name)
    runners = []
    for projector in spec.build_projectors(ctx):
        group = f"{topics.prefix}{spec.name}.{projector.name}"
        for topic in (topics.of(s) for s in projector.sources):
            ctx.consumer_groups[topic] = (*ctx.consumer_groups.get(topic, ()), group)
        runners.append(
            ConsumerRunner(
                projector,
                ctx.session_factory,
                log,
                group=group,
                topics=[topics.of(s) for s in projector.sources],
                dead_letter_topic=topics.dead_letter(group),
                max_batch=max(max_batch, getattr(projector, "min_batch", 0)),
            )
        )
    ctx.runners = runners
    return Wired(spec, ctx, relay, runners)
