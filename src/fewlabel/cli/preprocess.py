"""Downsample (Fourier cropping) and normalize micrographs; writes MRC with the new pixel size.

Each input becomes OUTDIR/<name>.mrc. Downsampling by F divides coordinates by F: convert picks
with `fewlabel.preprocess.scale_coordinates`, never by hand. All inputs are checked (headers)
before anything is written; a run record goes to OUTDIR/preprocess.json.

Examples:

\b
    fewlabel preprocess raw/*.mrc -o processed/ --downsample 4
    fewlabel preprocess raw/ -o processed/ --downsample 8 --normalize gmm --seed 1
    fewlabel preprocess scans/*.tif -o processed/ --pixel-size 1.06 --normalize none
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="preprocess", help=__doc__)
@click.argument("micrographs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output folder: one <name>.mrc per micrograph.")
@click.option("--downsample", "factor", type=click.FloatRange(min=1), default=1, show_default=True,
              help="Downsampling factor, integer or not (Fourier cropping).")
@click.option("--normalize", "method", type=click.Choice(["robust", "gmm", "none"]), default="robust",
              show_default=True, help="robust: median/MAD; gmm: Topaz-style 2-Gaussian fit; none.")
@click.option("--pixel-size", type=float, default=None,
              help="Pixel size in Å for inputs whose file has none (TIFF/PNG/JPEG, empty MRC header).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the GMM pixel subsample.")
def command(micrographs: tuple[Path, ...], output: Path, factor: float, method: str,
            pixel_size: float | None, seed: int) -> None:
    """Downsample and normalize MICROGRAPHS (files or folders) into OUTPUT."""
    from tqdm import tqdm

    from fewlabel.atomic import check_not_input
    from fewlabel.errors import InputError
    from fewlabel.io.micrographs import list_micrographs, read_micrograph, read_micrograph_shape, write_micrograph
    from fewlabel.preprocess import preprocess_micrograph
    from fewlabel.runtime import save_run_config

    paths = list_micrographs(micrographs)
    seen: dict[str, Path] = {}
    for p in paths:
        if p.stem in seen:
            raise InputError(p, f"has the same name as {seen[p.stem]}; outputs would collide")
        seen[p.stem] = p
        check_not_input(output / f"{p.stem}.mrc", [p])
        read_micrograph_shape(p)  # header check of every input before anything is written
    if pixel_size is not None and not pixel_size > 0:
        raise InputError(None, f"--pixel-size must be positive, got {pixel_size}")

    click.echo(f"preprocessing {len(paths)} micrograph(s): downsample x{factor:g}, normalize={method} -> {output}")
    output.mkdir(parents=True, exist_ok=True)
    first = None
    # disable=None: a progress bar on a terminal, none in logs and pipes
    for path in tqdm(paths, desc="preprocess", unit="mic", disable=True if len(paths) < 2 else None):
        mic = read_micrograph(path)
        if mic.pixel_size is None:
            mic.pixel_size = pixel_size
        small = preprocess_micrograph(mic, downsample=factor, normalize=method, seed=seed)
        write_micrograph(output / f"{mic.name}.mrc", small)
        first = first or (mic, small)
    mic, small = first
    apix = "unknown" if mic.pixel_size is None else f"{mic.pixel_size:g} -> {small.pixel_size:g} Å"
    click.echo(f"wrote {len(paths)} MRC file(s); size {mic.shape[1]}x{mic.shape[0]} -> "
               f"{small.shape[1]}x{small.shape[0]} px; pixel size {apix}")
    save_run_config(output / "preprocess.json", "preprocess",
                    {"micrographs": [str(p) for p in paths], "output": str(output), "downsample": factor,
                     "normalize": method, "pixel_size": pixel_size, "seed": seed})
