"""Shared fixtures: the reference datasets in ../shared/data and an isolated run store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SSLBENCH_TEST_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """../shared/data; required in CI, skipped elsewhere when absent."""
    if not (SHARED_DATA / "MNIST" / "raw").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"reference datasets missing at {SHARED_DATA}")
        pytest.skip(f"reference datasets not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """An empty run store."""
    return tmp_path / "runs"


def sslbench(*args: str, runs_dir: Path | None = None, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess."""
    extra = ["--runs-dir", str(runs_dir)] if runs_dir is not None else []
    return subprocess.run([sys.executable, "-m", "sslbench.cli", *args, *extra], capture_output=True, text=True,
                          timeout=timeout, cwd=kw.pop("cwd", ROOT), **kw)
