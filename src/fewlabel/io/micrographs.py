"""Micrographs: MRC/MRCS (mrcfile), TIFF (tifffile), PNG/JPEG (Pillow) <-> :class:`Micrograph`.

Every reader returns a float32 ``[row, col]`` array, whatever the file's pixel type, and checks
what users get wrong most often: a missing file, a file that is not what its name says, a
truncated MRC, NaN/inf pixels, a 3D stack where one micrograph was expected. Each of these
raises :class:`~fewlabel.errors.InputError` naming the file and the problem.

Example::

    >>> from fewlabel.io.micrographs import read_micrograph, write_micrograph
    >>> mic = read_micrograph("Micrographs/mic_0001.mrc")      # doctest: +SKIP
    >>> mic.image.shape, mic.pixel_size                          # doctest: +SKIP
    ((4096, 4096), 1.06)
    >>> write_micrograph("out/mic_0001.mrc", mic)                # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fewlabel.atomic import atomic_path
from fewlabel.errors import InputError

MRC_SUFFIXES = (".mrc", ".mrcs", ".map", ".st")
TIFF_SUFFIXES = (".tif", ".tiff")
PIL_SUFFIXES = (".png", ".jpg", ".jpeg")
MICROGRAPH_SUFFIXES = (".mrc", ".mrcs") + TIFF_SUFFIXES + PIL_SUFFIXES

PathLike = str | os.PathLike


@dataclass
class Micrograph:
    """One micrograph: float32 ``image[row, col]``, its ``name`` (file stem), ``pixel_size`` in Å."""

    image: np.ndarray
    name: str
    pixel_size: float | None = None
    path: Path | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the image."""
        return tuple(self.image.shape)  # type: ignore[return-value]


def read_micrograph(path: PathLike) -> Micrograph:
    """Read one micrograph (.mrc/.mrcs/.tif/.tiff/.png/.jpg/.jpeg) as float32 with its pixel size."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        raise InputError(path, "is a folder, expected a micrograph file")
    suffix = path.suffix.lower()
    if suffix in MRC_SUFFIXES:
        image, pixel_size = _read_mrc(path)
    elif suffix in TIFF_SUFFIXES:
        image, pixel_size = _read_tiff(path), None
    elif suffix in PIL_SUFFIXES:
        image, pixel_size = _read_pil(path), None
    else:
        raise InputError(path, f"unsupported micrograph format {suffix or '(no extension)'}; "
                               f"use one of {', '.join(MICROGRAPH_SUFFIXES)}")
    image = _check_image(path, image)
    return Micrograph(image=image, name=path.stem, pixel_size=pixel_size, path=path)


def read_micrograph_shape(path: PathLike) -> tuple[int, int]:
    """``(rows, cols)`` of a micrograph from its header only: a cheap check before long runs.

    Catches missing, non-MRC, truncated and 3D-stack files without reading the pixels (NaN/inf
    pixels are only found by :func:`read_micrograph`).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found" if not path.exists() else "is a folder, expected a micrograph file")
    suffix = path.suffix.lower()
    if suffix in MRC_SUFFIXES:
        nx, ny, nz = check_mrc_header(path)
        if nz != 1:
            raise InputError(path, f"is a 3D stack of {nz} sections {(ny, nx)}, "
                                   "expected one 2D micrograph per file")
        return ny, nx
    if suffix in TIFF_SUFFIXES:
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                shape = tif.series[0].shape
        except Exception as exc:  # tifffile raises several types for corrupt files
            raise InputError(path, f"not a readable TIFF file ({exc})") from None
        if len(shape) == 3 and shape[-1] in (3, 4) and shape[0] > 4:
            shape = shape[:2]
        shape = tuple(s for s in shape if s != 1) if len(shape) > 2 else shape
        if len(shape) != 2:
            raise InputError(path, f"is a 3D stack of {shape[0]} pages {tuple(shape[1:])}, "
                                   "expected one 2D micrograph per file")
        return int(shape[0]), int(shape[1])
    if suffix in PIL_SUFFIXES:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                cols, rows = img.size
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise InputError(path, f"not a readable image ({exc})") from None
        return rows, cols
    raise InputError(path, f"unsupported micrograph format {suffix or '(no extension)'}; "
                           f"use one of {', '.join(MICROGRAPH_SUFFIXES)}")


