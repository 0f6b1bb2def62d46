"""Going live (MIGRATION.md): the old system's book imported from CSV files, kind by kind, each
by the service that owns it, every accepted row an ordinary event that names its source."""
