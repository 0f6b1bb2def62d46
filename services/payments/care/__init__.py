"""The fund's care beyond hospital bills (issue 15): treatment outside the region (R.30),
rehabilitation under an approved plan (R.30) and assistive devices (R.32).

domain.py (events and aggregates), rules.py (one pure function per rule), handlers.py, api.py,
tables.py, lines.py (the amounts as fund lines the payment runs pay).
"""
