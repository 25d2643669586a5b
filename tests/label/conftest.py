"""Small generated micrographs and scored picks for the label page tests."""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest

SHAPE = (240, 320)  # rows, cols of every test micrograph
DIAMETER = 24.0
NAMES = ["mic_a", "mic_b", "mic_c"]


def particle_centers(k: int) -> list[tuple[int, int]]:
    """(x, y) centers of the dark discs drawn on micrograph ``k``."""
    return [(60 + 50 * i + 7 * k, 60 + 40 * (i % 3)) for i in range(4)]


@pytest.fixture
def mic_dir(tmp_path: Path) -> Path:
    """Three noisy .mrc micrographs with dark discs at particle_centers(k)."""
    folder = tmp_path / "mics"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[: SHAPE[0], : SHAPE[1]]
    for k, name in enumerate(NAMES):
        image = rng.normal(0.0, 0.3, SHAPE).astype(np.float32)
        for x, y in particle_centers(k):
            image[(cols - x) ** 2 + (rows - y) ** 2 < (DIAMETER / 2) ** 2] -= 2.0
        with mrcfile.new(folder / f"{name}.mrc") as mrc:
            mrc.set_data(image)
            mrc.voxel_size = 1.5
    (folder / "notes.txt").write_text("not a micrograph\n")
    return folder


@pytest.fixture
def scored_picks(tmp_path: Path) -> Path:
    """A Topaz-style picks table with scores 0.1 .. 0.9 spread over the micrographs."""
    rows = []
    for k, name in enumerate(NAMES):
        for i, (x, y) in enumerate(particle_centers(k)):
            rows.append((name, x, y, round(0.1 + 0.2 * i + 0.05 * k, 3)))
    df = pd.DataFrame(rows, columns=["image_name", "x_coord", "y_coord", "score"])
    path = tmp_path / "picks.tsv"
    df.to_csv(path, sep="\t", index=False)
    return path


@pytest.fixture
def label_server():
    """Start ``fewlabel label ARGS...`` in a subprocess; returns (url, process). Stopped after."""
    import os
    import re
    import subprocess
    import sys
    import threading

    procs = []

    def start(*args: str, timeout: float = 30.0):
        env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
        proc = subprocess.Popen([sys.executable, "-m", "fewlabel.cli.main", "label", *map(str, args)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        procs.append(proc)
        found: list[str] = []
        lines: list[str] = []

        def reader():
            for line in proc.stdout:
                lines.append(line)
                m = re.search(r"open (http://\S+)", line)
                if m and not found:
                    found.append(m.group(1))

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        import time

        deadline = time.monotonic() + timeout
        while not found and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if not found:
            proc.kill()
            raise AssertionError("server did not start:\n" + "".join(lines))
        _wait_listening(found[0], deadline)
        return found[0], proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except Exception:  # pragma: no cover
                proc.kill()


def _wait_listening(url: str, deadline: float) -> None:
    import socket
    import time
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((parts.hostname, parts.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens at {url}")
