"""The employer's employments indexed by (employer_id, id), not (employer_id, employee_id) (issue
11): the one query that reads this index, `GET /v1/employers/{id}/employees`, asks for an
employer's employments after a cursor (`id`) in `id` order — (employer_id, id) gives them in that
order from the cursor on, where (employer_id, employee_id) read all of the employer's and sorted
them for every page; and a go-live writes an entry a worker into it at a random place (by
employer), now a narrower one (an integer, not a worker's id).

Revision ID: enrollment_emp21_0002
Revises: enrollment_emp21_0001
"""
revision = "enrollment_emp21_0002"
down_revision = "enrollment_emp21_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.drop_index("ix_employments_employer", table_name="employments")
    op.create_index("ix_employments_employer", "employments", ["employer_id", "id"])


def downgrade() -> None:
    raise NotImplementedError("the ledger's history is never dropped")
