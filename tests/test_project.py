"""Project-wide checks: the code passes ruff, and the version is declared once."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tcp_hub

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list:
    if shutil.which("ruff"):
        return ["ruff"]
    try:
        import ruff  # noqa: F401
    except ImportError:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    return [sys.executable, "-m", "ruff"]


def test_the_code_passes_ruff():
    result = subprocess.run([*_ruff(), "check", "--no-cache", str(ROOT)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_version_is_declared_once_in_the_package():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tcp_hub.__version__"}
    assert tcp_hub.__version__.count(".") == 2
