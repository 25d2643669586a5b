"""Embeddings of a particle stack from a trained model (unit vectors, one row per particle)."""

from __future__ import annotations

import numpy as np
import torch

from fewlabel.classify2d.models import EmbeddingNet, deterministic_cpu, prepare_images
from fewlabel.errors import InputError


def embed(model: EmbeddingNet, images: np.ndarray, batch_size: int = 256, device: str = "cpu",
          progress: bool = False) -> np.ndarray:
    """Embed ``images [n, b, b]`` with ``model``: float32 ``[n, dim]`` in stack order.

    Images are prepared exactly as in training (resized to the model's size, standardised).
    """
    from tqdm.auto import tqdm

    images = np.asarray(images)
    if images.ndim != 3 or len(images) == 0:
        raise InputError(None, f"expected a non-empty particle stack [n, box, box], got shape {images.shape}")
    model = model.to(device).eval()
    out = []
    with torch.no_grad(), deterministic_cpu():
        for i in tqdm(range(0, len(images), batch_size), desc="embed", disable=not progress, unit="batch"):
            x = prepare_images(images[i:i + batch_size], model.box).to(device)
            out.append(model(x).cpu().numpy())
    return np.concatenate(out).astype(np.float32)
