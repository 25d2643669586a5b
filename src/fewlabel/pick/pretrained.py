"""The general picker shipped with fewlabel: its training recipe, corpus, weights and loading.

Weights cannot be downloaded on air-gapped clusters, so fewlabel trains its own general picker
on its own simulator and ships it in ``fewlabel/data/weights/general_picker.pt`` (+ ``.json``).

Canonical frame. ``pick train`` downsamples so the positive radius is ~3 px, i.e. the particle
radius is ~6 px (4.3-8 px, by rounding of the factor). The general picker is trained in that
frame directly: every corpus micrograph is simulated at the pixel size that puts its particle's
radius at a random 4.5-8 px, with a random molecule (monomers and point-group assemblies of the
vendored models, 30-200 Å), defocus, ice, carbon, contamination, junk and crowding. The SNR
is drawn as users see it at their ORIGINAL pixel size (0.01-0.1) and converted to the
downsampled frame as ``snr x F^2 x k`` (Fourier cropping by F cuts white-noise variance by F²;
k in 0.15-0.5 is the fraction of the CTF-modulated particle signal that survives the crop,
measured with the simulator for F = 2-8). Training is fully supervised: plain binary cross
entropy on every pixel of random tiles, positives within half the particle radius of a true centre.

Any user's data lands in this frame once downsampled from the particle diameter, so
``pick extract`` without ``--model`` needs only ``--diameter``; ``pick train`` starts from these
weights by default (``--no-pretrained`` for random initialisation).

Rebuild the shipped weights (bit for bit on CPU with one thread)::

    python benchmarks/pretrain_picker.py -o src/fewlabel/data/weights/general_picker.pt
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fewlabel.errors import InputError

KIND = "pick"
WEIGHTS_NAME = "general_picker.pt"
#: particle radius (px) in the canonical frame that ``pick train``'s default downsampling gives
CANONICAL_PARTICLE_RADIUS = 6.0
#: particle radius (px) at which the general picker scores and is fine-tuned on users' micrographs (the
#: downsampling factor, integer or not, is the particle radius over this). Its own held-out corpus
#: micrographs score best at their true radius, but both benchmark sets outside the corpus (real
#: EMPIAR-10017 beta-galactosidase, simulated 4E43) score best with the particle 12-20 % larger than the
#: nominal diameter gives (bounding-sphere radius): 6.75 is the best of 6.0-7.4 on the real set and within
#: 0.01 of the best on the simulated one (benchmarks/results/bench_picker_scale.md).
WORKING_PARTICLE_RADIUS = 6.75

#: molecules of the pretraining corpus: ``name[:GROUP[:seed[:spacing]]]`` (see simulate.assemblies)
CORPUS = ("5a7u", "5a7u:C3:0", "5a7u:D2:0", "adk_closed", "adk_open", "adk_closed:C2:0",
          "adk_open:C2:1", "adk_closed:C4:0", "adk_open:D2:0", "adk_open:D3:0:1.1")
#: kept out of the corpus for the "unseen protein" benchmarks: HIV-1 protease (both files) and the progesterone
#: receptor ligand-binding domain dimer (1a28)
HELD_OUT = ("4E43", "1hvr", "1a28")


@dataclass(frozen=True)
class Recipe:
    """Everything that defines the general picker's corpus and training (saved beside the weights)."""

    seed: int = 0
    corpus: tuple[str, ...] = CORPUS
    n_micrographs: int = 300
    n_validation: int = 8
    shape: int = 256  # corpus micrographs, canonical-frame px
    particle_radius: tuple[float, float] = (4.5, 8.0)  # canonical-frame px
    positive_fraction: float = 0.5  # positive radius / particle radius (pick train: R = particle radius / 2)
    snr_original: tuple[float, float] = (0.01, 0.1)  # log-uniform, at the original pixel size
    downsample: tuple[int, int] = (2, 9)  # F, uniform integers, for the SNR conversion
    signal_kept: tuple[float, float] = (0.15, 0.5)  # k, log-uniform
    defocus: tuple[float, float] = (0.8, 3.5)  # µm, range of the mean defocus
    coverage: tuple[float, float] = (0.03, 0.4)  # fraction of the area covered by particle disks
    junk: tuple[float, float] = (0.0, 8.0)  # junk particles per micrograph (Poisson mean, uniform)
    contaminations: tuple[float, float] = (0.0, 3.0)
    carbon_probability: float = 0.3
    #: fraction of micrographs low-pass filtered like denoised ones (Topaz-Denoise, JANNI, CryoSegNet's
    #: preprocessing): users pick raw and denoised micrographs alike
    lowpass_probability: float = 0.0
    lowpass_sigma: tuple[float, float] = (0.6, 2.0)  # Gaussian blur sigma, canonical-frame px, log-uniform
    #: fraction with the background (a Gaussian blur of sigma ``highpass_sigma`` px) subtracted, as
    #: flattening / contrast-normalising preprocessing leaves micrographs (drawn after the low-pass)
    highpass_probability: float = 0.0
    highpass_sigma: tuple[float, float] = (4.0, 16.0)
    model: str = "resnet8"
    units: int = 16
    tile: int = 64
    batch: int = 8
    steps: int = 3000
    lr: float = 1e-3  # Adam, cosine decay to 0
    threads: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Recipe":
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})


