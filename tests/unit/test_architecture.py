"""The house's layers (docs/ARCHITECTURE.md): the import contract in pyproject.toml holds, the product carries no
test doubles or fault hooks, and every command is its own module."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("engine", "byteme_tui")


def _product_files():
    for pkg in PRODUCT:
        yield from (ROOT / pkg).rglob("*.py")


def test_the_import_layer_contract_holds():
    """import-linter's contracts (pyproject.toml [tool.importlinter]): the UI on the engine and never back, Textual
    never in the engine, and the engine's layers one way: nothing imports the CLI, the store sits below the jobs."""
    cli = pytest.importorskip("importlinter.cli", reason="import-linter is a dev dependency (pip install -e '.[dev]')")
    assert cli.lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def test_the_product_reads_no_test_hooks_and_ships_no_fakes():
    for f in _product_files():
        text = f.read_text()
        assert "BYTEME_TEST_" not in text, f"{f.relative_to(ROOT)} reads a test hook from the environment"
        assert not re.search(r"\bclass Fake|\bfake_result\b|SimulatedCrash", text), f"{f.relative_to(ROOT)} holds a test double"


def test_each_command_is_a_module_of_its_own():
    from engine.cli import COMMANDS, build_parser

    names = [c.NAME for c in COMMANDS]
    assert len(set(names)) == len(names)
    assert set(build_parser().command_names) == set(names)
    for c in COMMANDS:
        assert c.__name__.startswith("engine.cli.") and callable(c.run) and callable(c.add_arguments)
    # nothing below the command line imports it (the contract checks it too; this names the offender plainly)
    for f in (ROOT / "engine").rglob("*.py"):
        if "cli" in f.relative_to(ROOT / "engine").parts:
            continue
        assert not re.search(r"^\s*from (\.+|engine\.)cli\b|^\s*import engine\.cli\b", f.read_text(), re.M), f
