"""Shared fixtures: small generated data, and the read-only ../shared/data when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FEWLABEL_SHARED_DATA", REPO.parent / "shared" / "data"))

# Tests run in parallel on 2 cores (pytest -n 2): one torch thread per worker.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config):
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of ../shared/data; tests that need it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def shared_path(*parts: str) -> Path:
    """A path inside ../shared/data, skipping the calling test when it does not exist."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not found: {p}")
    return p


@pytest.fixture
def cli_runner():
    """Run the ``fewlabel`` CLI in-process; returns (exit_code, stdout, stderr)."""
    from click.testing import CliRunner

    from fewlabel.cli.main import cli

    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run
