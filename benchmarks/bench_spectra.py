"""Power spectra of micrographs as the picker sees them: the real set vs the simulator's (domain gap).

Each prepared micrograph (downsampled as ``pick train`` would, robust-normalised) gets its radially
averaged power spectrum in 16 bands from 0 to 0.5 cycles/px, normalised to sum 1, averaged per data
set: EMPIAR-10017 (../shared; CryoSegNet's denoised 8-bit JPEGs, 20 px border cut for the
motion-correction streaks), the unseen-protein test set of bench_pick_pretrained.py, and the general
picker's canonical corpus (recipe seed 0, plus its low-pass and band-pass variants). Writes
benchmarks/results/bench_spectra.{json,md}.

    python benchmarks/bench_spectra.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pick_objectives import RESULTS, default_downsample, markdown_table, prepared, real_dataset  # noqa: E402
from bench_pick_pretrained import unseen_dataset  # noqa: E402

BANDS = 16


def band_powers(image: np.ndarray, bands: int = BANDS) -> np.ndarray:
    """Share of the (mean-removed) image's power in ``bands`` equal radial frequency bands up to 0.5 cycles/px."""
    f = np.abs(np.fft.fft2(image - image.mean())) ** 2
    r = np.hypot(*np.meshgrid(np.fft.fftfreq(image.shape[0]), np.fft.fftfreq(image.shape[1]), indexing="ij"))
    idx = np.minimum((r / 0.5 * bands).astype(int), bands)  # corners beyond 0.5 -> dropped band
    power = np.bincount(idx.ravel(), weights=f.ravel(), minlength=bands + 1)[:bands]
    return power / power.sum()


def main(argv=None) -> None:
    from fewlabel.atomic import write_text_atomic
    from fewlabel.pick.pretrained import Recipe, simulate_canonical

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10, help="micrographs per data set")
    ap.add_argument("--work", default=str(Path(__file__).resolve().parent / "work"))
    args = ap.parse_args(argv)
    sets: dict[str, list[np.ndarray]] = {}
    real = real_dataset()
    if real is not None:
        d = default_downsample(real["particle_radius"] / 2)
        sets[f"EMPIAR-10017 (denoised JPEG, downsample {d})"] = [
            im[20:-20, 20:-20] for im in prepared(real["train_paths"][:args.n], d)[1]]
    unseen = unseen_dataset(Path(args.work), 10, 5, 1024, [10, 100])
    d = default_downsample(unseen["particle_radius"] / 2)
    sets[f"simulated 4E43 (downsample {d})"] = prepared(unseen["train_paths"][:args.n], d)[1]
    sets["general picker corpus (recipe seed 0)"] = [simulate_canonical(Recipe(), i).image for i in range(args.n)]
    lowpass = replace(Recipe(), lowpass_probability=1.0)
    sets["corpus, every micrograph low-passed (lowpass_sigma 0.6-2 px)"] = [
        simulate_canonical(lowpass, i).image for i in range(args.n)]
    bandpass = replace(lowpass, highpass_probability=1.0)
    sets["corpus, every micrograph low-passed and flattened (highpass_sigma 4-16 px)"] = [
        simulate_canonical(bandpass, i).image for i in range(args.n)]
    rows = []
    for name, images in sets.items():
        p = np.mean([band_powers(im) for im in images], axis=0)
        rows.append({"data": name, "n": len(images), **{f"{(b + 0.5) / BANDS / 2:.3f}": float(v) for b, v in enumerate(p)}})
        print(f"{name:75s} " + " ".join(f"{v:.3f}" for v in p), flush=True)
    import pandas as pd

    df = pd.DataFrame(rows)
    out = RESULTS / "bench_spectra"
    write_text_atomic(out.with_suffix(".json"), json.dumps({"command": "python benchmarks/bench_spectra.py "
                                                    + " ".join(sys.argv[1:] if argv is None else argv),
                                                    "rows": rows}, indent=1) + "\n")
    md = ["# bench_spectra", "", __doc__.split("\n\n")[1].replace("\n", " "), "",
          "Share of power per radial band (column = band centre, cycles/px of the prepared micrograph):", "",
          markdown_table(df.round(3), index=False)]
    write_text_atomic(out.with_suffix(".md"), "\n".join(md) + "\n")
    print(f"wrote {out}.json and .md")


if __name__ == "__main__":
    main()
