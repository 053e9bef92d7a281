"""Project-wide checks: the code passes ruff, the version is declared once, and the README is a page that
holds together (CI runs its test command; its figures exist; it stays short; no diary of work periods)."""

import re
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


def _readme() -> str:
    return (ROOT / "README.md").read_text()


def test_ci_runs_exactly_the_readmes_test_command():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci.startswith("pip install torch==") and ci in _readme()


def test_the_readme_is_short_and_its_figures_and_links_exist():
    text = _readme().split("# tcp-hub", 1)[1]
    assert len(text.split()) <= 1200
    targets = re.findall(r"\]\(([^)#:]+)\)", text)
    assert "docs/editing.jpg" in targets and len(targets) >= 5
    assert [t for t in targets if not (ROOT / t).exists()] == []


def test_no_file_narrates_past_work_periods():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    texts = [p for p in tracked if p.endswith((".py", ".md", ".sh", ".json", ".toml", ".txt"))]
    pattern = re.compile(r"\b[Ss]essions? \d")
    found = [p for p in texts if (ROOT / p).is_file() and pattern.search((ROOT / p).read_text(errors="ignore"))]
    assert found == []


def test_every_example_photo_is_drawn_or_credited_with_a_permissive_license():
    drawn = {"valley.jpg", "room.jpg", "ref_sunset.jpg", "ref_snow.jpg", "ref_forest.jpg"}  # make_examples.py
    credits = (ROOT / "examples" / "PHOTO_CREDITS.md").read_text()
    credited = dict(re.findall(r"^\| `([^`]+)` \| .+ \| ([^|]+) \|$", credits, re.M))
    photos = {p.name for p in (ROOT / "examples").glob("*.jpg")}
    assert photos - drawn == set(credited) and len(credited) >= 2
    assert all(license.startswith(("public-domain", "CC0-1.0")) for license in credited.values())
