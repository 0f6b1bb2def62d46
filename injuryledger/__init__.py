"""injuryledger: the ledger of a work-injury insurance fund. `python -m injuryledger --help`."""
