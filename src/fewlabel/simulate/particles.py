"""Labeled 2D particle images for 2D classification, with exact class labels.

Two kinds of classes:

- ``molecules``: each class is a different atomic model seen in uniformly random orientations
  (default ``adk_open, adk_closed, 1hvr, 5a7u``; adk open vs closed is the hard pair; note that
  ``4E43`` is the same protein as ``1hvr``, so it serves as a near-duplicate or unseen molecule);
- ``views``: one molecule, each class a cluster of viewing directions: ``n_views`` well-separated
  directions (tetrahedron for 4, a Fibonacci sphere otherwise, turned by a seeded rotation) with
  every particle's direction uniform in a cone of half-angle ``view_spread`` degrees around its
  class direction.

Every particle then gets a uniformly random in-plane rotation, a random shift (uniform in a
disk of ``max_shift`` pixels), its own CTF (random defocus and astigmatism), and noise at the
requested SNR (same definition as the micrographs, pooled over the whole set: the noise
variance is the mean footprint signal variance divided by ``snr``; ``snr=None`` is clean).
Images are computed on a 2x padded box and cropped, then normalised to zero mean and unit
variance each. Particles are dark on a light background (raw-micrograph contrast).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.transform import Rotation

from fewlabel.errors import InputError
from fewlabel.simulate.ctf import CTFParams, ctf_2d, interaction_constant, random_ctf
from fewlabel.simulate.density import Molecule, load_molecule, with_solvent
from fewlabel.simulate.noise import footprint_mask, make_noise
from fewlabel.simulate.project import place_atoms, projected_potential_ft, random_rotations

DEFAULT_MOLECULES = ("adk_open", "adk_closed", "1hvr", "5a7u")
#: columns written under their RELION names in particles.star (Å and degrees, as RELION)
RELION_NAMES = {"defocus_u": "rlnDefocusU", "defocus_v": "rlnDefocusV", "defocus_angle": "rlnDefocusAngle"}
#: fraction of the box taken by the largest particle's diameter when the pixel size is automatic
BOX_FILL = 0.7


def auto_pixel_size(molecules: Sequence[Molecule], box: int, fill: float = BOX_FILL) -> float:
    """Pixel size (Å) at which the largest molecule's diameter spans ``fill`` of the box."""
    return round(max(m.diameter for m in molecules) / (fill * box), 3)


def view_directions(n_views: int, rng: np.random.Generator) -> np.ndarray:
    """``n_views`` well-separated unit vectors ``[n, 3]`` (tetrahedron for 4), randomly turned."""
    if n_views == 4:
        dirs = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=np.float64)
    else:
        i = np.arange(n_views) + 0.5
        z = 1 - 2 * i / n_views
        phi = np.pi * (1 + 5**0.5) * i
        dirs = np.column_stack([np.sqrt(1 - z**2) * np.cos(phi), np.sqrt(1 - z**2) * np.sin(phi), z])
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    return random_rotations(1, rng)[0].apply(dirs)


def rotation_for_view(direction: np.ndarray, psi: float) -> Rotation:
    """The rotation that turns ``direction`` onto the viewing axis +z, then by ``psi`` radians
    in plane: projecting the rotated molecule along z shows it seen along ``direction``."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    theta = np.arccos(np.clip(d[2], -1.0, 1.0))
    phi = np.arctan2(d[1], d[0])
    return Rotation.from_euler("z", psi) * Rotation.from_euler("zy", [-phi, -theta])


def sample_cone(direction: np.ndarray, half_angle_deg: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors uniform on the spherical cap of ``half_angle_deg`` around ``direction``."""
    cos_t = rng.uniform(np.cos(np.deg2rad(half_angle_deg)), 1.0, size=n)
    phi = rng.uniform(0, 2 * np.pi, size=n)
    sin_t = np.sqrt(1 - cos_t**2)
    local = np.column_stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t])
    to_dir = rotation_for_view(direction, 0.0).inv()  # maps +z onto direction
    return to_dir.apply(local)


