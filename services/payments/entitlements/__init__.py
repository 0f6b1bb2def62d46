"""Entitlements (issue 5): every benefit derived from the claims' and enrollment's events,
recalculated by adjustment lines, never by editing history, and explained to the fen.

rules.py (one pure function per benefit), engine.py (the pure derivation and the append-only
ledger), projection.py (facts in, lines out; `materialize_through` for payment runs),
tables.py, api.py.
"""
