"""Torch pieces for voxel grids: networks, augmentation, streaming batches, a resumable loop.

Grids stay as a (m, n, n, n) numpy array (uint8 for binary data); only one minibatch at a time
is turned into a float tensor, so ModelNet10 at 30^3 trains in well under 1 GB.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn


def padded_size(n: int, factor: int = 8) -> int:
    """Smallest multiple of ``factor`` >= n (the conv autoencoder halves the grid three times)."""
    return int(math.ceil(n / factor) * factor)


def to_tensor(batch: np.ndarray, device: str = "cpu") -> torch.Tensor:
    """(b, n, n, n) numpy -> float32 tensor (b, 1, n, n, n)."""
    return torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).unsqueeze(1).to(device)


def batches(m: int, batch_size: int, rng: np.random.Generator | None = None) -> Iterator[np.ndarray]:
    """Index batches over ``m`` items, shuffled when ``rng`` is given."""
    order = rng.permutation(m) if rng is not None else np.arange(m)
    for i in range(0, m, batch_size):
        yield np.sort(order[i:i + batch_size]) if rng is None else order[i:i + batch_size]


def rotate_up(x: torch.Tensor, degrees, binary: bool = True) -> torch.Tensor:
    """Rotate each grid of a batch (b, 1, n, n, n) about the last (up) axis by its angle in degrees.

    Trilinear resampling about the grid centre (one ``grid_sample`` call for the batch); binary
    occupancy is thresholded at 0.5 again, which keeps the occupied volume (measured on ModelNet10:
    30 degrees there and back gives voxel IoU 0.987 with the original). Multiples of 90 degrees are
    exact (+90 equals ``torch.rot90(x, 1, dims=(2, 3))``).
    """
    a = torch.as_tensor(degrees, dtype=torch.float64).reshape(-1).expand(x.shape[0]) * (math.pi / 180)
    c, s = torch.cos(a), torch.sin(a)
    zero, one = torch.zeros_like(a), torch.ones_like(a)
    # affine_grid's coordinates are (W, H, D) = (array axes 2, 1, 0): rotate the (H, D) plane
    theta = torch.stack([torch.stack([one, zero, zero, zero], 1), torch.stack([zero, c, -s, zero], 1),
                         torch.stack([zero, s, c, zero], 1)], 1).to(x.dtype).to(x.device)
    grid = nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    y = nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return (y >= 0.5).to(x.dtype) if binary else y


def up_angles(views: int) -> list[float]:
    """``views`` equally spaced angles about the up axis, in degrees (12 -> every 30 degrees)."""
    return [360.0 * k / views for k in range(views)]


def augment(x: torch.Tensor, gen: torch.Generator, strong: bool = False, axes: str = "z",
            shift: int = 0, up_views: int = 12, jitter: float = 0.0) -> torch.Tensor:
    """Random symmetry of each grid in a batch (b, 1, n, n, n).

    ``axes="z"``: 90-degree rotations about the last (z/up/optical) axis and an x flip (8
    elements; keeps the up axis, right for ModelNet and SMLM where z is special);
    ``axes="up"``: one of ``up_views`` equally spaced rotations about the up axis (trilinear,
    :func:`rotate_up`; 12 = every 30 degrees as in VoxNet) and an x mirror flip;
    ``axes="all"``: any 90-degree rotation of the cube and flips (48 elements);
    ``axes="mirror"``: only x and y mirror flips (4 elements; for aligned data such as ModelNet10,
    where a quarter turn changes the object's canonical view).
    ``jitter`` > 0 (groups that keep the up axis: z, up, mirror) adds a small random rotation about
    the up axis, uniform in +-jitter degrees (keeps an aligned data set's canonical orientation).
    ``shift`` > 0 adds a random (circular) shift of up to that many voxels per axis; ``strong``
    shifts by up to ``max(shift, 2)`` voxels and drops 10% of the voxels.
    """
    angles = torch.zeros(x.shape[0], dtype=torch.float64)
    if axes == "up":
        angles += torch.tensor(up_angles(up_views), dtype=torch.float64)[
            torch.randint(up_views, (x.shape[0],), generator=gen)]
    if jitter > 0 and axes != "all":
        angles += (2 * torch.rand(x.shape[0], generator=gen, dtype=torch.float64) - 1) * jitter
    if axes == "up" or (jitter > 0 and axes != "all"):
        x = rotate_up(x, angles, binary=bool(((x == 0) | (x == 1)).all()))
    out = []
    for i in range(x.shape[0]):
        g = x[i]
        if axes == "up":
            if torch.rand(1, generator=gen).item() < 0.5:
                g = g.flip(1)
        elif axes == "all":
            perm = torch.randperm(3, generator=gen).tolist()
            g = g.permute(0, *[p + 1 for p in perm])
            for d in (1, 2, 3):
                if torch.rand(1, generator=gen).item() < 0.5:
                    g = g.flip(d)
        elif axes == "mirror":
            for d in (1, 2):
                if torch.rand(1, generator=gen).item() < 0.5:
                    g = g.flip(d)
        else:
            k = int(torch.randint(4, (1,), generator=gen).item())
            g = torch.rot90(g, k, dims=(1, 2))
            if torch.rand(1, generator=gen).item() < 0.5:
                g = g.flip(1)
        reach = max(shift, 2) if strong else shift
        if reach > 0:
            shifts = torch.randint(-reach, reach + 1, (3,), generator=gen).tolist()
            g = torch.roll(g, shifts=shifts, dims=(1, 2, 3))
        out.append(g)
    y = torch.stack(out)
    if strong:
        keep = (torch.rand(y.shape, generator=gen) > 0.1).to(y.dtype).to(y.device)
        y = y * keep
    return y


def sharpen(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Rows of class probabilities raised to 1/``temperature`` and renormalised (MixMatch's sharpening):
    < 1 sharpens, 1 leaves them, the argmax never changes. Computed in log space (no underflow)."""
    logp = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, None)) / float(temperature)
    logp -= logp.max(1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(1, keepdims=True)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor,
                       weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the batch of weight_i * sum_c -target_ic log softmax(logits)_ic (targets: probability rows;
    one-hot rows smoothed as t(1 - e) + e/C give ``nn.CrossEntropyLoss(label_smoothing=e)``)."""
    per = -(targets * torch.log_softmax(logits, 1)).sum(1)
    return (per if weights is None else per * weights).mean()


def mix_batch(x: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, lam: float, perm: torch.Tensor):
    """Mixup of a batch with its permutation ``perm``: lam * a + (1 - lam) * a[perm] for the grids, the target
    rows and the per-grid loss weights alike."""
    return tuple(lam * a + (1 - lam) * a[perm.to(a.device)] for a in (x, targets, weights))


class WeightEMA:
    """Exponential moving average of a network's weights (Polyak averaging), bias-corrected.

    After t updates the copy holds sum_i decay^(t-i) w_i / sum_i decay^(t-i) over the weights w_1..w_t
    seen after each optimizer step (the starting weights are left out, as in Adam's bias correction), so
    ``decay`` sets the horizon (0.999: ~1000 steps) from the first step on. Only parameters are averaged:
    averaged weights need batch-norm statistics of their own (:func:`recompute_batch_norm`)."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0 < float(decay) < 1:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay, self.updates = float(decay), 0
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the live ``model``'s current parameters into the average."""
        self.updates += 1
        w = (1 - self.decay) / (1 - self.decay ** self.updates)  # 1 at the first update: a plain copy
        for a, p in zip(self.model.parameters(), model.parameters()):
            if self.updates == 1:
                a.copy_(p.detach())
            else:
                a.lerp_(p.detach(), w)

    def state(self) -> dict:
        """What resuming needs: the averaged weights and the update count."""
        return {"state": copy.deepcopy(self.model.state_dict()), "updates": self.updates}

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["state"])
        self.updates = int(state["updates"])


@torch.no_grad()
def recompute_batch_norm(model: nn.Module, X: np.ndarray, batch_size: int = 128, device: str = "cpu") -> nn.Module:
    """Batch-norm running statistics of ``model`` recomputed on grids ``X`` (one pass in train mode, no
    gradient, un-augmented, as SWA does): the live network's statistics belong to its own weights."""
    torch.optim.swa_utils.update_bn((to_tensor(X[idx], device) for idx in batches(len(X), batch_size)), model)
    return model.eval()


class FeedForwardAE(nn.Module):
    """Grid -> hidden -> latent -> hidden -> grid, fully connected."""

    def __init__(self, n: int, latent: int = 64, hidden: int = 512):
        super().__init__()
        d = n ** 3
        self.n = n
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, latent))
        self.decoder = nn.Sequential(nn.ReLU(), nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, d))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x)).view_as(x)


