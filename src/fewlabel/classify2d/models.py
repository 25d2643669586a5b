"""Embedding network: a small CNN whose output is invariant to in-plane rotation.

Why this design: particles come in every in-plane orientation, and on noisy images a plain CNN
trained with rotation augmentation only learns approximate invariance. Here the same CNN is run
on ``rot_pool`` rotated copies of the (circularly masked) input and the features are averaged
before the projection head, so the embedding is exactly invariant to the C4 (or C8) rotation
group and close to invariant for the angles in between. The four 90-degree copies cost nothing
but compute (``torch.rot90`` is exact); 8 copies add 45-degree copies through ``grid_sample``.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import torch
from torch import nn
import torch.nn.functional as F


@contextlib.contextmanager
def deterministic_cpu():
    """Run torch with oneDNN (mkldnn) off: its CPU convolutions split reductions by thread, so a
    seeded run gave different weights on 1 and 2 threads; the native kernels give the same bits
    whatever the thread count (checked on 1, 2 and 3 threads) at about the same speed here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch warns about TF32 on Intel GPUs when toggling
        with torch.backends.mkldnn.flags(enabled=False):
            yield


def circular_mask(box: int, radius: float | None = None, soft: float = 2.0) -> torch.Tensor:
    """A ``[box, box]`` mask: 1 inside ``radius`` (default box/2 - 1), smooth cosine edge of ``soft`` px."""
    radius = box / 2 - 1 if radius is None else radius
    c = (box - 1) / 2
    yy, xx = torch.meshgrid(torch.arange(box, dtype=torch.float32), torch.arange(box, dtype=torch.float32),
                            indexing="ij")
    r = torch.sqrt((yy - c) ** 2 + (xx - c) ** 2)
    edge = ((r - radius) / soft).clamp(0, 1)
    return 0.5 * (1 + torch.cos(math.pi * edge))


def rotate_batch(x: torch.Tensor, angles: torch.Tensor, shifts: torch.Tensor | None = None) -> torch.Tensor:
    """Rotate ``x [n, 1, h, w]`` by ``angles`` (radians, per image) and shift by ``shifts [n, 2]`` (pixels, x/y).

    Bilinear interpolation, zero padding; positive angles rotate counter-clockwise on screen.
    """
    n, _, h, w = x.shape
    cos, sin = torch.cos(angles), torch.sin(angles)
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin, cos
    if shifts is not None:
        theta[:, 0, 2] = -2 * shifts[:, 0] / w
        theta[:, 1, 2] = -2 * shifts[:, 1] / h
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class EmbeddingNet(nn.Module):
    """CNN -> rotation pooling -> MLP head -> L2-normalised ``dim``-d embedding.

    ``box``: input size (images are ``[n, box, box]`` or ``[n, 1, box, box]``); ``width``: channels of the
    first block (doubled per block, ``depth`` blocks); ``rot_pool``: 1 (none), 4 (90-degree copies) or 8.
    ``references``/``reference_size``: a model that works on MRA-aligned particles keeps the ``references``
    MRA references (``[k, s, s]`` buffer, saved with the weights) that :func:`fewlabel.classify2d.embed.embed`
    aligns every particle to first; 0 = plain model (the network never sees the alignment).
    """

    def __init__(self, box: int, dim: int = 256, width: int = 32, depth: int = 3, rot_pool: int = 4,
                 references: int = 0, reference_size: int = 0):
        super().__init__()
        if rot_pool not in (1, 4, 8):
            raise ValueError("rot_pool must be 1, 4 or 8")
        self.box, self.dim, self.width, self.depth, self.rot_pool = box, dim, width, depth, rot_pool
        self.n_references, self.reference_size = int(references), int(reference_size)
        if self.n_references:
            self.register_buffer("references", torch.zeros(self.n_references, self.reference_size,
                                                           self.reference_size))
        else:
            self.references = None
        layers, c = [], 1
        for i in range(depth):
            layers.append(_block(c, width * 2**i))
            c = width * 2**i
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(c, c), nn.ReLU(inplace=True), nn.Linear(c, dim))
        self.register_buffer("mask", circular_mask(box), persistent=False)

    def config(self) -> dict:
        """Constructor arguments, stored in checkpoints so the model can be rebuilt."""
        out = {"box": self.box, "dim": self.dim, "width": self.width, "depth": self.depth,
               "rot_pool": self.rot_pool}
        if self.n_references:
            out.update(references=self.n_references, reference_size=self.reference_size)
        return out

    def _copies(self, x: torch.Tensor) -> torch.Tensor:
        copies = [torch.rot90(x, k, dims=(2, 3)) for k in range(4)] if self.rot_pool >= 4 else [x]
        if self.rot_pool == 8:
            r45 = rotate_batch(x, torch.full((x.shape[0],), math.pi / 4, device=x.device))
            copies += [torch.rot90(r45, k, dims=(2, 3)) for k in range(4)]
        return torch.cat(copies, 0)

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        """Rotation-pooled CNN features ``[n, channels]`` (before the head)."""
        if x.dim() == 3:
            x = x[:, None]
        x = x * self.mask
        n = x.shape[0]
        f = self.features(self._copies(x)).mean(dim=(2, 3))  # global average pool
        return f.view(-1, n, f.shape[1]).mean(0)  # average over rotated copies

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.pooled_features(x)), dim=1)


def build_model(config: dict) -> EmbeddingNet:
    """Rebuild an :class:`EmbeddingNet` from :meth:`EmbeddingNet.config`."""
    return EmbeddingNet(**config)


def prepare_images(images, size: int | None = None) -> torch.Tensor:
    """Particle stack ``[n, b, b]`` -> float32 tensor ``[n, 1, size, size]``, each image zero-mean unit-std.

    ``size`` (default: unchanged) resizes with antialiased bilinear interpolation, so a model works at a
    fixed, cheap resolution whatever box the stack was extracted with. Training and embedding both call
    this, so they always see identically prepared inputs.
    """
    x = torch.as_tensor(images, dtype=torch.float32)
    if x.dim() == 3:
        x = x[:, None]
    if size is not None and size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    mean = x.mean(dim=(2, 3), keepdim=True)
    std = x.std(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    return ((x - mean) / std).contiguous()
