"""Particle stacks: ``.mrcs`` images ``[n, box, box]`` plus a RELION ``.star`` table of metadata.

:func:`write_stack` writes ``name.mrcs`` and ``name.star`` (RELION 3.1: optics block with the
pixel and box size, particles block with ``rlnImageName = i@name.mrcs``). Metadata columns of the
picks table map to RELION names (``image_name`` -> ``rlnMicrographName``, ``x_coord``/``y_coord``
-> ``rlnCoordinateX/Y``, ``score`` -> ``rlnAutopickFigureOfMerit``); any other column (e.g.
``label``) is written under its own name, which RELION keeps as an unknown label.

:func:`read_stack` reads either a ``.star`` file (images gathered from the stacks its
``rlnImageName`` entries point to, relative to the STAR file) or a ``.mrcs``/``.mrc`` (with the
``.star`` of the same stem beside it when there is one). Real stacks often lack the MRC map id,
so they are opened permissively and checked by hand.

Example::

    >>> from fewlabel.io.stacks import read_stack, write_stack
    >>> images, meta, apix = read_stack("relion31.star")          # doctest: +SKIP
    >>> write_stack("out/particles.mrcs", images, meta, apix)      # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd

from fewlabel.atomic import atomic_path
from fewlabel.errors import InputError

TO_STAR = {"image_name": "rlnMicrographName", "x_coord": "rlnCoordinateX", "y_coord": "rlnCoordinateY",
           "score": "rlnAutopickFigureOfMerit"}
FROM_STAR = {v: k for k, v in TO_STAR.items()}

PathLike = str | os.PathLike


def read_stack(path: PathLike) -> tuple[np.ndarray, pd.DataFrame, float | None]:
    """Read a particle stack: (float32 images [n, b, b], metadata table, pixel size in Å or None)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.suffix.lower() == ".star":
        return _read_star_stack(path)
    if path.suffix.lower() not in (".mrcs", ".mrc"):
        raise InputError(path, "a particle stack is a .mrcs/.mrc file or a .star file that lists one")
    sidecar = path.with_suffix(".star")
    if sidecar.exists():
        return _read_star_stack(sidecar)
    images, header_apix = _load_mrc_stack(path)
    return images, pd.DataFrame(index=pd.RangeIndex(len(images))), header_apix


def write_stack(path: PathLike, images: np.ndarray, metadata: pd.DataFrame | None = None,
                pixel_size: float | None = None) -> Path:
    """Write ``path`` (.mrcs, float32 with pixel size) and ``path.with_suffix('.star')`` atomically.

    Both files appear together or not at all. Returns the .mrcs path.
    """
    import mrcfile
    import starfile

    path = Path(path)
    if path.suffix.lower() not in (".mrcs", ".mrc"):
        raise InputError(path, "particle stacks are written as .mrcs")
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"write_stack expects images of shape [n, box, box], got {images.shape}")
    metadata = pd.DataFrame(index=pd.RangeIndex(len(images))) if metadata is None else metadata
    if len(metadata) != len(images):
        raise ValueError(f"metadata has {len(metadata)} rows for {len(images)} images")

    particles = pd.DataFrame({"rlnImageName": [f"{i + 1:06d}@{path.name}" for i in range(len(images))]})
    for column in metadata.columns:
        values = metadata[column].reset_index(drop=True)
        if column == "image_name":
            values = values.astype(str) + ".mrc"
        particles[TO_STAR.get(column, column)] = values
    particles["rlnOpticsGroup"] = 1
    optics = {"rlnOpticsGroup": [1], "rlnOpticsGroupName": ["opticsGroup1"]}
    if pixel_size:
        optics["rlnImagePixelSize"] = [float(pixel_size)]
    optics.update({"rlnImageSize": [images.shape[1]], "rlnImageDimensionality": [2]})

    with ExitStack() as stack:
        tmp_mrcs = stack.enter_context(atomic_path(path))
        tmp_star = stack.enter_context(atomic_path(path.with_suffix(".star")))
        with mrcfile.new(tmp_mrcs, overwrite=True) as mrc:
            mrc.set_data(images)
            mrc.set_image_stack()
            if pixel_size:
                mrc.voxel_size = float(pixel_size)
        starfile.write({"optics": pd.DataFrame(optics), "particles": particles}, tmp_star,
                       float_format=lambda v: repr(float(v)))
    return path


# --- helpers --------------------------------------------------------------------------------

