"""Imported wage history is kept once (issue 11): `claims_legacy_wages` alone, read as in force for
a month no report of the employer covers; `wages` holds reports' lines only. The copies an older
projection wrote into `wages` (report_id `legacy`) go.

Revision ID: claims_import11b_0001
Revises: claims_0005_imports
"""
revision = "claims_import11b_0001"
down_revision = "claims_0005_imports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.execute("DELETE FROM wages WHERE report_id = 'legacy'")


def downgrade() -> None:
    from alembic import op

    op.execute("INSERT INTO wages (employee_id, period, employer_id, wage_fen, report_id) "
               "SELECT l.employee_id, l.period, l.employer_id, l.wage_fen, 'legacy' FROM claims_legacy_wages l "
               "WHERE NOT EXISTS (SELECT 1 FROM claims_wage_reports r "
               "WHERE r.employer_id = l.employer_id AND r.period = l.period)")
