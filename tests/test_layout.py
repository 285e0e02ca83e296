"""The package layout: a stage imports only the stages above it, every stage says what it may import, no module
outgrows one concept, and no module imports another's private names."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "baler_core"
# data flows down this list; a stage may import the stages of a lower rank (and its own modules)
RANK = {"errors": 0, "progress": 0, "io": 1, "sim": 1, "prep": 2, "coding": 3, "format": 4, "models": 5, "training": 6,
        "codec": 7, "evaluation": 8, "pipeline": 9, "cli": 10}
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every ``baler_core`` import, also those inside functions."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("baler_core"):
            out.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out.extend((a.name, [], node.lineno) for a in node.names if a.name.startswith("baler_core"))
    return out


def _stage(path: Path) -> str:
    return path.relative_to(PKG).parts[0].removesuffix(".py")


def test_every_module_belongs_to_a_ranked_stage():
    stages = {_stage(p) for p in _modules()} - {"__init__"}
    assert stages <= set(RANK), f"stages without a rank in this test: {sorted(stages - set(RANK))}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_no_stage_imports_a_higher_one(path):
    if path.parent == PKG and path.name == "__init__.py":
        return
    stage = _stage(path)
    for module, _, line in _imports(path):
        parts = module.split(".")
        target = parts[1] if len(parts) > 1 else ""
        if target and target in RANK and target != stage:
            assert RANK[target] < RANK[stage], f"{path.name}:{line}: {stage} (rank {RANK[stage]}) imports {module}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_no_private_names_cross_modules(path):
    for module, names, line in _imports(path):
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert not private, f"{path.name}:{line} imports private {private} from {module}"


def test_tests_import_no_private_names():
    for path in sorted((PKG.parent / "tests").glob("*.py")):
        for module, names, line in _imports(path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"tests/{path.name}:{line} imports private {private} from {module}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_modules_stay_small(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(PKG)} has {n} lines (at most {MAX_LINES}): split it by concept"


@pytest.mark.parametrize("stage", sorted(set(RANK) - {"errors", "progress"}))  # single modules
def test_each_stage_says_what_it_does_and_may_import(stage):
    init = PKG / stage / "__init__.py"
    assert init.is_file(), f"baler_core/{stage}/ is not a package"
    doc = ast.get_docstring(ast.parse(init.read_text())) or ""
    assert f"Stage ``{stage}``" in doc and "May import" in doc, f"baler_core/{stage}/__init__.py docstring"


def test_a_lower_stage_importing_a_higher_one_is_caught(tmp_path):
    """The check itself: a ``coding`` module importing ``codec`` is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from baler_core.codec import compress_table\n")
    targets = [m.split(".")[1] for m, _, _ in _imports(bad)]
    assert targets == ["codec"] and RANK["codec"] > RANK["coding"]


def test_model_free_paths_do_not_load_torch(tmp_path):
    """Coding without a model, reading a file's info and planning the pipeline never import torch (about 1.3 s
    of every such process); loading a model does."""
    import subprocess
    import sys

    script = f"""
import sys
import numpy as np, pandas as pd
from baler_core.codec import CompressionOptions, compress_table, decompress, file_info
from baler_core.coding.error_bounds import load_bound_spec
from baler_core.models.auto import resolve_model_name
import baler_core.pipeline.plan
df = pd.DataFrame({{"a": np.linspace(0, 1, 500, dtype=np.float32)}})
compress_table([df], None, {str(tmp_path / 'a.baler')!r}, CompressionOptions(load_bound_spec("range=1e-3")))
assert decompress({str(tmp_path / 'a.baler')!r})["a"].size == 500 and file_info({str(tmp_path / 'a.baler')!r})
print("torch" in sys.modules)
from baler_core.models import load_model
from baler_core.models.sequential import SequentialPredictor
print("torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]