def _render(molecules: list[Molecule], mol_index: np.ndarray, rotations: Rotation, shifts: np.ndarray,
            ctfs: list[CTFParams] | None, box: int, pixel_size: float, chunk: int = 64,
            progress: bool = False) -> np.ndarray:
    """Noise-free contrast images ``[n, box, box]``: projections on a 2x box, CTF, cropped."""
    from scipy import fft
    from tqdm import tqdm

    elements = sorted({e for m in molecules for e in m.elements})
    lookup = {e: i for i, e in enumerate(elements)}
    remap = [np.asarray([lookup[e] for e in m.elements])[m.element_index] for m in molecules]
    big = fft.next_fast_len(2 * box, real=True)
    shape = (big, big)
    lo = big // 2 - box // 2
    out = np.empty((len(mol_index), box, box), dtype=np.float64)
    sigma_e = interaction_constant(ctfs[0].voltage if ctfs else 300.0)
    starts = range(0, len(mol_index), chunk)
    for start in tqdm(starts, desc="projecting particles", unit="batch", disable=not progress or len(starts) < 4):
        idx = np.arange(start, min(start + chunk, len(mol_index)))
        pts, els, batch = [], [], []
        for b, i in enumerate(idx):
            m = mol_index[i]
            c = (big // 2 + shifts[i, 0], big // 2 + shifts[i, 1])
            pts.append(place_atoms(molecules[m], rotations[int(i)], c, pixel_size))
            els.append(remap[m])
            batch.append(np.full(molecules[m].n_atoms, b))
        ft = projected_potential_ft(np.concatenate(pts), np.concatenate(els), elements, shape, pixel_size,
                                    batch_index=np.concatenate(batch), n_batch=len(idx))
        ft *= sigma_e
        if ctfs is not None:
            ft *= np.stack([ctf_2d(shape, pixel_size, ctfs[i]) for i in idx])
        img = -2.0 * fft.irfft2(ft, s=shape, axes=(-2, -1))
        out[idx] = img[:, lo:lo + box, lo:lo + box]
    return out


def parse_snr(value: str | float | None) -> float | None:
    """``clean``/``inf``/``none`` -> None (no noise), else a positive float (InputError otherwise)."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip().lower() in ("clean", "inf", "none", "noiseless"):
            return None
        try:
            value = float(value)
        except ValueError:
            raise InputError(None, f"SNR must be a positive number or 'clean', got {value!r}") from None
    if not np.isfinite(value):
        return None
    if value <= 0:
        raise InputError(None, f"SNR must be a positive number or 'clean', got {value}")
    return float(value)


def simulate_particles(n_per_class: int = 200, classes: str | Sequence[str] = DEFAULT_MOLECULES, *,
                       molecule: str = "adk_open", n_views: int = 4, view_spread: float = 10.0,
                       snr: float | str | None = 0.1, box: int = 64, pixel_size: float | None = None,
                       defocus_range: tuple[float, float] = (1.0, 2.5), ctf: bool = True,
                       max_shift: float = 4.0, ice_noise_fraction: float = 0.5, normalize: bool = True,
                       solvent: bool = True, progress: bool = False, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    """Simulate a labeled particle set; returns ``(images float32 [n, box, box], labels)``.

    ``classes`` is a list of molecules (vendored names or paths; one class each) or ``"views"``
    (``n_views`` view classes of ``molecule``). ``labels`` has ``index, label, class_name`` and
    per-particle truth (molecule, rot/tilt/psi, shift_x/y, defocus_u/v, defocus_angle);
    ``labels.attrs`` holds ``pixel_size``, ``particle_diameter_px`` and ``class_names``.
    ``defocus_range`` is in µm, the defocus columns in Å. ``rot, tilt, psi`` are
    ``R.as_euler("ZYZ", degrees=True)`` of the rotation applied to the atoms before projecting
    along z (see :mod:`fewlabel.simulate.project`). Particles are shuffled, so labels interleave.
    """
    if n_per_class < 1:
        raise InputError(None, f"particles per class must be >= 1, got {n_per_class}")
    if box < 16:
        raise InputError(None, f"box must be at least 16 pixels, got {box}")
    if max_shift < 0 or view_spread < 0:
        raise InputError(None, "max shift and view spread must be >= 0")
    lo_df, hi_df = defocus_range
    if not 0 < lo_df <= hi_df:
        raise InputError(None, f"defocus range must satisfy 0 < min <= max (µm), got {lo_df}..{hi_df}")
    snr_value = parse_snr(snr)
    rng = np.random.default_rng(seed)
    if isinstance(classes, str) and classes == "views":
        if n_views < 2:
            raise InputError(None, f"need at least 2 view classes, got {n_views}")
        molecules = [load_molecule(molecule)]
        class_names = [f"view{i}" for i in range(n_views)]
        directions = view_directions(n_views, rng)
    else:
        names = [classes] if isinstance(classes, str) else list(classes)
        if len(names) < 2:
            raise InputError(None, "need at least 2 molecule classes (or classes='views')")
        molecules = [load_molecule(m) for m in names]
        class_names = [m.name for m in molecules]
        if len(set(class_names)) != len(class_names):
            raise InputError(None, f"molecule classes must differ, got {', '.join(class_names)}")
        directions = None
    if pixel_size is None:
        pixel_size = auto_pixel_size(molecules, box)
    elif pixel_size <= 0:
        raise InputError(None, f"pixel size must be positive, got {pixel_size}")
    n_classes = len(class_names)
    n = n_per_class * n_classes
    label = rng.permutation(np.repeat(np.arange(n_classes), n_per_class))
    psi = rng.uniform(0, 2 * np.pi, size=n)
    if directions is not None:
        mol_index = np.zeros(n, dtype=np.int64)
        rots = []
        for i in range(n):
            d = sample_cone(directions[label[i]], view_spread, 1, rng)[0]
            rots.append(rotation_for_view(d, psi[i]))
        rotations = Rotation.concatenate(rots)
    else:
        mol_index = label.copy()
        rotations = random_rotations(n, rng)
    r = max_shift * np.sqrt(rng.uniform(0, 1, size=n))
    ang = rng.uniform(0, 2 * np.pi, size=n)
    shifts = np.column_stack([r * np.cos(ang), r * np.sin(ang)])
    ctfs = ([random_ctf(rng, (lo_df * 1e4, hi_df * 1e4), 300.0) for _ in range(n)] if ctf else None)

    rendered = [with_solvent(m) for m in molecules] if solvent else molecules
    signal = _render(rendered, mol_index, rotations, shifts, ctfs, box, pixel_size, progress=progress)
    radii = np.array([m.radius / pixel_size for m in molecules])
    centre = box // 2
    images = signal
    if snr_value is not None:
        variances = [signal[i][footprint_mask((box, box), [(centre + shifts[i, 0], centre + shifts[i, 1])],
                                              radii[mol_index[i]])].var() for i in range(n)]
        sigma = float(np.sqrt(np.mean(variances) / snr_value))
        micro = ctfs or [CTFParams()]
        noise = np.stack([make_noise((box, box), pixel_size, micro[i % len(micro)], rng, ice_noise_fraction)
                          for i in range(n)])
        images = signal + sigma * noise
    if normalize:
        mean = images.mean(axis=(1, 2), keepdims=True)
        sd = images.std(axis=(1, 2), keepdims=True)
        images = (images - mean) / np.where(sd > 0, sd, 1.0)

    euler = rotations.as_euler("ZYZ", degrees=True)
    labels = pd.DataFrame({
        "index": np.arange(n),
        "label": label,
        "class_name": [class_names[k] for k in label],
        "molecule": [molecules[m].name for m in mol_index],
        "rot": euler[:, 0], "tilt": euler[:, 1], "psi": euler[:, 2],
        "shift_x": shifts[:, 0], "shift_y": shifts[:, 1],
        "defocus_u": [c.defocus_u for c in ctfs] if ctfs else np.nan,
        "defocus_v": [c.defocus_v for c in ctfs] if ctfs else np.nan,
        "defocus_angle": [c.astigmatism_angle for c in ctfs] if ctfs else np.nan,
    })
    labels.attrs.update({
        "pixel_size": float(pixel_size),
        "particle_diameter_px": {m.name: round(m.diameter / pixel_size, 2) for m in molecules},
        "class_names": class_names,
        "snr": snr_value,
        "view_directions": None if directions is None else directions.round(6).tolist(),
    })
    return images.astype(np.float32), labels


def write_particles(out_dir: str | os.PathLike, images: np.ndarray, labels: pd.DataFrame,
                    params: dict[str, Any]) -> dict[str, Any]:
    """Write ``particles.mrcs`` + ``particles.star`` (via fewlabel.io.stacks), ``labels.csv``
    (index, label, class_name) and ``simulation.json``; return the summary written."""
    import json

    from fewlabel.atomic import atomic_path, write_text_atomic
    from fewlabel.io.stacks import write_stack
    from fewlabel.runtime import run_record

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pixel_size = labels.attrs["pixel_size"]
    meta = labels.drop(columns=["index"]).rename(columns=RELION_NAMES).reset_index(drop=True)
    meta.insert(0, "rlnClassNumber", labels["label"].to_numpy() + 1)
    write_stack(out / "particles.mrcs", images, meta, pixel_size)
    with atomic_path(out / "labels.csv") as tmp:
        labels[["index", "label", "class_name"]].to_csv(tmp, index=False)
    counts = labels["class_name"].value_counts().to_dict()
    summary = {
        "n_particles": int(len(labels)),
        "box": int(images.shape[-1]),
        "pixel_size": pixel_size,
        "class_names": labels.attrs["class_names"],
        "class_counts": {k: int(v) for k, v in counts.items()},
        "particle_diameter_px": labels.attrs["particle_diameter_px"],
        "snr": labels.attrs["snr"],
        "view_directions": labels.attrs["view_directions"],
        "params": params,
        "files": {"stack": "particles.mrcs", "metadata": "particles.star", "labels": "labels.csv"},
        "run": run_record("simulate particles", params),
    }
    write_text_atomic(out / "simulation.json", json.dumps(summary, indent=2, default=str) + "\n")
    return summary