def _read_star_stack(star: Path) -> tuple[np.ndarray, pd.DataFrame, float | None]:
    import starfile

    try:
        blocks = starfile.read(star, always_dict=True, parse_as_string=["rlnImageName", "rlnMicrographName"])
    except Exception as exc:  # starfile raises many types on malformed files
        raise InputError(star, f"not a readable STAR file ({type(exc).__name__}: {exc})") from None
    tables = {k: v for k, v in blocks.items() if isinstance(v, pd.DataFrame)}
    named = [k for k, v in tables.items() if "rlnImageName" in v.columns]
    if not named:
        raise InputError(star, "missing column rlnImageName: no data block lists particle images")
    particles = tables["particles"] if "particles" in named else tables[named[0]]
    particles = particles.reset_index(drop=True)

    refs = particles["rlnImageName"].astype(str).str.split("@", n=1, expand=True)
    if refs.shape[1] != 2 or refs[1].isna().any():
        raise InputError(star, "rlnImageName entries must look like 'index@stack.mrcs'")
    index = pd.to_numeric(refs[0], errors="coerce")
    if index.isna().any() or (index < 1).any():
        bad = particles["rlnImageName"][index.isna() | (index < 1)].iloc[0]
        raise InputError(star, f"rlnImageName {bad!r} does not start with a positive image number")
    images = np.empty((0, 0, 0), dtype=np.float32)
    header_apix: float | None = None
    for ref, rows in refs.groupby(1, sort=False).groups.items():
        stack_path = _resolve(star, ref)
        data, apix = _load_mrc_stack(stack_path)
        header_apix = header_apix or apix
        wanted = index[rows].to_numpy(dtype=np.int64) - 1
        if wanted.max() >= len(data):
            raise InputError(star, f"asks for image {wanted.max() + 1} of {ref}, which holds {len(data)}")
        if images.size == 0:
            images = np.empty((len(particles),) + data.shape[1:], dtype=np.float32)
        elif data.shape[1:] != images.shape[1:]:
            raise InputError(stack_path, f"box {data.shape[1:]} differs from {images.shape[1:]} of the "
                                         "other stacks in " + star.name)
        images[np.asarray(rows)] = data[wanted]

    optics = tables.get("optics")
    metadata = particles.drop(columns=["rlnImageName"]).rename(columns=FROM_STAR)
    if "image_name" in metadata.columns:
        from fewlabel.io.picks import normalize_image_name

        metadata["image_name"] = metadata["image_name"].map(normalize_image_name).astype(str)
    if optics is not None and len(optics) == 1 and "rlnOpticsGroup" in metadata.columns:
        metadata = metadata.drop(columns=["rlnOpticsGroup"])
    return images, metadata, _star_pixel_size(star, particles, optics) or header_apix


def _resolve(star: Path, ref: str) -> Path:
    """A stack named in a STAR file: relative to the STAR folder, or beside it by file name."""
    for candidate in (star.parent / ref, star.parent / Path(ref).name, Path(ref)):
        if candidate.is_file():
            return candidate
    raise InputError(star, f"image stack {ref} named in rlnImageName not found next to the STAR file")


def _star_pixel_size(star: Path, particles: pd.DataFrame, optics: pd.DataFrame | None) -> float | None:
    """Pixel size from the optics block (3.1) or detector pixel / magnification (3.0)."""
    for table in (optics, particles):
        if table is None or len(table) == 0:
            continue
        for column in ("rlnImagePixelSize", "rlnPixelSize"):
            if column in table.columns:
                values = pd.to_numeric(table[column], errors="coerce").unique()
                if len(values) > 1:
                    raise InputError(star, f"optics groups have different pixel sizes {sorted(values)}; "
                                           "split the stack by optics group first")
                return float(values[0])
    if {"rlnDetectorPixelSize", "rlnMagnification"} <= set(particles.columns):
        apix = particles["rlnDetectorPixelSize"].astype(float) * 1e4 / particles["rlnMagnification"].astype(float)
        return float(apix.iloc[0])
    return None


def _load_mrc_stack(path: Path) -> tuple[np.ndarray, float | None]:
    """All images of an MRC stack as float32 [n, b, b] plus the header pixel size (0 -> None)."""
    import mrcfile

    from fewlabel.io.micrographs import check_mrc_header, header_pixel_size

    check_mrc_header(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # permissive: missing map id / machine stamp in real stacks
        try:
            with mrcfile.mmap(path, mode="r", permissive=True) as mrc:
                if mrc.data is None:
                    raise InputError(path, "not a valid MRC stack (data block unreadable)")
                data = np.array(mrc.data, dtype=np.float32)
                apix = header_pixel_size(mrc) or None
        except (ValueError, OSError) as exc:
            raise InputError(path, f"not a readable MRC stack ({exc})") from None
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3 or data.shape[1] != data.shape[2]:
        raise InputError(path, f"particle images must be square, got stack shape {data.shape}")
    if not np.isfinite(data).all():
        raise InputError(path, f"contains {int((~np.isfinite(data)).sum())} NaN/inf pixels")
    return data, apix
