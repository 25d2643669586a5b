"""Simulate cryo-EM micrographs with exact ground-truth particle positions.

Particles are projections of a real atomic model (exact Coulomb potential, uniformly random
orientations) seen through a CTF, with noise at a per-particle SNR, an ice gradient,
contaminations, carbon edges and junk (fragments, aggregates). Writes OUTPUT/micrographs/*.mrc (pixel size in the header),
truth.tsv, truth.star, truth_particles.csv (orientations), labeled_N.tsv (N positives for
positive-unlabeled training) and simulation.json (every parameter, the CTF of every
micrograph, the particle diameter in pixels).

Examples:

\b
    fewlabel simulate micrographs -o sim --n 40 --seed 0
    fewlabel simulate micrographs -o small --n 4 --shape 512 512 --snr 0.1 --pdb 1hvr
    fewlabel simulate micrographs -o mix --pdb adk_open --pdb adk_closed --defocus-min 0.8 --defocus-max 2.0
"""

from __future__ import annotations

from pathlib import Path

import click

from fewlabel.simulate.density import vendored_molecules


@click.command(name="micrographs", help=__doc__)
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (created).")
@click.option("--n", "n", type=click.IntRange(min=1), default=40, show_default=True, help="Number of micrographs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same files).")
@click.option("--pdb", "pdb", multiple=True, default=("adk_open",), show_default=True,
              help=f"Atomic model: a vendored name ({', '.join(vendored_molecules())}) or a PDB/mmCIF "
                   "path. Repeat for a mixture.")
@click.option("--shape", nargs=2, type=int, default=(1024, 1024), show_default=True,
              help="Micrograph size in pixels: ROWS COLS.")
@click.option("--pixel-size", type=float, default=1.25, show_default=True, help="Pixel size in Å.")
@click.option("--snr", type=float, default=0.05, show_default=True,
              help="Per-particle SNR: variance of the particle signal within its disk / noise variance.")
@click.option("--defocus-min", type=float, default=1.0, show_default=True, help="Smallest defocus in µm.")
@click.option("--defocus-max", type=float, default=2.5, show_default=True, help="Largest defocus in µm.")
@click.option("--particles-per-micrograph", type=float, default=80.0, show_default=True,
              help="Mean number of particles per micrograph (varies between micrographs).")
@click.option("--carbon-probability", type=float, default=0.3, show_default=True,
              help="Fraction of micrographs with a carbon edge.")
@click.option("--contaminations", type=float, default=1.5, show_default=True,
              help="Mean number of contamination blobs per micrograph.")
@click.option("--junk", type=float, default=3.0, show_default=True,
              help="Mean number of junk particles (fragments, aggregates; not in the truth) per micrograph.")
@click.option("--labeled", "labeled", default="10,100,1000", show_default=True,
              help="Sizes of the labeled positive subsets, comma-separated.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes; results do not depend on it.")
def command(output: Path, n: int, seed: int, pdb: tuple[str, ...], shape: tuple[int, int], pixel_size: float,
            snr: float, defocus_min: float, defocus_max: float, particles_per_micrograph: float,
            carbon_probability: float, contaminations: float, junk: float, labeled: str, workers: int) -> None:
    import time

    from fewlabel.errors import InputError
    from fewlabel.simulate.density import load_molecule
    from fewlabel.simulate.micrographs import make_config, simulate_micrographs

    try:
        sizes = tuple(int(s) for s in labeled.split(",") if s.strip())
    except ValueError:
        raise InputError(None, f"--labeled must be comma-separated integers, got {labeled!r}") from None
    params = dict(molecules=tuple(pdb), shape=tuple(shape), pixel_size=pixel_size, snr=snr,
                  defocus_min=defocus_min, defocus_max=defocus_max,
                  particles_per_micrograph=particles_per_micrograph, carbon_probability=carbon_probability,
                  contaminations_per_micrograph=contaminations, junk_per_micrograph=junk)
    make_config(**params)  # validate everything before printing or writing anything
    for name in pdb:
        load_molecule(name)
    click.echo(f"simulating {n} micrographs of {shape[0]}x{shape[1]} px at {pixel_size} Å/px "
               f"({', '.join(pdb)}, SNR {snr}) into {output}", err=True)
    start = time.perf_counter()
    summary = simulate_micrographs(output, n=n, seed=seed, labeled_sizes=sizes, workers=workers, **params)
    click.echo(f"wrote {summary['n_micrographs']} micrographs with {summary['n_particles']} particles "
               f"(diameter {summary['particle_diameter_px']:.1f} px) to {output} "
               f"in {time.perf_counter() - start:.1f} s")
