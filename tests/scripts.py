"""Import the repository's scripts (app.py, benchmarks/*.py) as modules: they are not part of the package."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script(relative_path: str, name: str):
    """The module of ``ROOT / relative_path``, imported under ``name``."""
    spec = importlib.util.spec_from_file_location(name, ROOT / relative_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
