"""Contrast transfer function of a transmission electron microscope (RELION conventions).

``CTF(k) = sqrt(1 - A²) sin χ(k) + A cos χ(k)`` with the phase aberration
``χ(k) = π λ Δf(θ) k² - (π/2) Cs λ³ k⁴ + φ`` (``Δf > 0`` is underfocus) and the astigmatic
defocus ``Δf(θ) = (ΔU + ΔV)/2 + (ΔU - ΔV)/2 · cos 2(θ - θ_ast)``. It is positive at low
frequency, so a projection multiplied by it looks like RELION's (particles white); a raw
micrograph shows ``1 - 2 · IFT[CTF · E · Φ]`` (particles dark), see :func:`apply_ctf`.
``E(k) = exp(-B k²/4)`` is the B-factor envelope.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from fewlabel.errors import InputError


@dataclass(frozen=True)
class CTFParams:
    """Microscope and defocus parameters. Lengths in Å, Cs in mm, angles in degrees."""

    defocus_u: float = 15000.0
    defocus_v: float = 15000.0
    astigmatism_angle: float = 0.0
    voltage: float = 300.0  # kV
    cs: float = 2.7  # mm
    amplitude_contrast: float = 0.07
    bfactor: float = 50.0  # Å², envelope exp(-B k²/4)
    phase_shift: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}

    @property
    def defocus(self) -> float:
        """Mean defocus (Å)."""
        return 0.5 * (self.defocus_u + self.defocus_v)


def electron_wavelength(voltage_kv: float) -> float:
    """Relativistic electron wavelength in Å for an accelerating voltage in kV (300 kV: 0.0197 Å)."""
    v = voltage_kv * 1e3
    return 12.2642598 / np.sqrt(v * (1.0 + 0.97848e-6 * v))


def interaction_constant(voltage_kv: float) -> float:
    """σ in rad/(V·Å): phase shift per unit projected potential (300 kV: 6.5e-4)."""
    v = voltage_kv * 1e3
    mc2 = 510998.95  # electron rest energy in eV
    return float(2 * np.pi / (electron_wavelength(voltage_kv) * v) * (mc2 + v) / (2 * mc2 + v))


def frequency_grid(shape: tuple[int, int], pixel_size: float, real: bool = True
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Spatial frequencies ``(kx, ky)`` in 1/Å of a 2D (r)fft of an image ``[rows, cols]``."""
    from scipy import fft

    ky = fft.fftfreq(shape[0], d=pixel_size)
    kx = (fft.rfftfreq if real else fft.fftfreq)(shape[1], d=pixel_size)
    return np.meshgrid(kx, ky, indexing="xy")


def _chi_terms(params: CTFParams) -> tuple[float, float, float]:
    lam = electron_wavelength(params.voltage)
    k1 = np.pi * lam
    k2 = 0.5 * np.pi * params.cs * 1e7 * lam**3
    a = params.amplitude_contrast
    k3 = np.arctan2(a, np.sqrt(1 - a * a)) + np.deg2rad(params.phase_shift)
    return k1, k2, k3


def ctf_from_frequencies(kx: np.ndarray, ky: np.ndarray, params: CTFParams,
                         envelope: bool = True) -> np.ndarray:
    """CTF at frequencies ``kx, ky`` (1/Å); times the B-factor envelope when ``envelope``."""
    k1, k2, k3 = _chi_terms(params)
    k2sq = kx**2 + ky**2
    theta = np.arctan2(ky, kx)
    dfu, dfv = params.defocus_u, params.defocus_v
    df = 0.5 * (dfu + dfv) + 0.5 * (dfu - dfv) * np.cos(2 * (theta - np.deg2rad(params.astigmatism_angle)))
    chi = k1 * df * k2sq - k2 * k2sq**2 + k3
    out = np.sin(chi)
    if envelope:
        out = out * np.exp(-params.bfactor * k2sq / 4.0)
    return out


