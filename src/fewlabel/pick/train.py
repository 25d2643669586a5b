"""Train a PU picker on prepared (downsampled, normalized) micrographs.

:func:`train_picker` works on arrays so it can be tested and benchmarked without files; the
CLI (``fewlabel pick train``) reads files, prepares them and calls it. Each epoch is
``steps_per_epoch`` minibatches of tiles; after each epoch the model picks the held-out labeled
micrographs and their AUPRC is printed; the best model is written to ``output`` and the last
state (optimizer, RNG, history) to :func:`last_path` for ``--resume``. Ctrl-C leaves both usable.

``init_state`` starts from given weights (the shipped general picker, :mod:`fewlabel.pick.pretrained`)
instead of random ones; the starting model is then scored on the validation micrographs as
"epoch 0", so fine-tuning can never return a worse model than the one it started from.
Fine-tuning from it with few labels (below :data:`FEW_LABELS_BELOW`, :data:`FINE_TUNE`) also pulls the model
towards the starting model's scores on every unlabeled pixel (``distill``): the labels alone are overfit within the
default schedule, while distillation keeps the model near what the general picker already finds. Half the positive
tiles centre on the hand labels (``label_tiles``), and the saved weights are the mean of the last epochs'
(``average_last``), mixed with the starting ones (``mix_start``). The starting model's top picks can join the labels
as hard positives instead (``pseudo_labels``, the few-label default until session 11).
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from fewlabel.checkpoint import load_checkpoint, save_checkpoint
from fewlabel.errors import InputError
from fewlabel.pick import metrics, nms
from fewlabel.pick.models import build_model, model_config, score_map
from fewlabel.pick.objectives import autoencoder_loss, pu_loss
from fewlabel.pick.sampling import TileSampler, positive_mask

KIND = "pick"


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved in the model file.

    Radii are in ORIGINAL pixels; ``downsample`` is the factor applied to the images (integer or not).
    """

    radius: float
    pi: float
    downsample: float = 1
    normalize: str = "robust"
    model: str = "resnet8"
    units: int = 16
    dropout: float = 0.0
    objective: str = "ge-binomial"
    slack: float | None = None
    autoencoder: float = 0.0
    epochs: int = 10
    steps_per_epoch: int = 100
    tile: int = 32
    positive_tiles: int = 4
    random_tiles: int = 4
    binomial_group: int = 256
    lr: float | None = None  # None: SCRATCH_LR, or FINE_TUNE["lr"] from the general picker
    #: learning rate over the run: "constant", or "cosine" (decays to 0 at the last minibatch, so the last
    #: epoch's weights are not one noisy step of a constant-rate walk)
    lr_decay: str = "constant"
    #: keep the starting weights' batch-norm running statistics while fine-tuning (needs starting weights):
    #: training minibatches (tiles centred on positives plus random ones) are not what whole micrographs look
    #: like, so statistics updated from them drift away from what scoring sees
    keep_bn_stats: bool = False
    augment: bool = True
    weight_decay: float = 0.0
    nms_radius: float | None = None
    seed: int = 0
    init: str = "scratch"  # or "general_picker": starting weights (see pick.pretrained)
    #: starting model's top picks on the training micrographs added as positives, as a fraction of the
    #: expected particle count (needs starting weights); None: FINE_TUNE's value from the general picker, else 0
    pseudo_labels: float | None = None
    #: epochs at the start with the trunk frozen (only the 1x1 classifier trains); None: as pseudo_labels
    freeze_epochs: int | None = None
    #: the saved model is (1 - mix_start) x the trained weights + mix_start x the starting weights (weight-space
    #: ensembling, "WiSE-FT", Wortsman et al. 2022; needs starting weights); None: as pseudo_labels
    mix_start: float | None = None
    #: the trained weights are the mean of the weights after each of the last this-many epochs (stochastic weight
    #: averaging, Izmailov et al. 2018; batch-norm statistics averaged alike): 1 = the epoch's own weights.
    #: Averages out the noisy walk a constant-rate fine-tune takes between epochs; None: as pseudo_labels
    average_last: int | None = None
    #: fraction of each minibatch's positive tiles centred on hand-labeled particles; the rest are centred on any
    #: positive (pseudo-labels included, which outnumber 10 labels 24 to 1 or more). 0 = all alike; None: as
    #: pseudo_labels
    label_tiles: float | None = None
    #: weight of a distillation term: on unlabeled pixels the model is pulled towards the starting model's
    #: probabilities (binary cross-entropy with its soft scores as targets; "learning without forgetting", Li and
    #: Hoiem 2017): a soft, everywhere version of pseudo-labels (needs starting weights). 0 = off; None: as
    #: pseudo_labels
    distill: float | None = None
    #: the distillation targets: "tile", the starting model on each (randomly flipped) training tile, one extra
    #: forward pass per step; or "tta", its mean logit over the 8 symmetries of the square (as ``pick extract``
    #: scores), computed once per training micrograph before the first step and cropped with the tiles. The
    #: flips make "tile" a random one of the 8 views each step, so both pull towards about the same mean, and "tta"
    #: saves the extra pass; None: as pseudo_labels
    distill_targets: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def radius_ds(self) -> float:
        return self.radius / self.downsample

    @property
    def nms_radius_orig(self) -> float:
        """Extraction/validation NMS radius (original px); default twice the positive radius."""
        return self.nms_radius if self.nms_radius else 2.0 * self.radius


