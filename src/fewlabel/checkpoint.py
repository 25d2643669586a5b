"""Model files: weights + full config + training state, validated on load.

One format for every capability (``kind`` = "pick", "classify2d", "voxel", ...). A checkpoint
is a ``torch.save`` dict readable with ``weights_only=True`` (tensors, numbers, strings, lists
and dicts only), and its config is also written as JSON beside it (``MODEL.pt.json``) so a run
can be reproduced or resumed with nothing else.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

from fewlabel.atomic import write_bytes_atomic, write_text_atomic
from fewlabel.errors import InputError

FORMAT = "fewlabel-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(
    path: str | os.PathLike,
    kind: str,
    config: dict[str, Any],
    state_dict: dict[str, Any],
    training_state: dict[str, Any] | None = None,
) -> Path:
    """Atomically write a checkpoint and its ``.json`` config sidecar; return the path.

    ``training_state`` holds what ``--resume`` needs (epoch, optimizer state, RNG state,
    history, best score); omit it for a final, inference-only model.
    """
    import torch

    from fewlabel import __version__

    path = Path(path)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fewlabel_version": __version__,
        "kind": kind,
        "config": config,
        "state_dict": state_dict,
        "training_state": training_state or {},
    }
    buffer = io.BytesIO()  # not the temp file: torch names the archive's records after the file, so the
    torch.save(payload, buffer)  # same weights saved twice would differ in bytes (and in a run's content key)
    write_bytes_atomic(path, buffer.getvalue())
    sidecar = {"format": FORMAT, "format_version": FORMAT_VERSION, "fewlabel_version": __version__,
               "kind": kind, "config": config}
    write_text_atomic(path.with_name(path.name + ".json"), json.dumps(sidecar, indent=2, default=str) + "\n")
    return path


def load_checkpoint(path: str | os.PathLike, kind: str, map_location: str = "cpu") -> dict[str, Any]:
    """Load and validate a checkpoint written by :func:`save_checkpoint` for ``kind``.

    Raises :class:`InputError` for a missing, corrupt or foreign file, a file of another kind,
    or one written by an incompatible format version.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "model file not found")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt/foreign files
        raise InputError(path, f"not a readable fewlabel model file ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(path, "not a fewlabel model file")
    if payload.get("format_version") != FORMAT_VERSION:
        raise InputError(
            path,
            f"model file format version {payload.get('format_version')} is not supported "
            f"(this fewlabel reads version {FORMAT_VERSION}); retrain or use the fewlabel "
            f"{payload.get('fewlabel_version')} that wrote it",
        )
    if payload.get("kind") != kind:
        raise InputError(path, f"this is a '{payload.get('kind')}' model, expected a '{kind}' model")
    return payload