def iter_micrographs(paths: Iterable[PathLike]) -> Iterator[Micrograph]:
    """Read micrographs one at a time, so a long list never has to fit in memory."""
    for p in paths:
        yield read_micrograph(p)


def write_micrograph(path: PathLike, mic_or_array: Micrograph | np.ndarray,
                     pixel_size: float | None = None) -> Path:
    """Write a 2D image atomically: MRC (float32, pixel size in the header) unless ``path`` is .tif.

    ``pixel_size`` defaults to the micrograph's own. PNG/JPEG are refused: 8 bits lose the data.
    """
    path = Path(path)
    if isinstance(mic_or_array, Micrograph):
        image = mic_or_array.image
        if pixel_size is None:
            pixel_size = mic_or_array.pixel_size
    else:
        image = mic_or_array
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"write_micrograph expects a 2D image, got shape {image.shape}")
    suffix = path.suffix.lower()
    if suffix in PIL_SUFFIXES:
        raise InputError(path, "micrographs are written as .mrc or .tif (8-bit PNG/JPEG would lose data)")
    with atomic_path(path) as tmp:
        if suffix in TIFF_SUFFIXES:
            import tifffile

            tifffile.imwrite(tmp, image)
        else:
            import mrcfile

            with mrcfile.new(tmp, overwrite=True) as mrc:
                mrc.set_data(image)
                if pixel_size:
                    mrc.voxel_size = float(pixel_size)
    return path


def list_micrographs(dir_or_paths: PathLike | Iterable[PathLike]) -> list[Path]:
    """Sorted micrograph files from a folder, a file, or a list of both; InputError if none."""
    items = [dir_or_paths] if isinstance(dir_or_paths, (str, os.PathLike)) else list(dir_or_paths)
    found: set[Path] = set()
    for item in items:
        p = Path(item)
        if p.is_dir():
            found.update(f for f in p.iterdir()
                         if f.is_file() and not f.name.startswith(".")
                         and f.suffix.lower() in MICROGRAPH_SUFFIXES)
        elif not p.exists():
            raise InputError(p, "file not found")
        elif p.suffix.lower() not in MICROGRAPH_SUFFIXES:
            raise InputError(p, f"not a micrograph file; expected one of {', '.join(MICROGRAPH_SUFFIXES)}")
        else:
            found.add(p)
    if not found:
        where = items[0] if len(items) == 1 else None
        raise InputError(where, f"no micrographs found ({', '.join(MICROGRAPH_SUFFIXES)})")
    return sorted(found)


# --- format readers -------------------------------------------------------------------------

