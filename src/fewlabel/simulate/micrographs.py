"""Realistic single-particle micrographs with exact ground truth.

Image formation, per micrograph (all in the padded Fourier domain, then cropped):

1. a CTF is drawn (mean defocus uniform in the range, astigmatism, angle; Cs, voltage,
   amplitude contrast, B-factor envelope);
2. particles are placed uniformly with a minimum separation, a fraction of them touching or
   overlapping a neighbour, never on contaminations or carbon; the count per micrograph varies
   (Poisson around a log-normally varying mean); orientations are uniform on SO(3);
3. the phase object is ``σ · V_z`` (interaction constant times the exact projected Coulomb
   potential of every atom, minus that of the ice it displaces) and the contrast is ``-2 · IFT[CTF · E · Φ]`` (particles dark);
4. noise (white + CTF-filtered ice) is added at the requested per-particle SNR
   (see :mod:`fewlabel.simulate.noise` for the definition);
5. junk (fragments and aggregates of the molecule, through the same CTF, never in the truth
   and never overlapping a true particle), a low-frequency ice gradient, dark contaminations
   and carbon edges (with their own Thon-ring texture and Fresnel fringes) are added, the last
   three scaled in units of the noise standard deviation. Their positions are in
   ``simulation.json`` (``junk``, ``contaminations``, ``carbon``) for false-positive analysis.

The written micrograph is intensity relative to the incident beam (mean about 1), float32.
Truth coordinates are the projected atom centroids, ``x_coord`` = column, ``y_coord`` = row.
Every micrograph has its own random stream derived from ``(seed, index)``, so a run is
reproducible and independent of the number of workers.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fewlabel.errors import InputError
from fewlabel.simulate import artifacts
from fewlabel.simulate.ctf import CTFParams, apply_ctf, interaction_constant, random_ctf
from fewlabel.simulate.density import Molecule, load_molecule, with_solvent
from fewlabel.simulate.noise import footprint_mask, make_noise, noise_sigma
from fewlabel.simulate.project import place_atoms, projected_potential_ft, random_rotations

MICROGRAPH_STREAM = 1
LABEL_STREAM = 2


@dataclass(frozen=True)
class MicrographConfig:
    """Every parameter of a simulated micrograph (lengths in Å unless a unit is named)."""

    shape: tuple[int, int] = (1024, 1024)
    pixel_size: float = 1.25
    molecules: tuple[str, ...] = ("adk_open",)
    snr: float = 0.05
    defocus_min: float = 1.0  # µm
    defocus_max: float = 2.5  # µm
    astigmatism: float = 500.0  # Å, max |ΔU - ΔV|
    voltage: float = 300.0  # kV
    cs: float = 2.7  # mm
    amplitude_contrast: float = 0.07
    bfactor: float = 60.0  # Å², CTF envelope
    atom_bfactor: float = 0.0  # Å², extra blur of every atom
    solvent: bool = True  # subtract the potential of the ice each atom displaces
    particles_per_micrograph: float = 80.0
    density_spread: float = 0.5  # sd of log(count multiplier) between micrographs
    overlap_fraction: float = 0.08  # particles placed touching/overlapping a neighbour
    min_separation: float = 0.9  # × (r_i + r_j) for the others
    edge_margin: float = 0.5  # × radius: how far centres stay from the image border
    ice_noise_fraction: float = 0.5
    ice_gradient: float = 2.0  # peak-to-peak, × noise sd
    contaminations_per_micrograph: float = 1.5
    junk_per_micrograph: float = 3.0  # fragments and aggregates of the molecule, not in the truth
    contamination_contrast: float = 4.0  # × noise sd
    carbon_probability: float = 0.3
    carbon_contrast: float = 1.0  # × noise sd
    carbon_texture: float = 0.7  # × noise sd, CTF-filtered amorphous carbon
    edge_fringe: float = 2.0  # × noise sd, peak Fresnel fringe at carbon/contamination edges

    def validate(self) -> MicrographConfig:
        """Raise InputError for values no micrograph can be made with; return self."""
        rows, cols = self.shape
        checks = [
            (rows >= 32 and cols >= 32, f"shape must be at least 32x32, got {rows}x{cols}"),
            (self.pixel_size > 0, f"pixel size must be positive, got {self.pixel_size}"),
            (self.snr > 0, f"SNR must be positive, got {self.snr}"),
            (0 < self.defocus_min <= self.defocus_max,
             f"defocus range must satisfy 0 < min <= max (µm), got {self.defocus_min}..{self.defocus_max}"),
            (self.particles_per_micrograph >= 0,
             f"particles per micrograph must be >= 0, got {self.particles_per_micrograph}"),
            (0 <= self.overlap_fraction <= 1, "overlap fraction must be in [0, 1]"),
            (self.contaminations_per_micrograph >= 0 and self.junk_per_micrograph >= 0,
             "contaminations and junk per micrograph must be >= 0"),
            (0 <= self.ice_noise_fraction < 1, "ice noise fraction must be in [0, 1)"),
            (0 <= self.carbon_probability <= 1, "carbon probability must be in [0, 1]"),
            (0 <= self.amplitude_contrast < 1, "amplitude contrast must be in [0, 1)"),
            (self.voltage > 0 and self.cs >= 0 and self.bfactor >= 0, "voltage, Cs and B-factor must be >= 0"),
            (len(self.molecules) > 0, "at least one molecule is needed"),
        ]
        for ok, problem in checks:
            if not ok:
                raise InputError(None, problem)
        return self

    def ctf_microscope(self) -> dict[str, float]:
        return {"voltage": self.voltage, "cs": self.cs, "amplitude_contrast": self.amplitude_contrast,
                "bfactor": self.bfactor}


@dataclass
class SimulatedMicrograph:
    """One simulated micrograph with its truth and the components it was made of."""

    name: str
    image: np.ndarray  # float32 [rows, cols]
    truth: pd.DataFrame  # image_name, x_coord, y_coord, molecule, rot, tilt, psi, overlap
    ctf: CTFParams
    signal: np.ndarray  # particle contrast only (after CTF), same frame as image
    noise: np.ndarray  # added noise
    footprint: np.ndarray  # bool, particle disks
    noise_sigma: float
    info: dict[str, Any] = field(default_factory=dict)


def _fast_len(n: int) -> int:
    from scipy import fft

    return fft.next_fast_len(n, real=True)


def place_particles(shape: tuple[int, int], rng: np.random.Generator, radii: np.ndarray, n: int,
                    config: MicrographConfig, free_distance: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (col, row), molecule index and overlap flag of up to ``n`` particles.

    Most particles keep ``min_separation * (r_i + r_j)`` from each other; a fraction
    ``overlap_fraction`` is placed at 0.35-0.75 of that distance from an existing particle.
    ``free_distance`` (pixels to the nearest contamination/carbon) must exceed 0.8 radius.
    """
    rows, cols = shape
    centers: list[tuple[float, float]] = []
    mol: list[int] = []
    overlap: list[bool] = []
    for _ in range(n):
        m = int(rng.integers(len(radii)))
        r = radii[m]
        margin = config.edge_margin * r
        want_overlap = bool(centers) and rng.random() < config.overlap_fraction
        for _attempt in range(30):
            partner = -1
            if want_overlap:
                partner = int(rng.integers(len(centers)))
                dist = rng.uniform(0.35, 0.75) * (r + radii[mol[partner]])
                ang = rng.uniform(0, 2 * np.pi)
                c = (centers[partner][0] + dist * np.cos(ang), centers[partner][1] + dist * np.sin(ang))
            else:
                c = (rng.uniform(margin, cols - 1 - margin), rng.uniform(margin, rows - 1 - margin))
            if not (margin <= c[0] <= cols - 1 - margin and margin <= c[1] <= rows - 1 - margin):
                continue
            if free_distance is not None and free_distance[int(round(c[1])), int(round(c[0]))] <= 0.8 * r:
                continue
            if centers:
                arr = np.asarray(centers)
                d = np.hypot(arr[:, 0] - c[0], arr[:, 1] - c[1])
                limit = config.min_separation * (r + radii[np.asarray(mol)])
                if partner >= 0:
                    limit[partner] = 0.3 * (r + radii[mol[partner]])
                if (d < limit).any():
                    continue
            centers.append(c)
            mol.append(m)
            overlap.append(partner >= 0)
            if partner >= 0:
                overlap[partner] = True
            break
    return (np.asarray(centers, dtype=np.float64).reshape(-1, 2), np.asarray(mol, dtype=np.int64),
            np.asarray(overlap, dtype=bool))