#: Adam learning rate from random weights
SCRATCH_LR = 5e-4
#: fine-tuning defaults when starting from the general picker (``init="general_picker"``). With 10 labels
#: and the default 10 x 100 schedule, plain fine-tuning overfits the labels (test AUPRC EMPIAR-10017 0.615 +- 0.091,
#: 3 seeds; unseen simulated 4E43 0.679, 2 seeds; general picker alone 0.722 / 0.782). Adding the general
#: picker's top picks (half the expected count) as positives: 0.729 +- 0.002 / 0.748; lr 1e-4 instead: 0.724 /
#: 0.708; both: 0.740 / 0.722 (better on the real set, worse on the unseen protein, so not the default).
#: benchmarks/results/bench_pick_pretrained.md (``--pseudo 0.5``, ``--lr 1e-4``).
#: mix_start 0.5: with 10 labels the fine-tuned weights, halfway back to the general picker's, keep what the
#: general picker finds on a protein the labels barely describe (test AUPRC with tta, 10x100, pseudo-labels 0.5,
#: seeds 0 / 1 / 2, unmixed -> mixed 0.5: unseen 4E43 0.778 / 0.758 / 0.771 -> 0.786 / 0.786 / 0.779, EMPIAR-10017
#: 0.738 / 0.730 / 0.729 -> 0.733 / 0.730 / 0.730; general picker alone 0.787 / 0.734; bench_pick_pretrained.md).
#: average_last 5 and label_tiles 0.5 (both fixed before measuring; benchmarks/results/pick_session9.md): the
#: noisy last epoch averaged out, and half the positive tiles on the hand labels instead of 1 in 25 or fewer; 5 label
#: draws, 10 labels, tta, both vs neither: unseen 4E43 0.798 +- 0.010 vs 0.790 +- 0.009, EMPIAR-10017 0.771 +- 0.005
#: vs 0.765 +- 0.004 (8 of the 10 draws up).
#: distill 1 instead of pseudo-labels 0.5 (session 11; weight fixed before measuring; benchmarks/results/
#: pick_session11.md): test AUPRC, tta, unseen 4E43 / EMPIAR-10017, vs the few-label defaults before it: 10 labels (5
#: draws) 0.802 / 0.775 vs 0.798 / 0.771, 20 labels (3 draws) 0.802 / 0.784 vs 0.795 / 0.769; and vs plain fine-tuning
#: at 40 labels 0.819 / 0.794 vs 0.810 / 0.777.
#: distill_targets "tta" (session 12; benchmarks/results/pick_session12.md): the same AUPRC as per-tile targets on
#: every one of 5 draws x 2 sets (within 0.002; means 0.802 / 0.775 both), 15-24 % less training time.
FINE_TUNE: dict[str, Any] = {"lr": 5e-4, "pseudo_labels": 0.0, "freeze_epochs": 0, "mix_start": 0.5,
                             "average_last": 5, "label_tiles": 0.5, "distill": 1.0, "distill_targets": "tta"}
