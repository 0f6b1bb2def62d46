"""The levy domain: pure rules, no I/O."""
