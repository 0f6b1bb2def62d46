"""The payments domain: pure rules, no I/O."""
