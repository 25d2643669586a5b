"""CTF correction of particle images before 2D classification.

Why: every particle is seen through its own contrast transfer function (its own defocus), whose
sign flips ring by ring. Averaging or correlating particles with different defocus cancels every
frequency past the first CTF zero, so the references stay blurred and noise wins the assignments.
Correcting each image with its own CTF first makes the same view look the same at every defocus:

- ``flip`` (phase flipping): multiply the image's Fourier transform by ``sign(CTF)``; keeps the noise
  white, fixes the sign only.
- ``multiply``: multiply by the CTF itself (the matched filter: correlating ``CTF · image`` with a
  reference equals correlating the image with the CTF-modulated reference), down-weighting the
  frequencies near CTF zeros that carry only noise.

Parameters come from the stack's metadata (RELION names: ``rlnDefocusU``, ``rlnDefocusV``,
``rlnDefocusAngle``, optional ``rlnVoltage``, ``rlnSphericalAberration``, ``rlnAmplitudeContrast``;
or the simulator's ``defocus_u, defocus_v, defocus_angle``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fewlabel.errors import InputError
from fewlabel.simulate.ctf import CTFParams, ctf_2d

CTF_MODES = ("none", "flip", "multiply")
_COLUMNS = {"defocus_u": ("rlnDefocusU", "defocus_u"), "defocus_v": ("rlnDefocusV", "defocus_v"),
            "astigmatism_angle": ("rlnDefocusAngle", "defocus_angle"), "voltage": ("rlnVoltage", "voltage"),
            "cs": ("rlnSphericalAberration", "cs"), "amplitude_contrast": ("rlnAmplitudeContrast", "amplitude_contrast")}


def _column(meta: pd.DataFrame, names: tuple[str, ...]):
    for name in names:
        if name in meta.columns:
            return pd.to_numeric(meta[name], errors="coerce").to_numpy(dtype=float)
    return None


def ctf_params_from_metadata(meta: pd.DataFrame | None, source=None) -> list[CTFParams] | None:
    """Per-particle :class:`CTFParams` from stack metadata, or None when it has no defocus columns.

    Missing microscope columns take the usual defaults (300 kV, Cs 2.7 mm, amplitude contrast 0.07);
    a defocus column with missing or non-positive values raises InputError.
    """
    if meta is None:
        return None
    du = _column(meta, _COLUMNS["defocus_u"])
    if du is None:
        return None
    values = {key: _column(meta, names) for key, names in _COLUMNS.items()}
    if values["defocus_v"] is None:
        values["defocus_v"] = du
    for key in ("defocus_u", "defocus_v"):
        if not np.all(np.isfinite(values[key]) & (values[key] > 0)):
            raise InputError(source, f"{key} (Å) must be a positive number for every particle")
    out = []
    for i in range(len(meta)):
        kw = {key: float(v[i]) for key, v in values.items() if v is not None and np.isfinite(v[i])}
        out.append(CTFParams(bfactor=0.0, **kw))
    return out


def ctf_correct(images: np.ndarray, pixel_size: float, ctfs: list[CTFParams] | None,
                mode: str = "flip") -> np.ndarray:
    """CTF-correct every image of ``images [n, b, b]`` with its own CTF (``mode``: see module doc).

    ``mode="none"`` or ``ctfs=None`` returns the images unchanged (as float32).
    """
    if mode not in CTF_MODES:
        raise InputError(None, f"CTF correction must be one of {', '.join(CTF_MODES)}, not {mode!r}")
    x = np.asarray(images, dtype=np.float32)
    if mode == "none" or ctfs is None:
        return x
    if len(ctfs) != len(x):
        raise InputError(None, f"{len(ctfs)} CTF parameter sets for {len(x)} particles")
    if pixel_size is None or pixel_size <= 0:
        raise InputError(None, "CTF correction needs the pixel size (Å) of the stack")
    shape = x.shape[-2:]
    out = np.empty_like(x)
    for i, params in enumerate(ctfs):
        c = ctf_2d(shape, pixel_size, params, real=True, envelope=False)
        f = np.sign(c) if mode == "flip" else c
        out[i] = np.fft.irfft2(np.fft.rfft2(x[i]) * f, s=shape)
    return out