#: the same fields without fine-tuning help: from random weights, or from the general picker with many labels
PLAIN: dict[str, Any] = {"pseudo_labels": 0.0, "freeze_epochs": 0, "mix_start": 0.0, "average_last": 1,
                         "label_tiles": 0.0, "distill": 0.0, "distill_targets": "tta"}
#: FINE_TUNE's distillation, mixing, averaging and label tiles apply below this many labeled particles only: they
#: pin the model near the general picker, which helps while the labels say less than its picks, and holds it back
#: once they say more. Test AUPRC, 10x100, tta, label draws 0 / 1 / 2, FINE_TUNE vs PLAIN (mean, unseen 4E43 /
#: EMPIAR-10017; benchmarks/results/pick_session11.md): 20 labels 0.802 / 0.784 vs 0.779 / 0.728; 40: 0.819 / 0.794
#: vs 0.810 / 0.777; 50: 0.823 / 0.795 vs 0.825 / 0.787; 70: 0.820 / 0.794 vs 0.825 / 0.782 (ties on the unseen
#: protein, ahead on the real set on every draw); 100: 0.819 / 0.795 vs 0.841 / 0.792. Nothing measured between 70 and
#: 100. (Session 10, with pseudo-labels instead of distillation: 40.)
FEW_LABELS_BELOW = 100


def resolve_defaults(config: TrainConfig, n_labeled: int | None = None) -> TrainConfig:
    """``config`` with every None fine-tuning field (lr, pseudo_labels, freeze_epochs, mix_start, average_last,
    label_tiles, distill, distill_targets) set for its ``init`` and, from the general picker, the number of labeled
    particles (None: as if few): :data:`FINE_TUNE` below :data:`FEW_LABELS_BELOW`, else :data:`PLAIN` but for the
    learning rate."""
    from dataclasses import replace

    tuned = config.init == "general_picker"
    defaults = dict(FINE_TUNE) if tuned else {"lr": SCRATCH_LR, **PLAIN}
    if tuned and n_labeled is not None and n_labeled >= FEW_LABELS_BELOW:
        defaults.update(PLAIN)
    return replace(config, **{k: v for k, v in defaults.items() if getattr(config, k) is None})


