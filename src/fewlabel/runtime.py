"""Seeds, devices and run records shared by every command that computes or trains."""

from __future__ import annotations

import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from fewlabel.atomic import write_text_atomic


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch (if imported) and return a NumPy Generator for the caller.

    Pass the returned generator down instead of using global random state: the same seed then
    gives the same result on CPU.
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)
    return np.random.default_rng(seed)


def resolve_device(device: str = "auto") -> str:
    """Map ``auto|cpu|cuda|cuda:N`` to a torch device string; ``auto`` picks CUDA when present."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from fewlabel.errors import InputError

        raise InputError(None, f"--device {device} requested but CUDA is not available")
    return device


def run_record(command: str, config: dict[str, Any]) -> dict[str, Any]:
    """A JSON-serialisable record of a run: version, time, command line, host and config."""
    from fewlabel import __version__

    return {
        "fewlabel_version": __version__,
        "command": command,
        "argv": sys.argv,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "host": platform.node(),
        "pid": os.getpid(),
        "config": config,
    }


def save_run_config(path: str | os.PathLike, command: str, config: dict[str, Any]) -> Path:
    """Write :func:`run_record` as JSON to ``path`` (atomically) and return the path."""
    path = Path(path)
    write_text_atomic(path, json.dumps(run_record(command, config), indent=2, default=str) + "\n")
    return path
