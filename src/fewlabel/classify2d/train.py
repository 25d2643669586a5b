"""Train the embedding network with a triplet margin loss, supervised or self-supervised.

- supervised: some particles carry a class label (``-1`` = unlabeled). Batches hold ``P`` classes x
  ``K`` particles, each randomly augmented; triplets come from the miner (labels = classes).
- self-supervised: no labels. Each batch holds ``B`` particles, each seen in ``views`` augmented
  copies; copies of one particle are positives, other particles negatives (labels = particle index).
  With ``split_views`` (default) the copies are made from two interleaved pixel sub-lattices of the
  particle (even rows/columns and odd rows/columns, Neighbor2Neighbor-style): they share the signal
  but not the pixel noise, so on noisy data the network cannot pair views by their common noise and
  must match the particle itself. Embedding uses the whole image.

Validation: a held-out part of the particles scored with fixed-seed augmentations after every epoch;
training stops when the validation loss has not improved for ``patience`` epochs and the best weights
are kept. After every epoch a checkpoint (``kind="classify2d"``) with the full config and training state
is written, so ``resume=True`` continues where an interrupted run stopped. Per-epoch random streams are
derived from ``(seed, epoch)``, so a resumed run matches an uninterrupted one.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from fewlabel.checkpoint import load_checkpoint, save_checkpoint
from fewlabel.classify2d.augment import AugmentConfig, augment
from fewlabel.classify2d.models import EmbeddingNet, build_model, deterministic_cpu, prepare_images
from fewlabel.classify2d.triplets import MINERS, mined_triplet_loss
from fewlabel.errors import InputError

KIND = "classify2d"
MODES = ("supervised", "self-supervised")


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved in the checkpoint)."""

    mode: str = "self-supervised"
    size: int | None = None          # working image size; None = the stack's box
    dim: int = 256
    width: int = 32
    depth: int = 3
    rot_pool: int = 4
    margin: float = 0.5
    miner: str = "semi-hard"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 64             # particles per batch
    views: int = 2                   # self-supervised: augmented copies per particle
    split_views: bool = True         # self-supervised: copies from disjoint pixel sub-lattices
    epochs: int = 30
    steps_per_epoch: int | None = None
    patience: int = 5
    val_fraction: float = 0.1
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        d["augment"] = AugmentConfig(**d.get("augment", {}))
        return cls(**d)

    def validate(self) -> None:
        if self.mode not in MODES:
            raise InputError(None, f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.miner not in MINERS:
            raise InputError(None, f"miner must be one of {', '.join(MINERS)}, not {self.miner!r}")
        if self.margin <= 0 or self.batch_size < 2 or self.epochs < 1 or self.patience < 1:
            raise InputError(None, "margin must be > 0, batch size >= 2, epochs and patience >= 1")
        if not 0 < self.val_fraction < 1:
            raise InputError(None, "val_fraction must be between 0 and 1")


@dataclass
class TrainResult:
    model: EmbeddingNet
    history: list[dict]
    best_epoch: int
    stopped_early: bool


def _split(n_items: int, labels: np.ndarray | None, frac: float, rng: np.random.Generator):
    """Train/validation indices; stratified by class when labels are given."""
    if labels is None:
        idx = rng.permutation(n_items)
        n_val = max(1, int(round(frac * n_items)))
        return np.sort(idx[n_val:]), np.sort(idx[:n_val])
    train, val = [], []
    for c in np.unique(labels[labels >= 0]):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = int(round(frac * len(idx))) if len(idx) >= 4 else 0
        val.extend(idx[:n_val])
        train.extend(idx[n_val:])
    return np.sort(np.array(train, int)), np.sort(np.array(val, int))


def _supervised_batches(idx: np.ndarray, labels: np.ndarray, batch: int, steps: int, rng: np.random.Generator):
    """``steps`` batches of P classes x K particles (P = all classes up to batch/2)."""
    classes = np.unique(labels[idx])
    by_class = {c: idx[labels[idx] == c] for c in classes}
    p = min(len(classes), max(2, batch // 2))
    k = max(2, batch // p)
    for _ in range(steps):
        chosen = rng.choice(classes, size=p, replace=False)
        yield np.concatenate([rng.choice(by_class[c], size=k, replace=len(by_class[c]) < k) for c in chosen])


def _instance_batches(idx: np.ndarray, batch: int, steps: int, rng: np.random.Generator):
    perm = rng.permutation(idx)
    for s in range(steps):
        start = (s * batch) % len(perm)
        b = perm[start:start + batch]
        if len(b) < 2:
            b = rng.choice(idx, size=min(batch, len(idx)), replace=False)
        yield b


def _batch_loss(model, x, labels_t, cfg: TrainConfig, gen: torch.Generator, supervised: bool):
    """Loss of one batch; ``x`` is ``[n, 1, s, s]``, or ``[n, 2, s, s]`` (two sub-lattice images) for split views."""
    if supervised:
        views, lab = augment(x, cfg.augment, gen), labels_t
    else:
        src = [x[:, i % x.shape[1]][:, None] for i in range(cfg.views)]
        views = torch.cat([augment(v, cfg.augment, gen) for v in src])
        lab = torch.arange(len(x), device=x.device).repeat(cfg.views)
    emb = model(views)
    return mined_triplet_loss(emb, lab, cfg.margin, cfg.miner, generator=gen)


def _evaluate(model, x_all, val_batches, cfg, supervised, device, seed) -> float:
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    losses = []
    with torch.no_grad():
        for b, lab in val_batches:
            x = x_all[b].to(device)
            losses.append(float(_batch_loss(model, x, lab.to(device), cfg, gen, supervised)))
    model.train()
    return float(np.mean(losses)) if losses else math.nan


def train_embedding(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    config: TrainConfig | None = None,
    output: str | os.PathLike | None = None,
    resume: bool = False,
    device: str = "cpu",
    progress: bool = True,
    log: Callable[[str], None] = print,
    extra_config: dict | None = None,
    references: np.ndarray | None = None,
    _stop_after: int | None = None,
) -> TrainResult:
    """Train an :class:`EmbeddingNet` on ``images [n, b, b]``; return the best model and its history.

    ``labels``: int array of length n with ``-1`` for unlabeled particles (supervised mode only).
    ``output``: checkpoint path written after every epoch (and at the end, with the best weights).
    ``extra_config`` is stored alongside (e.g. input file names) for reproducibility.
    ``references [k, s, s]`` (MRA references, e.g. from :func:`fewlabel.classify2d.mra.mra_classify`):
    train on the particles aligned onto their best reference instead (rotation-normalised, so use
    ``rot_pool=1`` and no rotation augmentation); the model keeps the references and
    :func:`fewlabel.classify2d.embed.embed` aligns new particles the same way.
    ``_stop_after`` (tests only) simulates an interruption after that many epochs.
    Same seed -> same weights on CPU whatever the thread count (see :func:`deterministic_cpu`).
    """
    with deterministic_cpu():
        return _train(images, labels, config, output, resume, device, progress, log, extra_config, references,
                      _stop_after)


def _train(images, labels, config, output, resume, device, progress, log, extra_config, references,
           _stop_after) -> TrainResult:
    from tqdm.auto import tqdm

    cfg = config or TrainConfig()
    cfg.validate()
    images = np.asarray(images)
    if images.ndim != 3 or len(images) == 0:
        raise InputError(None, f"expected a non-empty particle stack [n, box, box], got shape {images.shape}")
    n, box = len(images), images.shape[-1]
    supervised = cfg.mode == "supervised"
    if supervised:
        if labels is None:
            raise InputError(None, "supervised training needs labels")
        labels = np.asarray(labels, dtype=np.int64)
        if len(labels) != n:
            raise InputError(None, f"{len(labels)} labels for {n} particles")
        if len(np.unique(labels[labels >= 0])) < 2:
            raise InputError(None, "supervised training needs at least 2 labeled classes")
    elif n < 4:
        raise InputError(None, f"self-supervised training needs at least 4 particles, got {n}")

    if references is not None:
        from fewlabel.classify2d.mra import mra_profile

        references = np.asarray(references, dtype=np.float32)
        log(f"aligning {n} particles onto {len(references)} MRA references")
        images = mra_profile(images, references)[1]
        box = images.shape[-1]
    size = cfg.size or box
    model_cfg = {"box": size, "dim": cfg.dim, "width": cfg.width, "depth": cfg.depth, "rot_pool": cfg.rot_pool}
    if references is not None:
        model_cfg.update(references=len(references), reference_size=references.shape[-1])
    full_config = {"train": cfg.to_dict(), "model": model_cfg, "n_particles": n, "input_box": box,
                   **(extra_config or {})}

    torch.manual_seed(cfg.seed)
    model = build_model(model_cfg).to(device)
    if references is not None:
        model.references.copy_(torch.as_tensor(references))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if not supervised and cfg.split_views and box >= 8:
        x_all = torch.cat([prepare_images(images[:, 0::2, 0::2], size),
                           prepare_images(images[:, 1::2, 1::2], size)], dim=1)
    else:
        x_all = prepare_images(images, size)

    rng = np.random.default_rng(cfg.seed)
    if supervised:
        tr, va = _split(n, labels, cfg.val_fraction, rng)
        n_items = int((labels >= 0).sum())
    else:
        tr, va = _split(n, None, cfg.val_fraction, rng)
        n_items = n
    steps = cfg.steps_per_epoch or max(1, math.ceil(len(tr) / cfg.batch_size))
    # fixed validation batches
    val_batches = []
    if len(va) >= 2:
        vrng = np.random.default_rng([cfg.seed, 10**6])
        if supervised and len(np.unique(labels[va])) >= 2:
            vb = list(_supervised_batches(va, labels, cfg.batch_size, max(1, math.ceil(len(va) / cfg.batch_size)),
                                          vrng))
            val_batches = [(b, torch.as_tensor(labels[b])) for b in vb]
        elif not supervised:
            val_batches = [(va[i:i + cfg.batch_size], torch.empty(0)) for i in range(0, len(va), cfg.batch_size)
                           if len(va[i:i + cfg.batch_size]) >= 2]

    history: list[dict] = []
    start_epoch, best_val, best_epoch, bad = 0, math.inf, -1, 0
    best_state = copy.deepcopy(model.state_dict())
    output = Path(output) if output is not None else None
    if resume:
        if output is None or not output.is_file():
            raise InputError(output, "--resume given but there is no checkpoint to resume from")
        ck = load_checkpoint(output, KIND, map_location=device)
        if ck["config"].get("train") != cfg.to_dict() or ck["config"].get("n_particles") != n:
            raise InputError(output, "the checkpoint was trained with a different config or stack; "
                                     "use the same options to resume, or a new output")
        ts = ck["training_state"]
        model.load_state_dict(ts.get("last_state", ck["state_dict"]))
        if "optimizer" in ts:
            opt.load_state_dict(ts["optimizer"])
        history = list(ts.get("history", []))
        start_epoch = int(ts.get("epoch", -1)) + 1
        best_val, best_epoch, bad = float(ts.get("best_val", math.inf)), int(ts.get("best_epoch", -1)), \
            int(ts.get("bad_epochs", 0))
        best_state = ck["state_dict"]
        if ts.get("finished"):
            log(f"checkpoint {output} is a finished run (best epoch {best_epoch}); nothing to resume")
            model.load_state_dict(best_state)
            return TrainResult(model.cpu().eval(), history, best_epoch, bool(ts.get("stopped_early")))
        log(f"resuming from epoch {start_epoch} (best validation loss {best_val:.4f} at epoch {best_epoch})")

    log(f"training {cfg.mode} on {n_items} particles ({len(tr)} train, {len(va)} validation), "
        f"box {box} -> {size}, {steps} steps/epoch, miner {cfg.miner}, margin {cfg.margin}")
    stopped_early = False
    model.train()
    bar = tqdm(range(start_epoch, cfg.epochs), desc="classify2d train", disable=not progress, unit="epoch")
    for epoch in bar:
        t0 = time.time()
        erng = np.random.default_rng([cfg.seed, epoch])
        gen = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
        batches = (_supervised_batches(tr, labels, cfg.batch_size, steps, erng) if supervised
                   else _instance_batches(tr, cfg.batch_size, steps, erng))
        losses = []
        for b in batches:
            lab = torch.as_tensor(labels[b], device=device) if supervised else None
            loss = _batch_loss(model, x_all[b].to(device), lab, cfg, gen, supervised)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        train_loss = float(np.mean(losses))
        val_loss = _evaluate(model, x_all, val_batches, cfg, supervised, device, cfg.seed + 7) \
            if val_batches else train_loss
        improved = val_loss < best_val - 1e-4
        if improved:
            best_val, best_epoch, bad = val_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                        "seconds": round(time.time() - t0, 3)})
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}", best=best_epoch)
        stop = bad >= cfg.patience
        if output is not None:
            save_checkpoint(output, KIND, full_config, best_state, training_state={
                "epoch": epoch, "history": history, "best_val": best_val, "best_epoch": best_epoch,
                "bad_epochs": bad, "optimizer": opt.state_dict(), "last_state": model.state_dict(),
                "finished": stop or epoch == cfg.epochs - 1, "stopped_early": stop})
        if _stop_after is not None and epoch + 1 >= _stop_after:
            break
        if stop:
            stopped_early = True
            log(f"early stop at epoch {epoch}: validation loss has not improved for {cfg.patience} epochs")
            break
    bar.close()
    model.load_state_dict(best_state)
    log(f"best validation loss {best_val:.4f} at epoch {best_epoch}")
    return TrainResult(model.cpu().eval(), history, best_epoch, stopped_early)


def load_model(path: str | os.PathLike, device: str = "cpu") -> tuple[EmbeddingNet, dict]:
    """Load a trained embedding model and its config from a classify2d checkpoint."""
    ck = load_checkpoint(path, KIND, map_location=device)
    model = build_model(ck["config"]["model"])
    model.load_state_dict(ck["state_dict"])
    return model.to(device).eval(), ck["config"]
