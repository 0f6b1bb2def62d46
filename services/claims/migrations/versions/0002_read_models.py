"""The claims service's read models: employers, employments, workers, wages, claims.

Revision ID: claims_0002
"""
import sqlalchemy as sa

revision = "claims_0002"
down_revision = "claims_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "claims_employers",
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
    )
    op.create_table(
        "claims_employments",
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("hired_on", sa.Date, primary_key=True),
    )
    op.create_table(
        "claims_separations",
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("separated_on", sa.Date, primary_key=True),
    )
    op.create_table(
        "claims_workers",
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("sex", sa.String(6), nullable=False),
    )
    op.create_table(
        "claims_wage_reports",
        sa.Column("report_id", sa.String(64), primary_key=True),
        sa.Column("employer_id", sa.String(64), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("correction_of", sa.String(64)),
        sa.Column("sequence", sa.Integer, nullable=False),
    )
    op.create_index("ix_claims_wage_reports_period", "claims_wage_reports", ["employer_id", "period"])
    op.create_table(
        "claims_wage_lines",
        sa.Column("report_id", sa.String(64), primary_key=True),
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("wage_fen", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "wages",
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("wage_fen", sa.BigInteger, nullable=False),
        sa.Column("report_id", sa.String(64), nullable=False),
    )
    op.create_table(
        "claims",
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column("employer_id", sa.String(64), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("applied_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("decision_due_on", sa.Date),
        sa.Column("appraisal_due_on", sa.Date),
        sa.Column("insured_wage_fen", sa.BigInteger),
        sa.Column("grade", sa.Integer),
        sa.Column("died", sa.Boolean, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
    )
    op.create_table(
        "claims_reactions",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("emitted", sa.Integer, nullable=False),
    )
    op.create_index("ix_claims_employee", "claims", ["employee_id"])
    op.create_index("ix_claims_employer", "claims", ["employer_id"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