@lru_cache(maxsize=16)
def _polar_grid(shape: tuple[int, int], pixel_size: float, real: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``k²``, ``cos 2θ`` and ``sin 2θ`` on an (r)fft grid; cached, every micrograph reuses it."""
    kx, ky = frequency_grid(shape, pixel_size, real=real)
    theta = np.arctan2(ky, kx)
    return kx**2 + ky**2, np.cos(2 * theta), np.sin(2 * theta)


def ctf_2d(shape: tuple[int, int], pixel_size: float, params: CTFParams, real: bool = True,
           envelope: bool = True) -> np.ndarray:
    """The CTF on the (r)fft grid of an image of ``shape`` (DC at index [0, 0])."""
    k2sq, cos2, sin2 = _polar_grid((int(shape[0]), int(shape[1])), float(pixel_size), real)
    k1, k2, k3 = _chi_terms(params)
    a = np.deg2rad(params.astigmatism_angle)
    dfu, dfv = params.defocus_u, params.defocus_v
    # cos 2(θ - a) = cos 2θ cos 2a + sin 2θ sin 2a
    df = 0.5 * (dfu + dfv) + 0.5 * (dfu - dfv) * (cos2 * np.cos(2 * a) + sin2 * np.sin(2 * a))
    out = np.sin(k1 * df * k2sq - k2 * k2sq**2 + k3)
    if envelope:
        out *= np.exp(-params.bfactor * k2sq / 4.0)
    return out


def ctf_zeros(params: CTFParams, n: int = 5, angle: float | None = None) -> np.ndarray:
    """Analytic spatial frequencies (1/Å) of the first ``n`` CTF zeros along azimuth ``angle``.

    Solves ``π λ Δf k² - (π/2) Cs λ³ k⁴ + φ = m π`` for ``m = 1..n`` (smallest root in k²);
    ``angle`` (degrees, from the x axis) defaults to the astigmatism angle (the ΔU direction).
    """
    k1, k2, k3 = _chi_terms(params)
    theta = np.deg2rad(params.astigmatism_angle if angle is None else angle)
    dfu, dfv = params.defocus_u, params.defocus_v
    df = 0.5 * (dfu + dfv) + 0.5 * (dfu - dfv) * np.cos(2 * (theta - np.deg2rad(params.astigmatism_angle)))
    m = np.arange(1, n + 1, dtype=np.float64)
    c = m * np.pi - k3
    if k2 == 0:
        x = c / (k1 * df)
    else:
        disc = (k1 * df) ** 2 - 4 * k2 * c
        x = (k1 * df - np.sqrt(np.maximum(disc, 0.0))) / (2 * k2)
        x[disc < 0] = np.nan
    return np.sqrt(x)


def apply_ctf(phase_ft: np.ndarray, shape: tuple[int, int], pixel_size: float,
              params: CTFParams) -> np.ndarray:
    """Image contrast of a weak phase object given its rfft2 ``phase_ft`` (radians).

    Returns ``-2 · IFT[CTF · E · Φ]``: the intensity change relative to the unscattered beam,
    negative (dark) where there is protein at typical underfocus.
    """
    from scipy import fft

    ctf = ctf_2d(shape, pixel_size, params, real=True, envelope=True)
    return -2.0 * fft.irfft2(phase_ft * ctf, s=shape)


def random_ctf(rng: np.random.Generator, defocus_range: tuple[float, float] = (10000.0, 25000.0),
               astigmatism: float = 500.0, **microscope) -> CTFParams:
    """Draw a CTF: mean defocus uniform in ``defocus_range`` (Å), astigmatism (ΔU - ΔV) uniform
    in ``[0, astigmatism]`` Å, astigmatism angle uniform in [0, 180) degrees."""
    lo, hi = defocus_range
    if not 0 < lo <= hi:
        raise InputError(None, f"defocus range must satisfy 0 < min <= max, got {lo}..{hi} Å")
    mean = rng.uniform(lo, hi)
    astig = rng.uniform(0.0, astigmatism)
    angle = rng.uniform(0.0, 180.0)
    return CTFParams(defocus_u=mean + astig / 2, defocus_v=mean - astig / 2,
                     astigmatism_angle=angle, **microscope)