@dataclass
class CorpusMicrograph:
    """One canonical-frame training micrograph: normalized image, true centres (col, row), radius."""

    image: np.ndarray
    centres: np.ndarray
    particle_radius: float
    info: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=64)
def corpus_molecule(spec: str):
    """``name[:GROUP[:seed[:spacing]]]`` -> Molecule (a vendored model or a symmetric assembly)."""
    from fewlabel.simulate.assemblies import symmetric_assembly
    from fewlabel.simulate.density import Molecule, load_molecule

    parts = spec.split(":")
    mol = load_molecule(parts[0])
    if len(parts) > 1:
        seed = int(parts[2]) if len(parts) > 2 else 0
        spacing = float(parts[3]) if len(parts) > 3 else 0.85
        mol = symmetric_assembly(mol, parts[1], seed=seed, spacing=spacing)
    return Molecule(spec.replace(":", "-"), mol.coords, mol.element_index, mol.elements)


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def simulate_canonical(recipe: Recipe, index: int, molecules: tuple[str, ...] | None = None) -> CorpusMicrograph:
    """Corpus micrograph ``index`` of ``recipe`` (own random stream from (seed, index))."""
    from scipy import ndimage

    from fewlabel import preprocess
    from fewlabel.simulate.micrographs import make_config, simulate_micrograph

    rng = np.random.default_rng(np.random.SeedSequence(recipe.seed, spawn_key=(7, index)))
    molecules = molecules or recipe.corpus
    spec = molecules[int(rng.integers(len(molecules)))]
    mol = corpus_molecule(spec)
    r_px = float(rng.uniform(*recipe.particle_radius))
    pixel_size = mol.radius / r_px
    factor = int(rng.integers(recipe.downsample[0], recipe.downsample[1] + 1))
    snr_orig = _loguniform(rng, *recipe.snr_original)
    snr = snr_orig * factor**2 * _loguniform(rng, *recipe.signal_kept)
    coverage = float(rng.uniform(*recipe.coverage))
    n_particles = coverage * recipe.shape**2 / (math.pi * r_px**2)
    d0 = float(rng.uniform(*recipe.defocus))
    config = make_config(
        shape=(recipe.shape, recipe.shape), pixel_size=pixel_size, molecules=(mol.name,), snr=snr,
        defocus_min=max(0.3, d0 - 0.3), defocus_max=d0 + 0.3, particles_per_micrograph=n_particles,
        density_spread=0.0, junk_per_micrograph=float(rng.uniform(*recipe.junk)),
        contaminations_per_micrograph=float(rng.uniform(*recipe.contaminations)),
        carbon_probability=recipe.carbon_probability, overlap_fraction=float(rng.uniform(0.0, 0.15)),
        ice_gradient=float(rng.uniform(0.0, 4.0)), ice_noise_fraction=float(rng.uniform(0.2, 0.7)))
    sim = simulate_micrograph(config, rng, name=f"corpus_{index:05d}", molecules=[mol])
    image, sigma = sim.image, 0.0
    if recipe.lowpass_probability and rng.uniform() < recipe.lowpass_probability:  # drawn last: the rest stays
        sigma = _loguniform(rng, *recipe.lowpass_sigma)
        image = ndimage.gaussian_filter(image, sigma, mode="reflect")
    background = 0.0
    if recipe.highpass_probability and rng.uniform() < recipe.highpass_probability:
        background = _loguniform(rng, *recipe.highpass_sigma)
        image = image - ndimage.gaussian_filter(image, background, mode="reflect")
    image = preprocess.normalize(image, "robust")
    centres = sim.truth[["x_coord", "y_coord"]].to_numpy(float)
    info = {"molecule": spec, "particle_radius": r_px, "pixel_size": pixel_size, "downsample": factor,
            "snr_original": snr_orig, "snr": snr, "defocus_um": d0, "n_particles": int(len(centres)),
            "lowpass_sigma": sigma, "highpass_sigma": background}
    return CorpusMicrograph(image=image, centres=centres, particle_radius=r_px, info=info)


