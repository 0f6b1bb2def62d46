"""Enrollment read models: employers, workers, employments (their unique rows back the 409s).

Revision ID: enrollment_0002
Revises: enrollment_0001
"""
import sqlalchemy as sa

revision = "enrollment_0002"
down_revision = "enrollment_0001"
branch_labels = None
depends_on = None

_position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "employers",
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("industry_code", sa.String(8), nullable=False),
        sa.Column("division", sa.String(3), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("risk_class", sa.Integer, nullable=False),
        sa.Column("base_rate", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("enrolled_on", sa.Date, nullable=False),
        sa.Column("changed_on", sa.Date),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("uscc", name="uq_employers_uscc"),
    )
    op.create_index("ix_employers_region", "employers", ["region", "employer_id"])
    op.create_table(
        "workers",
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("id_number", sa.String(18), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("sex", sa.String(6), nullable=False),
        sa.Column("bank_code", sa.String(12)),
        sa.Column("account_no", sa.String(34)),
        sa.Column("holder", sa.String(200)),
        sa.Column("bank_changed_on", sa.Date),
        sa.UniqueConstraint("id_number", name="uq_workers_id_number"),
    )
    op.create_table(
        "employments",
        sa.Column("id", _position, primary_key=True, autoincrement=True),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("employer_id", sa.String(64), nullable=False),
        sa.Column("hired_on", sa.Date, nullable=False),
        sa.Column("separated_on", sa.Date),
        sa.Column("active_employer_id", sa.String(64)),
        sa.UniqueConstraint("employee_id", "active_employer_id", name="uq_employments_active"),
    )
    op.create_index("ix_employments_employer", "employments", ["employer_id", "employee_id"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
