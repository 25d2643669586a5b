"""Simulate labeled 3D data sets for voxel classification: geometries and clathrin coats.

\b
Examples:
  fewlabel simulate volumes geometries -o geometries.npz --n-samples 600 --seed 0
  fewlabel simulate volumes clathrin -o clathrin_sim --n-structures 900 --seed 0
  fewlabel voxel fit --grids clathrin_sim/grids.npz --method pca -o model
"""

from __future__ import annotations

from pathlib import Path

import click


@click.group(name="volumes", help=__doc__)
def group() -> None:
    pass


@group.command("geometries")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Grid set .npz (X float32, y, classes).")
@click.option("--n-samples", default=600, show_default=True)
@click.option("--size", default=30, show_default=True, help="Grid edge n.")
@click.option("--noise", default=0.1, show_default=True, help="SD of the additive Gaussian noise.")
@click.option("--seed", default=0, show_default=True)
def geometries_cmd(output, n_samples, size, noise, seed) -> None:
    """Cubes, spheres and diamonds with random size, rotation and position plus noise."""
    from fewlabel.errors import InputError
    from fewlabel.simulate.volumes import geometries
    from fewlabel.voxel.grids import save_grids

    if n_samples < 1 or size < 4:
        raise InputError(None, "--n-samples must be >= 1 and --size >= 4")
    X, y, classes = geometries(n_samples, n=size, noise=noise, seed=seed)
    save_grids(output, X, y, classes=list(classes))
    click.echo(f"wrote {n_samples} {size}^3 grids ({', '.join(classes)}) to {output}")


@group.command("clathrin")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for localizations.csv, labels.csv and grids.npz.")
@click.option("--n-structures", default=900, show_default=True)
@click.option("--size", default=30, show_default=True, help="Grid edge n for grids.npz.")
@click.option("--voxel-size", default=10.0, show_default=True, help="Voxel edge in nm for grids.npz.")
@click.option("--sigma-xy", default=10.0, show_default=True, help="Lateral localization precision (nm).")
@click.option("--sigma-z", default=30.0, show_default=True, help="Axial localization precision (nm).")
@click.option("--blinks", default=3.0, show_default=True, help="Mean localizations per protein.")
@click.option("--background", default=0.1, show_default=True, help="Background localizations / signal.")
@click.option("--seed", default=0, show_default=True)
def clathrin_cmd(output, n_structures, size, voxel_size, sigma_xy, sigma_z, blinks, background, seed) -> None:
    """SMLM localizations of clathrin coats, flat lattice -> shallow cap -> deep pit, with labels."""
    import numpy as np
    import pandas as pd

    from fewlabel.atomic import atomic_path
    from fewlabel.errors import InputError
    from fewlabel.runtime import save_run_config
    from fewlabel.simulate.volumes import clathrin
    from fewlabel.voxel.grids import save_grids
    from fewlabel.voxel.voxelize import voxelize_clouds

    if n_structures < 1:
        raise InputError(None, "--n-structures must be >= 1")
    sim = clathrin(n_structures, seed=seed, sigma_xy_nm=sigma_xy, sigma_z_nm=sigma_z, blinks_mean=blinks,
                   background_frac=background)
    output.mkdir(parents=True, exist_ok=True)
    locs = pd.DataFrame(np.concatenate(sim.clouds), columns=["x [nm]", "y [nm]", "z [nm]"])
    locs.insert(0, "structure", np.repeat(np.arange(n_structures), [len(c) for c in sim.clouds]))
    with atomic_path(output / "localizations.csv") as tmp:
        locs.to_csv(tmp, index=False)
    labels = pd.DataFrame({"structure": np.arange(n_structures), "curved": sim.curved, "stage": sim.stage,
                           "stage_name": [sim.stages[s] for s in sim.stage], "theta_deg": sim.theta_deg.round(2),
                           "n_localizations": [len(c) for c in sim.clouds]})
    with atomic_path(output / "labels.csv") as tmp:
        labels.to_csv(tmp, index=False)
    X = voxelize_clouds(sim.clouds, size, voxel_size=voxel_size, centre="centroid")
    save_grids(output / "grids.npz", X, sim.curved, stage=sim.stage, classes=["flat", "curved"],
               names=np.array([f"structure_{i}" for i in range(n_structures)]))
    save_run_config(output / "run.json", "simulate volumes clathrin",
                    {"n_structures": n_structures, "size": size, "voxel_size": voxel_size, "sigma_xy": sigma_xy,
                     "sigma_z": sigma_z, "blinks": blinks, "background": background, "seed": seed})
    click.echo(f"wrote {n_structures} coats ({len(locs)} localizations; "
               f"{', '.join(f'{s}: {int((sim.stage == i).sum())}' for i, s in enumerate(sim.stages))}) to {output}")
