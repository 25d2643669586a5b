"""Augmentations that teach the embedding what should NOT matter: in-plane angle, small shifts,
mirror (optional: a flip changes handedness, so only for 2D views that are their own mirror),
and the exact noise realisation (extra Gaussian noise, random low-pass strength).

All functions take a ``torch.Generator`` so a seed fixes every draw.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from fewlabel.classify2d.models import rotate_batch


@dataclass
class AugmentConfig:
    """What to randomise: rotation (full 360 degrees), shift (max px), flips, added noise (std, relative
    to the per-image std) and a random Gaussian blur up to ``blur`` px sigma."""

    rotate: bool = True
    max_shift: float = 2.0
    flip: bool = False
    noise: float = 0.3
    blur: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each image of ``x [n, 1, h, w]`` with its own Gaussian ``sigma`` (px) in Fourier space."""
    n, _, h, w = x.shape
    fy = torch.fft.fftfreq(h, device=x.device)[:, None]
    fx = torch.fft.rfftfreq(w, device=x.device)[None, :]
    f2 = fy**2 + fx**2
    kernel = torch.exp(-2 * math.pi**2 * sigma.view(n, 1, 1, 1) ** 2 * f2)
    return torch.fft.irfft2(torch.fft.rfft2(x) * kernel, s=(h, w))


def augment(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return a randomly transformed copy of ``x [n, 1, h, w]`` (or ``[n, h, w]``)."""
    squeeze = x.dim() == 3
    if squeeze:
        x = x[:, None]
    n = x.shape[0]

    def rand(*shape):
        return torch.rand(shape, generator=generator).to(x.device)

    if cfg.flip:
        flip = rand(n) < 0.5
        x = torch.where(flip.view(n, 1, 1, 1), torch.flip(x, dims=(3,)), x)
    angles = rand(n) * 2 * math.pi if cfg.rotate else torch.zeros(n, device=x.device)
    shifts = (rand(n, 2) * 2 - 1) * cfg.max_shift if cfg.max_shift > 0 else None
    if cfg.rotate or shifts is not None:
        x = rotate_batch(x, angles, shifts)
    if cfg.blur > 0:
        x = gaussian_blur(x, rand(n) * cfg.blur)
    if cfg.noise > 0:
        std = x.flatten(1).std(1).view(n, 1, 1, 1).clamp_min(1e-6)
        noise = torch.randn(x.shape, generator=generator).to(x.device)
        x = x + noise * std * cfg.noise * rand(n).view(n, 1, 1, 1)
    return x[:, 0] if squeeze else x