def simulate_corpus(recipe: Recipe, start: int = 0, stop: int | None = None,
                    progress: bool = True) -> list[CorpusMicrograph]:
    """Corpus micrographs ``start..stop`` (default: all of the recipe's), in order."""
    from tqdm import tqdm

    stop = recipe.n_micrographs + recipe.n_validation if stop is None else stop
    return [simulate_canonical(recipe, i)
            for i in tqdm(range(start, stop), desc="simulating corpus", unit="mic", disable=not progress)]


def canonical_config(recipe: Recipe | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The general picker's model-file config: a pick model at downsample 1 in the canonical frame."""
    from fewlabel.pick.models import build_model, model_config

    recipe = recipe or Recipe()
    model = build_model(recipe.model, units=recipe.units)
    r = CANONICAL_PARTICLE_RADIUS
    return {"general_picker": True, "radius": r / 2, "downsample": 1, "normalize": "robust",
            "nms_radius_used": r, "model_config": model_config(model), "receptive_field": model.receptive_field,
            "canonical_particle_radius": r, "recipe": recipe.to_dict(), **(extra or {})}


def _bce_step(model, x, pos, neg):
    """Mean binary cross entropy over every labeled pixel of a minibatch (full supervision)."""
    import torch
    from torch.nn import functional as F

    z = model(x)
    target = torch.from_numpy(pos.astype(np.float32))
    weight = torch.from_numpy((pos | neg).astype(np.float32))
    return F.binary_cross_entropy_with_logits(z, target, weight=weight, reduction="sum") / weight.sum().clamp(min=1)


def corpus_auprc(model, micrographs: list[CorpusMicrograph]) -> float:
    """Pick AUPRC of ``model`` on canonical-frame micrographs (NMS at each one's particle radius,
    matching at their mean)."""
    from fewlabel.pick.train import picks_auprc

    radii = [m.particle_radius for m in micrographs]
    return float(picks_auprc(model, [m.image for m in micrographs], [m.centres for m in micrographs], radii,
                             float(np.mean(radii))))


def pretrain(recipe: Recipe, output: str | Path, corpus: list[CorpusMicrograph] | None = None, *,
             resume: bool = False, checkpoint_every: int = 250, log: Callable[[str], None] = print,
             progress: bool = True) -> dict[str, Any]:
    """Train the general picker by ``recipe`` and write it to ``output`` (+ ``.json``); return the summary.

    The last state (optimizer, RNGs, step) is saved every ``checkpoint_every`` steps to
    ``OUTPUT.last.pt``; ``resume=True`` continues from it and gives the same weights as one run.
    """
    import torch
    from tqdm import tqdm

    from fewlabel.checkpoint import load_checkpoint, save_checkpoint
    from fewlabel.pick.models import build_model
    from fewlabel.pick.sampling import TileSampler, positive_mask
    from fewlabel.pick.train import last_path

    output = Path(output)
    torch.set_num_threads(recipe.threads)
    t0 = time.process_time()
    if corpus is None:
        corpus = simulate_corpus(recipe, progress=progress)
    sim_cpu_s = time.process_time() - t0
    train_set, val_set = corpus[:recipe.n_micrographs], corpus[recipe.n_micrographs:]
    masks = [positive_mask(m.image.shape, m.centres, recipe.positive_fraction * m.particle_radius) for m in train_set]
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    model = build_model(recipe.model, units=recipe.units)
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, recipe.steps)
                                                                                 / recipe.steps)))
    sampler = TileSampler([m.image for m in train_set], masks, model.receptive_field, recipe.tile, rng, augment=True)
    step, history = 0, []
    if resume:
        ckpt = load_checkpoint(last_path(output), KIND)
        state = ckpt["training_state"]
        model.load_state_dict(ckpt["state_dict"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        rng.bit_generator.state = json.loads(state["numpy_rng"])
        torch.set_rng_state(state["torch_rng"])
        step, history = int(state["step"]), list(state["history"])
        log(f"resuming the general picker after step {step}")
    config = canonical_config(recipe)

    def save_last() -> None:
        save_checkpoint(last_path(output), KIND, config, model.state_dict(),
                        {"step": step, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                         "numpy_rng": json.dumps(rng.bit_generator.state), "torch_rng": torch.get_rng_state(),
                         "history": history})

    log(f"pretraining {recipe.model}/{recipe.units} on {len(train_set)} corpus micrographs "
        f"({sum(len(m.centres) for m in train_set)} particles), {recipe.steps} steps of {recipe.batch} "
        f"{recipe.tile}-px tiles")
    t1 = time.process_time()
    model.train()
    losses: list[float] = []
    bar = tqdm(total=recipe.steps, initial=step, desc="pretraining", disable=not progress)
    while step < recipe.steps:
        x, pos, neg = sampler.sample(0, recipe.batch)
        loss = _bce_step(model, torch.from_numpy(x), pos, neg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        losses.append(float(loss.detach()))
        bar.update()
        if step % checkpoint_every == 0 or step == recipe.steps:
            record = {"step": step, "loss": float(np.mean(losses[-checkpoint_every:]))}
            if val_set and (step % (4 * checkpoint_every) == 0 or step == recipe.steps):
                model.eval()
                record["val_auprc"] = corpus_auprc(model, val_set)
                model.train()
            history.append(record)
            bar.set_postfix(loss=f"{record['loss']:.4f}")
            save_last()
            log(json.dumps(record))
    bar.close()
    model.eval()
    summary = {"simulation_cpu_s": sim_cpu_s, "training_cpu_s": time.process_time() - t1, "history": history,
               "val_auprc": corpus_auprc(model, val_set) if val_set else None,
               "corpus": [m.info for m in corpus]}
    config = canonical_config(recipe, {"pretraining": {k: v for k, v in summary.items() if k != "corpus"}})
    save_checkpoint(output, KIND, config, model.state_dict())
    return summary


# ---- the shipped weights -------------------------------------------------------------------


def weights_path() -> Path | None:
    """Path of the shipped general picker (importlib.resources), or None if this install has none."""
    from importlib import resources

    ref = resources.files("fewlabel") / "data" / "weights" / WEIGHTS_NAME
    try:
        with resources.as_file(ref) as p:
            return Path(p) if Path(p).is_file() else None
    except (FileNotFoundError, ModuleNotFoundError):
        return None


def load_general(path: str | Path | None = None, device: str = "cpu"):
    """``(model in eval mode, config)`` of the general picker (default: the shipped weights)."""
    from fewlabel.pick.train import load_picker

    path = path or weights_path()
    if path is None:
        raise InputError(None, "this fewlabel install has no general picker weights "
                               "(fewlabel/data/weights/general_picker.pt); pass --model")
    model, config = load_picker(path, device)
    if not config.get("general_picker"):
        raise InputError(path, "not a general picker model file")
    return model, config


def matches(config: dict[str, Any], model: str, units: int) -> bool:
    """Whether a general picker config has the architecture ``model``/``units``."""
    mc = config.get("model_config", {})
    return mc.get("name") == model and int(mc.get("units", -1)) == int(units)


def pretrained_state(model: str, units: int, path: str | Path | None = None) -> tuple[dict, Path] | None:
    """``(state_dict, path)`` of the general picker if it has architecture ``model``/``units``, else None."""
    from fewlabel.checkpoint import load_checkpoint

    path = path or weights_path()
    if path is None:
        return None
    ckpt = load_checkpoint(path, KIND)
    if not ckpt["config"].get("general_picker") or not matches(ckpt["config"], model, units):
        return None
    return ckpt["state_dict"], Path(path)


def downsample_for_diameter(diameter: float) -> float:
    """The general picker's downsampling factor for particles of ``diameter`` original px: the particle
    radius lands at :data:`WORKING_PARTICLE_RADIUS` px (not rounded to an integer; at least 1)."""
    return max(1.0, round(diameter / 2 / WORKING_PARTICLE_RADIUS, 4))


def config_for_diameter(config: dict[str, Any], diameter: float) -> dict[str, Any]:
    """The general picker's config set up for particles of ``diameter`` original px (zero labels).

    Downsampling by :func:`downsample_for_diameter`, positive radius D/4 (``pick train``'s
    convention), NMS radius = particle radius = D/2.
    """
    if not diameter > 0:
        raise InputError(None, f"--diameter must be positive, got {diameter:g}")
    factor = downsample_for_diameter(diameter)
    return {**config, "downsample": factor, "radius": diameter / 4, "nms_radius_used": diameter / 2,
            "diameter": diameter}
