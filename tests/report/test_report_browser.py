"""The run report renders in a real headless Chromium: the embedded figures are drawn, not broken links.

Skipped when Debian's chromium is absent (CI installs it when it can).
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from fewlabel.report.figures import save_figure
from fewlabel.report.run import build_run_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def test_report_screenshot_shows_the_figure(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    run = tmp_path / "run"
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(np.zeros((10, 10)), cmap="gray")  # a big black square: easy to find on the screenshot
    ax.axis("off")
    save_figure(fig, run / "black_square.png")
    page = build_run_report(run)
    shot = tmp_path / "shot.png"
    profile = tempfile.mkdtemp(prefix="fewlabel-chromium-")
    try:
        subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                        "--window-size=1000,800", page.as_uri()], check=True, timeout=60,
                       capture_output=True)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.shape == (800, 1000)
    # The page background is white; the embedded figure puts a large black block on screen.
    assert (pixels < 30).mean() > 0.05
    assert (pixels > 240).mean() > 0.3