def _read_mrc(path: Path) -> tuple[np.ndarray, float | None]:
    """MRC via mrcfile, permissive (real stacks often lack the MAP id) but checked by hand.

    The file is memory-mapped and copied once into a float32 array (the pixel type conversion
    and the copy are one pass): about 5x less CPU than ``mrcfile.open`` for a 4096x4096 float32
    micrograph, which first zero-fills a buffer and then reads into it. ``check_mrc_header`` has
    already made sure the file is long enough for what its header says.
    """
    import mrcfile

    check_mrc_header(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            mrc = mrcfile.mmap(path, mode="r", permissive=True)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(path, f"not a readable MRC file ({exc})") from None
    with mrc:
        problems = [str(w.message) for w in caught]
        if mrc.data is None:
            detail = problems[-1] if problems else "no data block"
            raise InputError(path, f"not a valid MRC file, or truncated ({detail})")
        data = mrc.data
        if np.iscomplexobj(data):
            raise InputError(path, "holds complex (Fourier-space) data, not a real-space micrograph")
        pixel_size = header_pixel_size(mrc) or _fei_pixel_size(mrc)
        if data.ndim == 3:
            if data.shape[0] != 1:
                raise InputError(path, f"is a 3D stack of {data.shape[0]} sections {data.shape[1:]}, "
                                       "expected one 2D micrograph per file")
            data = data[0]
        image = np.array(data, dtype=np.float32)  # a copy: the map closes with the file
    return image, (pixel_size or None)


def check_mrc_header(path: Path) -> tuple[int, int, int]:
    """Cheap sanity check of an MRC header before reading: known mode, positive sizes, and a file
    large enough for header + extended header + data. Catches non-MRC and truncated files without
    letting a garbage header ask for gigabytes. Returns ``(nx, ny, nz)``."""
    from mrcfile.dtypes import HEADER_DTYPE
    from mrcfile.utils import dtype_from_mode

    # Parse the 1024-byte header with mrcfile's dtype ourselves: mrcfile.open(header_only=True)
    # still reads the extended header, which a garbage header can make gigabytes long.
    with open(path, "rb") as fh:
        raw = fh.read(HEADER_DTYPE.itemsize)
    if len(raw) < HEADER_DTYPE.itemsize:
        raise InputError(path, f"not a valid MRC file (only {len(raw)} bytes, shorter than an MRC header)")
    itemsize = 0
    for order in ("<", ">"):
        h = np.frombuffer(raw, dtype=HEADER_DTYPE.newbyteorder(order))[0]
        mode, nsymbt = int(h["mode"]), int(h["nsymbt"])
        shape = (int(h["nz"]), int(h["ny"]), int(h["nx"]))
        try:
            itemsize = dtype_from_mode(mode).itemsize
            break
        except ValueError:
            continue
    if not itemsize:
        raise InputError(path, f"not a valid MRC file (unknown data mode {mode})")
    if min(shape) <= 0 or nsymbt < 0:
        raise InputError(path, f"not a valid MRC file (sizes nx,ny,nz = {shape[::-1]})")
    expected = 1024 + nsymbt + int(np.prod(shape, dtype=np.int64)) * itemsize
    size = path.stat().st_size
    if size < expected:
        raise InputError(path, f"truncated MRC file (or not an MRC file): header says {shape[::-1]} mode {mode} "
                               f"needs {expected} bytes, file has {size}")
    return shape[2], shape[1], shape[0]


def header_pixel_size(mrc) -> float:
    """Pixel size in Å from an open mrcfile's voxel size (0 = unset), without float32 noise
    (a header stores 4.4 as 4.400000095)."""
    return float(f"{float(mrc.voxel_size.x):.7g}")


def _fei_pixel_size(mrc) -> float:
    """Pixel size in Å from an FEI1/FEI2 extended header (stored in metres), else 0."""
    if bytes(mrc.header.exttyp).strip() not in (b"FEI1", b"FEI2") or mrc.header.nsymbt == 0:
        return 0.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ext = mrc.indexed_extended_header
        if ext is not None and ext.dtype.names and "Pixel size X" in ext.dtype.names:
            return float(ext["Pixel size X"][0]) * 1e10
    except (IndexError, ValueError, TypeError, AttributeError):  # malformed extended header: no pixel size
        pass
    return 0.0


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    try:
        data = tifffile.imread(path)
    except Exception as exc:  # tifffile raises several types for corrupt files
        raise InputError(path, f"not a readable TIFF file ({exc})") from None
    data = np.asarray(data)
    if data.ndim == 3 and data.shape[-1] in (3, 4) and data.shape[0] > 4:
        data = data[..., :3].astype(np.float32).mean(axis=-1)  # RGB(A) -> gray
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim == 3:
        raise InputError(path, f"is a 3D stack of {data.shape[0]} pages {data.shape[1:]}, "
                               "expected one 2D micrograph per file")
    return np.asarray(data, dtype=np.float32)


def _read_pil(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode not in ("L", "I", "F", "I;16", "I;16B", "I;16L"):
                img = img.convert("L")
            data = np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(path, f"not a readable image ({exc})") from None
    return np.asarray(data, dtype=np.float32)


def _check_image(path: Path, image: np.ndarray) -> np.ndarray:
    """Refuse images fewlabel cannot work with: not 2D, empty, or with NaN/inf pixels."""
    if image.ndim != 2:
        raise InputError(path, f"expected a 2D image, got shape {image.shape}")
    if image.size == 0:
        raise InputError(path, "image is empty (0 pixels)")
    if np.isfinite(image.sum(dtype=np.float64)):  # one cheap pass: NaN/inf would make the sum non-finite
        return image
    finite = np.isfinite(image)
    if not finite.all():
        n_nan = int(np.isnan(image).sum())
        n_inf = int(image.size - finite.sum() - n_nan)
        raise InputError(path, f"contains {n_nan} NaN and {n_inf} inf pixels")
    return image
