"""The type stubs match the module (mypy's stubtest), when mypy is installed."""

import subprocess
import sys

import pytest


def test_stubs_match_the_runtime():
    pytest.importorskip("mypy")
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "waxseal"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_py_typed_is_installed():
    import importlib.resources

    import waxseal

    files = importlib.resources.files(waxseal)
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("__init__.pyi").is_file()
