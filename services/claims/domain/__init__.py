"""The claims domain: pure rules, no I/O."""