def make_junk(molecule: Molecule, rng: np.random.Generator) -> Molecule:
    """A junk particle made from ``molecule``: a fragment (atoms within 35-60 % of the radius of a
    random atom: broken or partly unfolded protein) or an aggregate of 3-5 overlapping copies."""
    if rng.random() < 0.5:
        anchor = molecule.coords[rng.integers(molecule.n_atoms)]
        keep = np.linalg.norm(molecule.coords - anchor, axis=1) < rng.uniform(0.35, 0.6) * molecule.radius
        coords, index, kind = molecule.coords[keep], molecule.element_index[keep], "fragment"
    else:
        k = int(rng.integers(3, 6))
        rots = random_rotations(k, rng)
        offsets = rng.normal(size=(k, 3))
        offsets *= (rng.uniform(0.5, 0.9, size=k) * molecule.radius / np.linalg.norm(offsets, axis=1))[:, None]
        offsets[0] = 0.0
        coords = np.concatenate([rots[i].apply(molecule.coords) + offsets[i] for i in range(k)])
        index, kind = np.tile(molecule.element_index, k), "aggregate"
    return Molecule(f"{molecule.name}_{kind}", coords - coords.mean(axis=0), index, molecule.elements)


def place_junk(shape: tuple[int, int], rng: np.random.Generator, junk: list[Molecule], pixel_size: float,
               centers: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Centres (col, row) for junk particles, each kept clear of every true particle, so the
    truth stays exact; a junk item that finds no room in 30 tries is given NaN and dropped."""
    rows, cols = shape
    out = np.full((len(junk), 2), np.nan)
    for j, item in enumerate(junk):
        r = item.radius / pixel_size
        for _ in range(30):
            c = np.array([rng.uniform(0, cols - 1), rng.uniform(0, rows - 1)])
            if len(centers) and (np.hypot(*(centers - c).T) < 0.8 * (radii + r)).any():
                continue
            out[j] = c
            break
    return out


def _element_table(molecules: list[Molecule]) -> tuple[list[str], list[np.ndarray]]:
    elements = sorted({e for m in molecules for e in m.elements})
    lookup = {e: i for i, e in enumerate(elements)}
    remap = [np.asarray([lookup[e] for e in m.elements])[m.element_index] for m in molecules]
    return elements, remap


def particle_contrast(molecules: list[Molecule], mol_index: np.ndarray, rotations, centers: np.ndarray,
                      shape: tuple[int, int], pixel_size: float, ctf: CTFParams, atom_bfactor: float = 0.0,
                      pad: int | None = None) -> np.ndarray:
    """Contrast image of particles (after CTF, without noise) on an image of ``shape``.

    Computed on a canvas padded by ``pad`` pixels (default: the largest radius plus 32) so the
    CTF's delocalised fringes are not wrapped around, then cropped.
    """
    rows, cols = shape
    if pad is None:
        pad = int(np.ceil(max(m.radius for m in molecules) / pixel_size)) + 32
    pshape = (_fast_len(rows + 2 * pad), _fast_len(cols + 2 * pad))
    if len(centers) == 0:
        return np.zeros(shape)
    elements, remap = _element_table(molecules)
    pts, els = [], []
    for i, (c, m) in enumerate(zip(centers, mol_index)):
        pts.append(place_atoms(molecules[m], rotations[i], (c[0] + pad, c[1] + pad), pixel_size))
        els.append(remap[m])
    ft = projected_potential_ft(np.concatenate(pts), np.concatenate(els), elements, pshape, pixel_size,
                                atom_bfactor)
    ft *= interaction_constant(ctf.voltage)
    return apply_ctf(ft, pshape, pixel_size, ctf)[pad:pad + rows, pad:pad + cols]


def _ctf_padded(image: np.ndarray, pixel_size: float, ctf: CTFParams, pad: int = 64) -> np.ndarray:
    """CTF contrast of a phase image, edge-padded first so its borders do not wrap around."""
    from scipy import fft

    rows, cols = image.shape
    pshape = (_fast_len(rows + 2 * pad), _fast_len(cols + 2 * pad))
    padded = np.pad(image, ((pad, pshape[0] - rows - pad), (pad, pshape[1] - cols - pad)), mode="edge")
    return apply_ctf(fft.rfft2(padded), pshape, pixel_size, ctf)[pad:pad + rows, pad:pad + cols]


def _reference_variance(molecules: list[Molecule], pixel_size: float, ctf: CTFParams,
                        rng: np.random.Generator, atom_bfactor: float) -> float:
    """Footprint signal variance of a few isolated particles (for micrographs with none)."""
    radius = max(m.radius for m in molecules) / pixel_size
    size = int(4 * radius) + 8
    values = []
    for i in range(4):
        m = i % len(molecules)
        sig = particle_contrast(molecules, np.array([m]), random_rotations(1, rng), np.array([[size / 2, size / 2]]),
                                (size, size), pixel_size, ctf, atom_bfactor)
        values.append(sig[footprint_mask(sig.shape, [(size / 2, size / 2)], molecules[m].radius / pixel_size)].var())
    return float(np.mean(values))


def simulate_micrograph(config: MicrographConfig, rng: np.random.Generator, name: str = "mic_0000",
                        molecules: list[Molecule] | None = None) -> SimulatedMicrograph:
    """Simulate one micrograph from ``rng``; see the module docstring for the image model."""
    molecules = molecules or [load_molecule(m) for m in config.molecules]
    if config.solvent:
        molecules = [with_solvent(m) for m in molecules]
    shape = tuple(int(s) for s in config.shape)
    p = config.pixel_size
    radii = np.array([m.radius / p for m in molecules])
    ctf = random_ctf(rng, (config.defocus_min * 1e4, config.defocus_max * 1e4), config.astigmatism,
                     **config.ctf_microscope())

    # hard negatives first, so particles can avoid them
    n_cont = int(rng.poisson(config.contaminations_per_micrograph))
    cont_mask, blobs = artifacts.contaminations(shape, rng, n_cont, (0.6 * radii.max(), 6 * radii.max()))
    has_carbon = bool(rng.random() < config.carbon_probability)
    carbon_mask, carbon_info = (artifacts.carbon_edge(shape, rng) if has_carbon
                                else (np.zeros(shape), None))
    blocked = (cont_mask > 0.02) | (carbon_mask > 0.02)
    free = None
    if blocked.any():
        from scipy import ndimage

        free = ndimage.distance_transform_edt(~blocked)

    mean_count = config.particles_per_micrograph * np.exp(
        rng.normal(0, config.density_spread) - config.density_spread**2 / 2)
    n_target = int(rng.poisson(mean_count))
    centers, mol_index, overlap = place_particles(shape, rng, radii, n_target, config, free)
    rotations = random_rotations(max(len(centers), 1), rng)

    signal = particle_contrast(molecules, mol_index, rotations, centers, shape, p, ctf, config.atom_bfactor)
    n_junk = int(rng.poisson(config.junk_per_micrograph))
    junk = [make_junk(molecules[int(rng.integers(len(molecules)))], rng) for _ in range(n_junk)]
    junk_xy = place_junk(shape, rng, junk, p, centers, radii[mol_index])
    placed = ~np.isnan(junk_xy[:, 0])
    junk, junk_xy = [j for j, ok in zip(junk, placed) if ok], junk_xy[placed]
    junk_img = (particle_contrast(junk, np.arange(len(junk)), random_rotations(len(junk), rng), junk_xy, shape, p,
                                  ctf, config.atom_bfactor) if junk else 0.0)
    footprint = footprint_mask(shape, centers, radii[mol_index])
    if footprint.any():
        sigma = noise_sigma(signal, footprint, config.snr)
    else:
        sigma = float(np.sqrt(_reference_variance(molecules, p, ctf, rng, config.atom_bfactor) / config.snr))
    noise = sigma * make_noise(shape, p, ctf, rng, config.ice_noise_fraction)

    background = config.ice_gradient * sigma * artifacts.ice_gradient(shape, rng)
    if n_cont or has_carbon:
        from scipy import fft

        background -= sigma * (config.contamination_contrast * cont_mask + config.carbon_contrast * carbon_mask)
        steps = _ctf_padded(cont_mask + carbon_mask, p, ctf)
        steps -= steps.mean()
        background += config.edge_fringe * sigma * steps / max(np.abs(steps).max(), 1e-12)
        if has_carbon:
            texture = apply_ctf(fft.rfft2(carbon_mask * rng.standard_normal(shape)), shape, p, ctf)
            on_carbon = carbon_mask > 0.5
            scale = texture[on_carbon].std() if on_carbon.any() else texture.std()
            background += config.carbon_texture * sigma * texture / max(scale, 1e-12)

    image = (1.0 + signal + junk_img + noise + background).astype(np.float32)
    angles = rotations.as_euler("ZYZ", degrees=True)[: len(centers)]
    truth = pd.DataFrame({
        "image_name": name,
        "x_coord": np.round(centers[:, 0], 2),
        "y_coord": np.round(centers[:, 1], 2),
        "molecule": [molecules[m].name for m in mol_index],
        "rot": np.round(angles[:, 0], 3), "tilt": np.round(angles[:, 1], 3), "psi": np.round(angles[:, 2], 3),
        "overlap": overlap,
    })
    info = {
        "name": name,
        "n_particles": int(len(centers)),
        "n_overlapping": int(overlap.sum()),
        "ctf": ctf.to_dict(),
        "noise_sigma": sigma,
        "contaminations": blobs,
        "carbon": carbon_info,
        "junk": [{"x": float(x), "y": float(y), "kind": j.name.rsplit("_", 1)[1],
                  "radius": float(j.radius / p)} for j, (x, y) in zip(junk, junk_xy)],
        "snr_measured": float(signal[footprint].var() / noise.var()) if footprint.any() else None,
    }
    return SimulatedMicrograph(name=name, image=image, truth=truth, ctf=ctf, signal=signal, noise=noise,
                               footprint=footprint, noise_sigma=sigma, info=info)


def micrograph_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of micrograph ``index`` of a run with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(MICROGRAPH_STREAM, index)))


def micrograph_name(index: int) -> str:
    return f"mic_{index:04d}"


def labeled_order(truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Truth rows in a random order that visits micrographs round-robin (shuffled micrographs,
    shuffled particles within each): the first N rows are N positives spread over micrographs."""
    if truth.empty:
        return truth
    names = truth["image_name"].unique()
    names = names[rng.permutation(len(names))]
    rank = np.empty(len(truth), dtype=np.int64)
    for name in names:
        idx = np.flatnonzero(truth["image_name"].to_numpy() == name)
        rank[idx[rng.permutation(len(idx))]] = np.arange(len(idx))
    mic_order = {n: i for i, n in enumerate(names)}
    key = rank * len(names) + truth["image_name"].map(mic_order).to_numpy()
    return truth.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)