def model_picks(model, image: np.ndarray, nms_radius: float, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """``(centres [k, 2] as column, row, scores [k])`` of ``model`` on one prepared image: its score map
    (one orientation) after non-maximum suppression at ``nms_radius``."""
    s = score_map(model, torch.from_numpy(image).to(device)).cpu().numpy()
    return nms.non_maximum_suppression(s, nms_radius)


def pseudo_positives(model, images: list[np.ndarray], labeled: list[np.ndarray], n: int, nms_radius: float,
                     device: str = "cpu") -> list[np.ndarray]:
    """The ``n`` top-scoring picks of ``model`` over all ``images`` (NMS at ``nms_radius``), per image.

    Picks within ``nms_radius`` of a labeled centre (``labeled[i]``, [k, 2] as column, row) are
    skipped: those particles are positives already. Returns one ``[m, 2]`` array per image.
    """
    cands = []
    model.eval()
    with torch.inference_mode():
        for i, im in enumerate(images):
            xy, vals = model_picks(model, im, nms_radius, device)
            if len(labeled[i]) and len(xy):
                d2 = ((xy[:, None, :] - labeled[i][None, :, :]) ** 2).sum(-1)
                keep = d2.min(1) > nms_radius ** 2
                xy, vals = xy[keep], vals[keep]
            cands += [(float(v), i, float(x), float(y)) for (x, y), v in zip(xy, vals)]
    cands.sort(key=lambda c: -c[0])
    out = [[] for _ in images]
    for _, i, x, y in cands[:max(0, int(n))]:
        out[i].append((x, y))
    return [np.asarray(o, float).reshape(-1, 2) for o in out]


def teacher_probabilities(model, image: np.ndarray, device: str = "cpu") -> np.ndarray:
    """``model``'s probability at every pixel of a prepared micrograph from its mean logit over the 8 symmetries
    of the square (as ``pick extract`` scores): the ``distill_targets="tta"`` targets."""
    with torch.no_grad():
        logits = score_map(model, torch.from_numpy(np.asarray(image, np.float32)).to(device), tta=True)
    return torch.sigmoid(logits).float().cpu().numpy()


def mix_states(trained: dict[str, torch.Tensor], start: dict[str, torch.Tensor],
               fraction: float) -> dict[str, torch.Tensor]:
    """``(1 - fraction) x trained + fraction x start`` for every float tensor (weights and batch-norm
    statistics); integer entries (batch counters) stay the trained ones."""
    return {k: torch.lerp(v, start[k].to(v), fraction) if v.is_floating_point() else v for k, v in trained.items()}


def average_states(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Mean of state dicts for every float tensor; integer entries (batch counters) are the last one's."""
    last = states[-1]
    return {k: torch.stack([s[k].to(v) for s in states]).mean(0) if v.is_floating_point() else v
            for k, v in last.items()}


def learning_rate(config: TrainConfig, step: int) -> float:
    """Adam's learning rate at minibatch ``step`` (0-based over the whole run) under ``config.lr_decay``."""
    if config.lr_decay == "constant":
        return float(config.lr)
    if config.lr_decay == "cosine":
        total = max(1, config.epochs * config.steps_per_epoch)
        return float(config.lr) * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
    raise InputError(None, f"unknown learning-rate decay {config.lr_decay!r} (constant or cosine)")


def set_learning_rate(opt: torch.optim.Optimizer, config: TrainConfig, step: int) -> None:
    """Set every parameter group's rate for ``step``: a function of the step alone, so ``--resume`` needs no
    scheduler state."""
    for group in opt.param_groups:
        group["lr"] = learning_rate(config, step)


def last_path(output: str | Path) -> Path:
    """Where the resumable last-epoch checkpoint of ``output`` lives (``MODEL.last.pt``)."""
    output = Path(output)
    return output.with_name(output.stem + ".last" + (output.suffix or ".pt"))


#: below this many labeled particles no micrographs are held out for validation: a 20% hold-out of
#: 10-100 labels leaves 1-20 particles, too few to choose an epoch (benchmarks/results/
#: bench_pick_objectives_experiments.md: GE-binomial at 10 labels 0.365 -> 0.596 on simulated data and
#: 0.693 -> 0.717 on EMPIAR-10017 when training on all labels and keeping the last epoch).
MIN_LABELS_FOR_VALIDATION = 200


def default_downsample(radius: float, particle_radius: float | None = None, general_picker: bool = False) -> float:
    """``pick train``'s downsampling factor for positive radius ``radius`` (original px).

    From the general picker: its working scale (:func:`fewlabel.pick.pretrained.downsample_for_diameter`
    of the particle diameter, ``2 x particle_radius``, default ``4 x radius``). From random weights:
    the integer that makes the positive radius ~3 px, ``round(radius / 3)``, at least 1.
    """
    if general_picker:
        from fewlabel.pick.pretrained import downsample_for_diameter

        return downsample_for_diameter(2 * (particle_radius or 2 * radius))
    return max(1, int(round(radius / 3)))


def default_validation_fraction(n_labeled: int) -> float:
    """Fraction of labeled micrographs to hold out: 0.2 with enough labels, else none (keep the last epoch)."""
    return 0.2 if n_labeled >= MIN_LABELS_FOR_VALIDATION else 0.0


def split_validation(names: list[str], labeled: pd.DataFrame, fraction: float,
                     rng: np.random.Generator) -> list[str]:
    """Labeled micrographs held out for validation (none if fewer than two are labeled)."""
    labeled_names = [n for n in names if n in set(labeled["image_name"])]
    if len(labeled_names) < 2 or fraction <= 0:
        return []
    n_val = max(1, int(round(fraction * len(labeled_names))))
    n_val = min(n_val, len(labeled_names) - 1)
    return sorted(rng.choice(labeled_names, size=n_val, replace=False).tolist())


def picks_auprc(model, images: list[np.ndarray], truth: list[np.ndarray], nms_radii: list[float],
                match_radius: float, device: str = "cpu") -> float:
    """AUPRC of the model's picks on prepared ``images`` against ``truth`` centres (same frame):
    NMS of each score map at its own radius, greedy matching within ``match_radius``."""
    rows, true_rows = [], []
    for k, (im, xy, r) in enumerate(zip(images, truth, nms_radii)):
        pxy, vals = model_picks(model, im, r, device)
        rows.append(pd.DataFrame({"image_name": str(k), "x_coord": pxy[:, 0], "y_coord": pxy[:, 1],
                                  "score": vals}))
        true_rows.append(pd.DataFrame({"image_name": str(k), "x_coord": xy[:, 0], "y_coord": xy[:, 1]}))
    return metrics.evaluate_picks(pd.concat(rows), pd.concat(true_rows), match_radius).auprc


def validation_auprc(model, images: list[np.ndarray], truth: list[np.ndarray], radius: float,
                     device: str, expected: float | None = None) -> dict[str, float]:
    """Pick AUPRC on held-out labeled micrographs (prepared frame, NMS and match radius ``radius``).

    Only SOME particles of a micrograph are labeled, so every unlabeled true particle counts as a
    false pick and ``val_auprc`` is far below the AUPRC against complete truth. If the labeled
    particles are a random sample of the ``expected`` per micrograph, recall is unbiased and
    precision is scaled by the labeled fraction c, so ``val_auprc_est = val_auprc / c`` (at most 1)
    estimates the AUPRC over all particles. Best-epoch selection uses ``val_auprc`` (same order).
    """
    auprc = picks_auprc(model, images, truth, [radius] * len(images), radius, device)
    out = {"val_auprc": auprc}
    if expected:
        labeled_fraction = min(1.0, sum(len(t) for t in truth) / (expected * len(images)))
        out["val_auprc_est"] = min(1.0, auprc / labeled_fraction)
    return out


def _rng_state(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def train_picker(images: list[np.ndarray], names: list[str], labeled: pd.DataFrame, config: TrainConfig,
                 output: str | Path, *, validation: list[str] | None = None, resume: bool = False,
                 device: str = "cpu", log: Callable[[str], None] = print, progress: bool = True,
                 run_info: dict[str, Any] | None = None,
                 init_state: dict[str, Any] | None = None) -> list[dict[str, float]]:
    """Train and write the best model to ``output``; return the per-epoch history.

    ``images`` are prepared (downsampled, normalized) arrays named by ``names``; ``labeled`` holds
    picks in that same downsampled frame. ``validation`` names labeled micrographs to hold out.
    ``init_state``: starting weights (a state dict of the same architecture; a decoder, if any,
    starts random). Each history record carries ``elapsed_s``, training wall time so far.
    """
    from tqdm import tqdm

    output = Path(output)
    config = resolve_defaults(config, len(labeled))
    if (config.pseudo_labels or config.freeze_epochs or config.mix_start or config.distill) and init_state is None:
        raise InputError(None, "pseudo-labels, a frozen trunk, mixing and distillation need starting weights "
                               "(the general picker)")
    if config.distill < 0:
        raise InputError(None, f"distill = {config.distill:g} is negative")
    if config.distill_targets not in ("tile", "tta"):
        raise InputError(None, f"distill_targets = {config.distill_targets!r} must be 'tile' or 'tta'")
    learning_rate(config, 0)  # an unknown lr_decay fails here, before any work
    if not 0 <= config.mix_start <= 1:
        raise InputError(None, f"mix_start = {config.mix_start:g} is not between 0 and 1")
    if config.average_last < 1:
        raise InputError(None, f"average_last = {config.average_last} must be at least 1 (1 = no averaging)")
    if not 0 <= config.label_tiles <= 1:
        raise InputError(None, f"label_tiles = {config.label_tiles:g} is not between 0 and 1")
    validation = list(validation or [])
    ds = config.downsample
    r_ds = config.radius_ds
    for im in images:
        if r_ds >= min(im.shape) / 2:
            raise InputError(None, f"--radius {config.radius:g} px is larger than the downsampled "
                                   f"micrograph ({im.shape[1]}x{im.shape[0]} after /{ds}); lower --radius or --downsample")
    if not 0 < config.pi < 1:
        raise InputError(None, f"pi = {config.pi:.4g} is not between 0 and 1; check --expected/--radius or --pi")
    by_name = {n: g[["x_coord", "y_coord"]].to_numpy(float) for n, g in labeled.groupby("image_name")}
    train_idx = [i for i, n in enumerate(names) if n not in validation]
    masks = [positive_mask(images[i].shape, by_name.get(names[i], np.zeros((0, 2))), r_ds) for i in train_idx]
    if not any(m.any() for m in masks):
        raise InputError(None, "no labeled picks on any training micrograph")
    val_images = [images[names.index(n)] for n in validation]
    val_truth = [by_name[n] for n in validation]
    # particles per validation micrograph implied by pi (pi x area / positive-disk area)
    expected_per_image = (config.pi * float(np.mean([im.size for im in val_images])) / float(nms.disk(r_ds).sum())
                          if val_images else None)

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = build_model(config.model, units=config.units, dropout=config.dropout,
                        autoencoder=config.autoencoder > 0).to(device)
    if init_state is not None:
        try:
            missing, unexpected = model.load_state_dict(init_state, strict=False)
        except RuntimeError:  # shape mismatch
            missing, unexpected = [], ["(shapes differ)"]
        if unexpected or any(not k.startswith("decoder.") for k in missing):
            raise InputError(None, f"starting weights do not fit {config.model}/{config.units} units")
    else:
        with torch.no_grad():  # start at the prior: predicted positive fraction = pi
            model.classifier.bias.fill_(math.log(config.pi / (1 - config.pi)))
    if config.keep_bn_stats:
        if init_state is None:
            raise InputError(None, "keeping batch-norm statistics needs starting weights (the general picker)")
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.momentum = 0.0  # forward passes in training mode no longer move the running statistics
    # the starting weights, for mix_start (taken before a resumed state replaces them)
    start = ({k: v.detach().clone() for k, v in model.state_dict().items()}
             if config.mix_start and init_state is not None else None)
    teacher = soft = None  # for distill: the frozen starting model, or its probabilities on each micrograph
    if config.distill and init_state is not None:
        if config.distill_targets == "tile":
            teacher = copy.deepcopy(model).eval()
            teacher.requires_grad_(False)
        else:
            soft = [teacher_probabilities(model, images[i], device) for i in train_idx]
    pseudo: list[list[list[float]]] | None = None
    window: list[dict[str, torch.Tensor]] = []  # weights after each of the last average_last epochs
    if resume:
        pseudo = load_checkpoint(last_path(output), KIND)["training_state"].get("pseudo_positives")
    elif config.pseudo_labels:
        n_pseudo = int(round(config.pseudo_labels * config.pi * sum(images[i].size for i in train_idx)
                             / float(nms.disk(r_ds).sum())))
        found = pseudo_positives(model, [images[i] for i in train_idx],
                                 [by_name.get(names[i], np.zeros((0, 2))) for i in train_idx], n_pseudo,
                                 config.nms_radius_orig / ds, device)
        pseudo = [p.tolist() for p in found]
        log(f"pseudo-labels: the starting model's top {sum(len(p) for p in found)} picks on {len(train_idx)} "
            f"training micrographs added as positives ({config.pseudo_labels:g} x expected count)")
    label_masks = masks
    if pseudo:
        masks = [m | positive_mask(m.shape, np.asarray(p, float).reshape(-1, 2), r_ds) for m, p in zip(masks, pseudo)]
    rf = model.receptive_field
    tile = int(min(config.tile, *(images[i].shape[0] for i in train_idx), *(images[i].shape[1] for i in train_idx)))
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    full_config = {**asdict(config), "model_config": model_config(model), "receptive_field": rf,
                   "validation_micrographs": validation, "nms_radius_used": config.nms_radius_orig,
                   "run": run_info or {}}
    history: list[dict[str, float]] = []
    best = -math.inf
    start_epoch = 0
    if resume:
        ckpt = load_checkpoint(last_path(output), KIND)
        state = ckpt["training_state"]
        model.load_state_dict(ckpt["state_dict"])
        opt.load_state_dict(state["optimizer"])
        rng.bit_generator.state = json.loads(state["numpy_rng"])
        torch.set_rng_state(state["torch_rng"])
        history = list(state["history"])
        best = state["best"]
        start_epoch = state["epoch"]
        window = list(state.get("average_window") or [])
        log(f"resuming from {last_path(output)} after epoch {start_epoch} (best validation AUPRC {best:.4f})")
    sampler = TileSampler([images[i] for i in train_idx], masks, rf, tile, rng, augment=config.augment,
                          anchors=label_masks if config.label_tiles else None, anchor_fraction=config.label_tiles,
                          soft=soft)

    def save_last(epoch: int) -> None:
        state = {"epoch": epoch, "optimizer": opt.state_dict(), "numpy_rng": _rng_state(rng),
                 "torch_rng": torch.get_rng_state(), "history": history, "best": best, "pseudo_positives": pseudo,
                 "average_window": window if config.average_last > 1 else None}
        save_checkpoint(last_path(output), KIND, full_config, model.state_dict(), state)

    def saved_state() -> dict[str, torch.Tensor]:
        """The weights the model file gets: the trained ones (averaged over the last ``average_last`` epochs),
        mixed with the starting ones (``mix_start``)."""
        trained = average_states(window) if len(window) > 1 else model.state_dict()
        return mix_states(trained, start, config.mix_start) if start is not None else trained

    def scored_model():
        """The model validation scores: the one that would be saved."""
        if start is None and len(window) <= 1:
            return model
        mixed = copy.deepcopy(model)
        mixed.load_state_dict(saved_state())
        return mixed

    def save_best(epoch: int, score: float) -> None:
        save_checkpoint(output, KIND, full_config, saved_state(),
                        {"epoch": epoch, "validation_auprc": score, "history": history})

    if init_state is not None:
        log(f"fine-tuning from {config.init}: lr {config.lr:g}, pseudo-labels {config.pseudo_labels:g} x expected "
            f"count, trunk frozen for {config.freeze_epochs} epoch(s), saved weights mixed {config.mix_start:g} "
            "with the starting ones" + (f", distilled from them with weight {config.distill:g} (targets: "
                                        f"{config.distill_targets})" if config.distill else ""))
    log(f"training {config.model} (receptive field {rf} px at /{ds}) with {config.objective}, pi={config.pi:.4g}, "
        f"{len(train_idx)} training / {len(validation)} validation micrographs, "
        f"{int(sum(m.sum() for m in masks))} positive pixels"
        + (f"; saved weights averaged over the last {config.average_last} epochs" if config.average_last > 1 else ""))
    epoch = start_epoch
    t_start = time.perf_counter() - (history[-1].get("elapsed_s", 0.0) if history else 0.0)
    if init_state is not None and val_images and not resume:
        model.eval()
        record = {"epoch": 0, "loss": float("nan"), "elapsed_s": 0.0,
                  **validation_auprc(model, val_images, val_truth, config.nms_radius_orig / ds, device,
                                     expected_per_image)}
        history.append(record)
        best = record["val_auprc"]
        save_best(0, best)
        log(f"epoch 0 (starting weights, {config.init}) val_auprc={best:.4f} (labeled particles only) (saved)")
    try:
        for epoch in range(start_epoch, config.epochs):
            frozen = epoch < config.freeze_epochs
            model.train()
            for prm in model.features.parameters():
                prm.requires_grad_(not frozen)
            if frozen:
                model.features.eval()  # batch-norm statistics stay the starting model's too
            losses = []
            bar = tqdm(range(config.steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs}",
                       disable=not progress, leave=False)
            for step in bar:
                set_learning_rate(opt, config, epoch * config.steps_per_epoch + step)
                x, pos, unl, soft_tiles = sampler.sample_soft(config.positive_tiles, config.random_tiles)
                x_t = torch.from_numpy(x).to(device)
                if model.decoder is not None:
                    logits, h = model(x_t, return_features=True)
                else:
                    logits, h = model(x_t), None
                z_pos = logits[torch.from_numpy(pos).to(device)]
                unl_t = torch.from_numpy(unl).to(device)
                z_unl = logits[unl_t]
                z_unl = z_unl[torch.randperm(z_unl.numel(), device=z_unl.device)]
                loss = pu_loss(config.objective, z_pos, z_unl, config.pi, config.slack, config.binomial_group)
                targets = None  # distillation targets on every pixel of the tiles
                if teacher is not None:
                    with torch.no_grad():
                        targets = torch.sigmoid(teacher(x_t))
                elif soft_tiles is not None:
                    targets = torch.from_numpy(soft_tiles).to(device)
                if targets is not None:
                    loss = loss + config.distill * F.binary_cross_entropy_with_logits(logits[unl_t], targets[unl_t])
                if h is not None:
                    loss = loss + config.autoencoder * autoencoder_loss(model.decoder(h), x_t)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            if config.average_last > 1:
                window = (window + [{k: v.detach().clone() for k, v in model.state_dict().items()}])[
                    -config.average_last:]
            record = {"epoch": epoch + 1, "loss": float(np.mean(losses)),
                      "elapsed_s": time.perf_counter() - t_start, **({"frozen_trunk": True} if frozen else {})}
            if val_images:
                model.eval()
                record.update(validation_auprc(scored_model(), val_images, val_truth, config.nms_radius_orig / ds,
                                               device, expected_per_image))
            history.append(record)
            score = record.get("val_auprc", float(epoch))  # without validation keep the last
            msg = f"epoch {epoch + 1}/{config.epochs} loss={record['loss']:.4f}"
            if "val_auprc" in record:
                msg += f" val_auprc={record['val_auprc']:.4f} (labeled particles only)"
                if "val_auprc_est" in record:
                    msg += f" est. over all particles ~{record['val_auprc_est']:.2f}"
            if score > best:
                best = score
                save_best(epoch + 1, record.get("val_auprc", float("nan")))
                msg += " (best, saved)"
            save_last(epoch + 1)
            log(msg)
    except KeyboardInterrupt:
        if not output.exists():
            save_best(epoch, float("nan"))
        log(f"interrupted: best model in {output}, resumable state in {last_path(output)}")
        raise
    return history


def load_picker(path: str | Path, device: str = "cpu"):
    """Load a trained picker: ``(model in eval mode, config dict)``; InputError for bad files."""
    ckpt = load_checkpoint(path, KIND, map_location=device)
    cfg = ckpt["config"]
    try:
        mc = cfg["model_config"]
        model = build_model(mc["name"], units=mc["units"], dropout=mc["dropout"], autoencoder=mc["autoencoder"])
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise InputError(path, f"model file does not match this fewlabel's pickers ({type(exc).__name__})") from None
    return model.to(device).eval(), cfg
