"""Embeddings of a particle stack from a trained model (unit vectors, one row per particle)."""

from __future__ import annotations

import numpy as np
import torch

from fewlabel.classify2d.models import EmbeddingNet, deterministic_cpu, prepare_images
from fewlabel.errors import InputError


def embed(model: EmbeddingNet, images: np.ndarray, batch_size: int = 256, device: str = "cpu",
          progress: bool = False) -> np.ndarray:
    """Embed ``images [n, b, b]`` with ``model``: float32 ``[n, dim]`` in stack order.

    Images are prepared exactly as in training (resized to the model's size, standardised). A model
    trained on MRA-aligned particles (it holds references, see :class:`EmbeddingNet`) first aligns every
    particle onto its best reference (:func:`fewlabel.classify2d.mra.mra_profile`), as in training: give it
    CTF-corrected images when the training images were.
    """
    from tqdm.auto import tqdm

    images = np.asarray(images)
    if images.ndim != 3 or len(images) == 0:
        raise InputError(None, f"expected a non-empty particle stack [n, box, box], got shape {images.shape}")
    if getattr(model, "references", None) is not None:
        from fewlabel.classify2d.mra import mra_profile

        images = mra_profile(images, model.references.cpu().numpy())[1]
    model = model.to(device).eval()
    out = []
    with torch.no_grad(), deterministic_cpu():
        for i in tqdm(range(0, len(images), batch_size), desc="embed", disable=not progress, unit="batch"):
            x = prepare_images(images[i:i + batch_size], model.box).to(device)
            out.append(model(x).cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def _unit_spread(z: np.ndarray) -> np.ndarray:
    """Centre the columns of ``z`` and scale it to a mean squared row norm of 1."""
    z = np.asarray(z, dtype=np.float64)
    z = z - z.mean(0)
    return z / max(float(np.sqrt((z**2).sum(1).mean())), 1e-12)


def combine_embeddings(embeddings: np.ndarray, profile: np.ndarray, profile_weight: float = 0.75) -> np.ndarray:
    """Network embeddings ``[n, d]`` joined with an MRA class-correlation profile ``[n, k]``
    (:func:`fewlabel.classify2d.mra.mra_profile`) for k-means: float32 ``[n, d + k]``.

    Each part is centred and scaled to the same overall spread, then weighted by ``sqrt(1 - w)``
    and ``sqrt(w)`` (``w = profile_weight``), so ``w`` is the profile's share of the squared
    distances k-means minimises. The profile is first centred per particle (its mean correlation
    says how bright or clean the particle is, not which class it is in).
    """
    emb, prof = np.asarray(embeddings), np.asarray(profile)
    if emb.ndim != 2 or prof.ndim != 2 or len(emb) != len(prof):
        raise InputError(None, f"embeddings {emb.shape} and profile {prof.shape} must be [n, d] and [n, k]")
    if not 0.0 <= profile_weight <= 1.0:
        raise InputError(None, f"profile weight must be in [0, 1], got {profile_weight}")
    p = _unit_spread(prof - prof.mean(1, keepdims=True))
    return np.hstack([np.sqrt(1 - profile_weight) * _unit_spread(emb),
                      np.sqrt(profile_weight) * p]).astype(np.float32)