class ConvAE(nn.Module):
    """3D convolutional autoencoder: pad to a multiple of 8, three stride-2 convs, linear latent."""

    def __init__(self, n: int, latent: int = 64, width: int = 16):
        super().__init__()
        self.n, self.p = n, padded_size(n)
        s = self.p // 8
        w = width
        self.enc = nn.Sequential(
            nn.Conv3d(1, w, 4, 2, 1), nn.ReLU(),
            nn.Conv3d(w, 2 * w, 4, 2, 1), nn.ReLU(),
            nn.Conv3d(2 * w, 4 * w, 4, 2, 1), nn.ReLU(), nn.Flatten(),
            nn.Linear(4 * w * s ** 3, latent))
        self.dec_fc = nn.Linear(latent, 4 * w * s ** 3)
        self.dec = nn.Sequential(
            nn.ReLU(), nn.ConvTranspose3d(4 * w, 2 * w, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose3d(2 * w, w, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose3d(w, 1, 4, 2, 1))
        self.shape = (4 * w, s, s, s)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        d = self.p - self.n
        return nn.functional.pad(x, (0, d, 0, d, 0, d)) if d else x

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.enc(self._pad(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.dec_fc(self.encode(x)).view(-1, *self.shape)
        n = self.n
        return self.dec(z)[:, :, :n, :n, :n]


class VoxCNN(nn.Module):
    """VoxNet-style classifier (Maturana & Scherer 2015) with batch norm and dropout."""

    def __init__(self, n: int, n_classes: int, width: int = 32):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv3d(1, w, 5, 2, 2), nn.BatchNorm3d(w), nn.ReLU(),
            nn.Conv3d(w, w, 3, 1, 1), nn.BatchNorm3d(w), nn.ReLU(), nn.MaxPool3d(2),
            nn.Conv3d(w, 2 * w, 3, 1, 1), nn.BatchNorm3d(2 * w), nn.ReLU(), nn.AdaptiveMaxPool3d(2),
            nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.4), nn.Linear(2 * w * 8, 128), nn.ReLU(),
                                  nn.Dropout(0.4), nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class StridedVoxCNN(nn.Module):
    """Cheaper, more accurate VoxNet variant: strided convs keep a 4^3 map for the classifier head.

    conv 5^3 /2 -> conv 3^3 /2 -> conv 3^3 -> max-pool to 4^3 -> dropout -> fc 128 -> fc classes, with
    batch norm. At 30^3 and width 16 one training step costs about a third of :class:`VoxCNN`
    at width 32 on a CPU core (measured: 176 vs 1025 ms per batch of 64, channels_last_3d),
    and the head sees where parts are (a 4^3 map) instead of a 2^3 summary.
    """

    def __init__(self, n: int, n_classes: int, width: int = 16, dropout: float = 0.5):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv3d(1, w, 5, 2, 2), nn.BatchNorm3d(w), nn.ReLU(),
            nn.Conv3d(w, 2 * w, 3, 2, 1), nn.BatchNorm3d(2 * w), nn.ReLU(),
            nn.Conv3d(2 * w, 4 * w, 3, 1, 1), nn.BatchNorm3d(4 * w), nn.ReLU(),
            nn.AdaptiveMaxPool3d(4), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * w * 64, 128), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class DeepStridedVoxCNN(StridedVoxCNN):
    """:class:`StridedVoxCNN` with a second 3^3 conv at each of the two resolutions (5 conv layers, VGG-style).

    conv 5^3 /2 -> conv 3^3 -> conv 3^3 /2 -> conv 3^3 -> conv 3^3 -> max-pool to 4^3 -> the same head.
    The extra layers widen each unit's view (receptive field 17 -> 29 voxels before the pooling) at 1.5x
    the strided net's step time on a CPU core (355 vs 234 ms per batch of 64 at width 16).
    """

    def __init__(self, n: int, n_classes: int, width: int = 16, dropout: float = 0.5):
        super().__init__(n, n_classes, width, dropout)
        w = width
        self.features = nn.Sequential(
            nn.Conv3d(1, w, 5, 2, 2), nn.BatchNorm3d(w), nn.ReLU(),
            nn.Conv3d(w, w, 3, 1, 1), nn.BatchNorm3d(w), nn.ReLU(),
            nn.Conv3d(w, 2 * w, 3, 2, 1), nn.BatchNorm3d(2 * w), nn.ReLU(),
            nn.Conv3d(2 * w, 2 * w, 3, 1, 1), nn.BatchNorm3d(2 * w), nn.ReLU(),
            nn.Conv3d(2 * w, 4 * w, 3, 1, 1), nn.BatchNorm3d(4 * w), nn.ReLU(),
            nn.AdaptiveMaxPool3d(4), nn.Flatten())


ARCHS = {"voxnet": VoxCNN, "strided": StridedVoxCNN, "deep": DeepStridedVoxCNN}


class ProbabilityAverage(nn.Module):
    """Ensemble of classifiers trained apart: the log of the mean of their softmax probabilities.

    ``softmax`` of the output is the members' mean probability, so the ensemble stands wherever one
    network's logits are used (prediction, test-time views, validation, saving as one state dict).
    """

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([torch.softmax(m(x), 1) for m in self.members]).mean(0)
        return torch.log(probs.clamp_min(1e-12))


class TrunkAE(nn.Module):
    """Autoencoder around a :class:`StridedVoxCNN` trunk (its conv layers, before the pooling), for
    initialising the classifier from unlabeled grids: two transposed convs (x2 each) back to the grid."""

    def __init__(self, trunk: nn.Sequential, n: int, width: int = 16):
        super().__init__()
        self.trunk, self.n = trunk, n
        w = width
        self.dec = nn.Sequential(nn.ConvTranspose3d(4 * w, 2 * w, 4, 2, 1), nn.BatchNorm3d(2 * w), nn.ReLU(),
                                 nn.ConvTranspose3d(2 * w, 1, 4, 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dec(self.trunk(x))
        n = self.n
        if y.shape[-1] < n:
            d = n - y.shape[-1]
            y = nn.functional.pad(y, (0, d, 0, d, 0, d))
        return y[:, :, :n, :n, :n]


def reconstruction_loss(binary: bool):
    """BCE on logits for 0/1 grids (sparse occupancy), MSE for real-valued grids."""
    return nn.BCEWithLogitsLoss() if binary else nn.MSELoss()


def train_autoencoder(model: nn.Module, X: np.ndarray, *, epochs: int, batch_size: int, lr: float,
                      seed: int, device: str, binary: bool, checkpoint: Path | None = None,
                      resume: bool = False, config: dict | None = None, desc: str = "autoencoder") -> list[float]:
    """Minibatch Adam on reconstruction loss; checkpoints each epoch (``kind="voxel"``) for --resume."""
    from tqdm import tqdm

    from fewlabel.checkpoint import load_checkpoint, save_checkpoint

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = reconstruction_loss(binary)
    start, history = 0, []
    if resume and checkpoint is not None and Path(checkpoint).is_file():
        ck = load_checkpoint(checkpoint, "voxel")
        model.load_state_dict(ck["state_dict"])
        ts = ck["training_state"]
        if ts:
            opt.load_state_dict(ts["optimizer"])
            start, history = int(ts["epoch"]), list(ts["history"])
            rng = np.random.default_rng(seed + start)
            torch.manual_seed(seed + start)
    for epoch in range(start, epochs):
        model.train()
        total, count = 0.0, 0
        for idx in tqdm(list(batches(len(X), batch_size, rng)), desc=f"{desc} epoch {epoch + 1}/{epochs}",
                        leave=False, disable=None):
            x = to_tensor(X[np.sort(idx)], device)
            opt.zero_grad()
            loss = loss_fn(model(x), x)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        history.append(total / max(count, 1))
        if checkpoint is not None:
            save_checkpoint(checkpoint, "voxel", config or {}, model.state_dict(),
                            {"epoch": epoch + 1, "optimizer": opt.state_dict(), "history": history})
    model.eval()
    return history


@torch.no_grad()
def encode(model: nn.Module, X: np.ndarray, batch_size: int = 256, device: str = "cpu") -> np.ndarray:
    """Latent codes of every grid, in minibatches."""
    model.eval().to(device)
    out = [model.encode(to_tensor(X[idx], device)).cpu().numpy() for idx in batches(len(X), batch_size)]
    return np.concatenate(out).astype(np.float64)