def _simulate_and_write(args: tuple[MicrographConfig, int, int, str]) -> tuple[pd.DataFrame, dict]:
    config, seed, index, out_dir = args
    from fewlabel.io.micrographs import write_micrograph

    sim = simulate_micrograph(config, micrograph_rng(seed, index), micrograph_name(index))
    path = Path(out_dir) / "micrographs" / f"{sim.name}.mrc"
    write_micrograph(path, sim.image, pixel_size=config.pixel_size)
    sim.info["file"] = f"micrographs/{path.name}"
    return sim.truth, sim.info


def make_config(**overrides: Any) -> MicrographConfig:
    """A validated :class:`MicrographConfig` from keyword overrides (unknown names: InputError)."""
    names = {f.name for f in fields(MicrographConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise InputError(None, f"unknown simulation parameter(s): {', '.join(unknown)}")
    if "shape" in overrides:
        overrides["shape"] = tuple(int(s) for s in overrides["shape"])
    if "molecules" in overrides:
        overrides["molecules"] = tuple(str(m) for m in overrides["molecules"])
    return replace(MicrographConfig(), **overrides).validate()


def simulate_micrographs(out_dir: str | os.PathLike, n: int = 40, seed: int = 0,
                         labeled_sizes: tuple[int, ...] = (10, 100, 1000), workers: int = 1,
                         progress: bool = True, **overrides: Any) -> dict[str, Any]:
    """Simulate ``n`` micrographs into ``out_dir`` and return the summary (also simulation.json).

    Writes ``micrographs/mic_XXXX.mrc``, ``truth.tsv``, ``truth.star``, ``truth_particles.csv``
    (orientations, molecule, overlap flag), ``labeled_{N}.tsv`` (N true positives spread over
    micrographs, nested: smaller sets are prefixes of larger ones) and ``simulation.json``.
    ``overrides`` are :class:`MicrographConfig` fields, e.g. ``shape=(256, 256), snr=0.1``.
    """
    from tqdm import tqdm

    from fewlabel.atomic import atomic_path, write_text_atomic
    from fewlabel.io.picks import write_picks
    from fewlabel.runtime import run_record

    if n < 1:
        raise InputError(None, f"number of micrographs must be >= 1, got {n}")
    config = make_config(**overrides)
    molecules = [load_molecule(m) for m in config.molecules]  # fail early on a bad --pdb
    out = Path(out_dir)
    new_names = {f"{micrograph_name(i)}.mrc" for i in range(n)}
    stale = sorted(p.name for p in (out / "micrographs").glob("*.mrc") if p.name not in new_names)
    if stale:
        raise InputError(out / "micrographs", f"holds {len(stale)} micrograph(s) this run would not write "
                                              f"(e.g. {stale[0]}), so the truth tables would not match; "
                                              "use an empty or new output folder")
    (out / "micrographs").mkdir(parents=True, exist_ok=True)
    jobs = [(config, seed, i, str(out)) for i in range(n)]
    bar = tqdm(total=n, desc="simulating micrographs", unit="mic", disable=not progress)
    results = []
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for res in pool.map(_simulate_and_write, jobs):
                results.append(res)
                bar.update()
    else:
        for job in jobs:
            results.append(_simulate_and_write(job))
            bar.update()
    bar.close()

    truth = pd.concat([r[0] for r in results], ignore_index=True)
    infos = [r[1] for r in results]
    picks = truth[["image_name", "x_coord", "y_coord"]]
    write_picks(picks, out / "truth.tsv")
    write_picks(picks, out / "truth.star")
    with atomic_path(out / "truth_particles.csv") as tmp:
        truth.to_csv(tmp, index=False)

    ordered = labeled_order(picks, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(LABEL_STREAM,))))
    sizes = sorted({int(s) for s in labeled_sizes if 0 < int(s) <= len(ordered)})
    if not sizes and len(ordered):
        sizes = [len(ordered)]
    labeled = {}
    for size in sizes:
        fname = f"labeled_{size}.tsv"
        write_picks(ordered.iloc[:size].reset_index(drop=True), out / fname)
        labeled[str(size)] = fname

    diam = {m.name: {"diameter_A": round(m.diameter, 2), "diameter_px": round(m.diameter / config.pixel_size, 2),
                     "n_atoms": m.n_atoms, "elements": list(m.elements)} for m in molecules}
    summary = {
        "seed": seed,
        "n_micrographs": n,
        "n_particles": int(len(truth)),
        "pixel_size": config.pixel_size,
        "shape": list(config.shape),
        "particle_diameter_px": max(d["diameter_px"] for d in diam.values()),
        "particle_radius_px": max(d["diameter_px"] for d in diam.values()) / 2,
        "molecules": diam,
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()},
        "intensity": "relative to the incident beam (mean ~1); particles dark",
        "snr_definition": "var(noise-free particle signal within particle disks) / var(noise)",
        "coordinates": "x_coord = column, y_coord = row, pixels, origin at array index [0, 0]",
        "files": {"truth_tsv": "truth.tsv", "truth_star": "truth.star",
                  "truth_particles": "truth_particles.csv", "labeled": labeled},
        "micrographs": infos,
        "run": run_record("simulate micrographs", {"n": n, "seed": seed, "workers": workers}),
    }
    write_text_atomic(out / "simulation.json", json.dumps(summary, indent=2, default=float) + "\n")
    return summary
