"""The wages kind's keys in import_rows month first (issue 11): `2025-12/W1/E1` for the row keyed
`W1/E1/2025-12` (services/levy/imports.py, `month_first`; the key a file and a summary show is
unchanged). A go-live's wage file comes a month at a time: keyed by the worker first, a month's
keys landed beside every earlier month's of the same workers, at random places of an index of
twelve million keys a province; the month first, a month fills its own part of it.

Revision ID: levy_impwage15_0001
Revises: levy_import11b_0001
"""
revision = "levy_impwage15_0001"
down_revision = "levy_import11b_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    # the month is a wage key's last seven characters, after a "/" (the same SQL on both databases)
    op.execute("UPDATE import_rows SET legacy_id = substr(legacy_id, length(legacy_id) - 6) || '/' "
               "|| substr(legacy_id, 1, length(legacy_id) - 8) WHERE kind = 'wages'")


def downgrade() -> None:
    from alembic import op

    op.execute("UPDATE import_rows SET legacy_id = substr(legacy_id, 9) || '/' || substr(legacy_id, 1, 7) "
               "WHERE kind = 'wages'")
