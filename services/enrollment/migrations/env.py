from alembic import context

from libs.db import run_migrations_online
from libs.events.tables import core_metadata
from services.enrollment.tables import metadata

run_migrations_online(context, [core_metadata, metadata], "enrollment")
