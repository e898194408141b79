"""Benchmarks of the TS004 codec against the plain reference (tests/support/oracle.py): run `python -m benchmarks`.

Each figure is measured in the same run as its plain-reference baseline, checked for correctness, and compared
with the target of the performance issue (reference figures: TS004-NOTES §7).
"""
