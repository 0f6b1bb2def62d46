"""The enrollment domain: pure rules, no I/O."""
