"""Runs at the start of every interpreter that has tests/fault_hooks on PYTHONPATH (worker processes, `byteme`
subprocesses, Ray actors of the test session): installs the fault hooks of byteme_faults.py."""
import byteme_faults

byteme_faults.install_on_import()
