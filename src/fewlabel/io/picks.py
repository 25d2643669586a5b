"""Particle picks: Topaz tsv, RELION STAR 3.0/3.1, EMAN .box, CSV and cryoSPARC .cs <-> one picks table.

The picks table is a pandas DataFrame with columns ``image_name`` (micrograph file stem, no
folder, no extension), ``x_coord`` (column) and ``y_coord`` (row) in pixels of the ORIGINAL
micrograph with the origin at array index ``[0, 0]``, and an optional ``score``. Coordinates
are float64, so every format round-trips exactly (EMAN .box: exactly for coordinates on a
half-pixel grid, because the file stores ``x - box/2``).

Format notes:

- **Topaz tsv** (``.txt``/``.tsv``): ``image_name  x_coord  y_coord  [score]``, tab-separated.
- **RELION STAR** (``.star``, via starfile): ``rlnMicrographName``, ``rlnCoordinateX/Y``,
  ``rlnAutopickFigureOfMerit`` (-> ``score``; RELION's "unset" value -999 everywhere means no
  score). Reads 3.0 (one ``data_`` block) and 3.1 (``data_optics`` + ``data_particles``); writes
  3.1 by default (``star_version="3.0"`` for the old layout). Per-micrograph coordinate files
  without ``rlnMicrographName`` take the image name from ``image_name=`` or the file stem.
- **EMAN .box** (``.box``): ``x_lower_left  y_lower_left  width  height`` per line, one file per
  micrograph; the centre is ``x_box + width/2``. EMAN's "lower-left" is the corner with the
  smallest x and y in the image's own array frame (row 0 = y 0 for MRC), so no y flip is applied,
  as in Topaz's ``convert`` (whose ``--invert-y`` exists only for TIFFs boxed in EMAN2) and in
  crYOLO's .box output. Flip with ``y = rows - 1 - y`` yourself if a tool wrote flipped boxes.
- **CSV** (``.csv``): the same columns as the tsv, comma-separated; common aliases such as
  ``X-Coordinate``/``x``/``micrograph`` are accepted on reading.
- **cryoSPARC** (``.cs``, read only): the NumPy structured array cryoSPARC saves for particles
  (Manual/Blob/Template Picker, Inspect Picks, Extract, Select 2D ...), read with
  ``np.load(allow_pickle=False)``. Uses ``location/micrograph_path``, ``location/micrograph_shape``
  (``[rows, cols]``) and ``location/center_x_frac``/``center_y_frac``: ``x = center_x_frac * cols``,
  ``y = center_y_frac * rows``, with no y flip, because the fractions refer to the micrograph as
  cryoSPARC stores it (as in pyem's ``csparc2star``). ``flip_y=True`` gives ``y = rows - y`` for
  micrographs motion-corrected outside cryoSPARC whose rows come out reversed there (pyem's
  ``--inverty``). ``pick_stats/ncc_score`` becomes ``score`` when present. cryoSPARC prefixes the
  files it writes with a 21-digit uid and "_" (``012345678901234567890_mic.mrc``); the image name
  drops that prefix, and matching picks to micrographs ignores it on either side. To send picks to
  cryoSPARC, write STAR and use its Import Particles job.

A folder of per-micrograph files (e.g. RELION ``*_autopick.star`` or EMAN ``*.box``) reads as
one table; writing a table to a folder writes one file per micrograph.

Example::

    >>> from fewlabel.io.picks import read_picks, write_picks
    >>> picks = read_picks("particles.star")                    # doctest: +SKIP
    >>> write_picks(picks, "particles.txt")                      # doctest: +SKIP
    >>> write_picks(picks, "boxes/", fmt="box", box_size=64)     # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from fewlabel.atomic import atomic_path
from fewlabel.errors import InputError

PICK_COLUMNS = ["image_name", "x_coord", "y_coord"]
SCORE = "score"
FORMAT_SUFFIXES = {"tsv": (".txt", ".tsv"), "star": (".star",), "box": (".box",), "csv": (".csv",),
                   "cs": (".cs",)}
READ_ONLY_FORMATS = ("cs",)
IMAGE_SUFFIXES = (".mrc", ".mrcs", ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".map", ".st", ".eer",
                  ".dm4", ".ser")
RELION_UNSET = -999.0
CS_FIELDS = ("location/micrograph_path", "location/micrograph_shape", "location/center_x_frac",
             "location/center_y_frac")
CS_SCORE = "pick_stats/ncc_score"
_CS_UID_PREFIX = re.compile(r"^\d{21}_")

# Column aliases accepted when reading tsv/csv tables (lower-cased).
_ALIASES = {
    "image_name": ("image_name", "micrograph", "micrograph_name", "image", "rlnmicrographname"),
    "x_coord": ("x_coord", "x", "x-coordinate", "x_coordinate", "rlncoordinatex"),
    "y_coord": ("y_coord", "y", "y-coordinate", "y_coordinate", "rlncoordinatey"),
    "score": ("score", "confidence", "fom", "rlnautopickfigureofmerit"),
}

PathLike = str | os.PathLike


# --- names and formats ----------------------------------------------------------------------

def normalize_image_name(name: object) -> str:
    """Micrograph name as stored in the picks table: no folder, no image extension."""
    base = PurePosixPath(str(name).replace("\\", "/")).name
    stem, dot, ext = base.rpartition(".")
    if dot and stem and f".{ext.lower()}" in IMAGE_SUFFIXES:
        return stem
    return base


def strip_cryosparc_uid(name: str) -> str:
    """``name`` without cryoSPARC's 21-digit uid prefix (``012345678901234567890_mic`` -> ``mic``)."""
    return _CS_UID_PREFIX.sub("", name, count=1)


def infer_format(path: PathLike) -> str:
    """Picks format from a file extension: ``tsv``, ``star``, ``box``, ``csv`` or ``cs``."""
    suffix = Path(path).suffix.lower()
    for fmt, suffixes in FORMAT_SUFFIXES.items():
        if suffix in suffixes:
            return fmt
    known = ", ".join(s for v in FORMAT_SUFFIXES.values() for s in v)
    raise InputError(path, f"cannot tell the picks format from the extension "
                           f"{suffix or '(none)'}; use one of {known}")


def empty_picks(score: bool = False) -> pd.DataFrame:
    """A picks table with no rows and the standard columns and dtypes."""
    return _finalize(pd.DataFrame({c: [] for c in PICK_COLUMNS + ([SCORE] if score else [])}), None)


# --- reading --------------------------------------------------------------------------------

def read_picks(path: PathLike, fmt: str | None = None, image_name: str | None = None,
               flip_y: bool = False) -> pd.DataFrame:
    """Read a picks file (or a folder of per-micrograph files) into the picks table.

    ``image_name`` names the micrograph for files that do not (EMAN .box, per-micrograph STAR
    or tables without an image column); it defaults to the file stem.

    ``flip_y`` applies to cryoSPARC .cs files only (ValueError for other formats): it sets
    ``y = rows - y``. cryoSPARC's fractional coordinates refer to the micrograph as cryoSPARC
    stores it, so the default (no flip) is right for micrographs motion-corrected in cryoSPARC;
    micrographs motion-corrected elsewhere and imported can be held with their rows reversed,
    which is what pyem's ``csparc2star --inverty`` corrects. Check a few picks on an overlay.
    """
    path = Path(path)
    if path.is_dir():
        return _read_folder(path, fmt, flip_y)
    if not path.exists():
        raise InputError(path, "file not found")
    fmt = fmt or infer_format(path)
    if flip_y and fmt != "cs":
        raise ValueError(f"flip_y applies only to cryoSPARC .cs picks, not {fmt!r} ({path})")
    default_name = image_name or path.stem
    if fmt in ("tsv", "csv"):
        df = _read_table(path, "\t" if fmt == "tsv" else ",", default_name)
    elif fmt == "star":
        df = _read_star(path, default_name)
    elif fmt == "box":
        df = _read_box(path, default_name)
    elif fmt == "cs":
        df = _read_cs(path, flip_y)
    else:
        raise InputError(path, f"unknown picks format {fmt!r}; use one of {', '.join(FORMAT_SUFFIXES)}")
    return _finalize(df, path)


def _read_folder(folder: Path, fmt: str | None, flip_y: bool = False) -> pd.DataFrame:
    """All per-micrograph picks files in ``folder`` (one format) as one table."""
    files = sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
    if fmt is None:
        fmts = {infer_format(f) for f in files if f.suffix.lower() in
                {s for v in FORMAT_SUFFIXES.values() for s in v}}
        if len(fmts) != 1:
            raise InputError(folder, "a picks folder must hold files of exactly one format "
                                     f"(found {', '.join(sorted(fmts)) or 'none'})")
        fmt = fmts.pop()
    if flip_y and fmt != "cs":
        raise ValueError(f"flip_y applies only to cryoSPARC .cs picks, not {fmt!r} ({folder})")
    files = [f for f in files if f.suffix.lower() in FORMAT_SUFFIXES.get(fmt, ())]
    if not files:
        raise InputError(folder, f"no {fmt} picks files found")
    tables = [read_picks(f, fmt, flip_y=flip_y) for f in files]
    has_score = all(SCORE in t.columns for t in tables)
    cols = PICK_COLUMNS + ([SCORE] if has_score else [])
    return _finalize(pd.concat([t[cols] for t in tables], ignore_index=True), folder)


def _read_table(path: Path, sep: str, default_name: str) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputError(path, "file is empty (expected a header line)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a readable {'tab' if sep == chr(9) else 'comma'}-separated "
                               f"table ({str(exc).strip()})") from None
    if sep == "\t" and len(df.columns) == 1 and " " in str(df.columns[0]):
        df = pd.read_csv(path, sep=r"\s+", dtype=str, keep_default_na=False)  # space-separated
    df = df.rename(columns=_alias_map(df.columns))
    _require_columns(path, df, ["x_coord", "y_coord"])
    if "image_name" not in df.columns:
        df["image_name"] = default_name
    return df


def _alias_map(columns: Iterable[str]) -> dict[str, str]:
    """Map a file's column names onto the picks columns (first alias found wins)."""
    lower = {str(c).strip().lower(): c for c in columns}
    mapping: dict[str, str] = {}
    for target, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in lower and lower[alias] not in mapping:
                mapping[lower[alias]] = target
                break
    return mapping


def _read_star(path: Path, default_name: str) -> pd.DataFrame:
    import starfile

    try:
        blocks = starfile.read(path, always_dict=True,
                               parse_as_string=["rlnMicrographName", "rlnImageName"])
    except Exception as exc:  # starfile raises many types on malformed files
        raise InputError(path, f"not a readable STAR file ({type(exc).__name__}: {exc})") from None
    tables = {name: b for name, b in blocks.items() if isinstance(b, pd.DataFrame)}
    with_coords = [name for name, b in tables.items()
                   if {"rlnCoordinateX", "rlnCoordinateY"} <= set(b.columns)]
    if not with_coords:
        found = "; ".join(f"data_{n}: {', '.join(map(str, b.columns[:6]))}" for n, b in tables.items())
        raise InputError(path, "missing column(s) rlnCoordinateX/rlnCoordinateY: no data block holds "
                               f"particle coordinates (found {found or 'no loop blocks'})")
    block = tables["particles"] if "particles" in with_coords else tables[with_coords[0]]
    df = pd.DataFrame({
        "image_name": block["rlnMicrographName"] if "rlnMicrographName" in block else default_name,
        "x_coord": block["rlnCoordinateX"],
        "y_coord": block["rlnCoordinateY"],
    })
    if "rlnAutopickFigureOfMerit" in block:
        fom = _to_float(path, block["rlnAutopickFigureOfMerit"], "rlnAutopickFigureOfMerit",
                        allow_missing=True)
        if not (fom == RELION_UNSET).all() or len(fom) == 0:
            df[SCORE] = fom
    return df


def _read_box(path: Path, default_name: str) -> pd.DataFrame:
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise InputError(path, "not a readable .box file (not text)") from None
    rows = [line.split() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    for i, fields in enumerate(rows):
        if len(fields) < 4:
            raise InputError(path, f"missing columns: .box lines need x y width height, line {i + 1} "
                                   f"has {len(fields)} field(s)")
    cols = list(zip(*[fields[:4] for fields in rows])) or [(), (), (), ()]
    x, y, w, h = (_to_float(path, pd.Series(c, dtype=str), name) for c, name in
                  zip(cols, ["x (column 1)", "y (column 2)", "width (column 3)", "height (column 4)"]))
    return pd.DataFrame({"image_name": default_name, "x_coord": x + w / 2, "y_coord": y + h / 2})


def _read_cs(path: Path, flip_y: bool) -> pd.DataFrame:
    """cryoSPARC particle .cs (a NumPy structured array): centres in pixels, uid prefix dropped."""
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic == b"\x94CSDAT":
        raise InputError(path, "cryoSPARC compressed dataset (CSDAT) format is not supported; save it in the "
                               "NumPy format (cryosparc-tools: Dataset.save(path, format=NUMPY_FORMAT))")
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        why = "it holds Python objects" if "allow_pickle" in str(exc) else str(exc).strip()
        raise InputError(path, f"not a readable cryoSPARC .cs file (NumPy structured array): {why}") from None
    except (OSError, EOFError) as exc:
        raise InputError(path, f"not a readable cryoSPARC .cs file (NumPy structured array): {exc}") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.names is None or arr.ndim != 1:
        raise InputError(path, "not a cryoSPARC .cs file: expected a one-dimensional NumPy structured array")
    fields = set(arr.dtype.names)
    missing = [f for f in CS_FIELDS if f not in fields]
    if missing:
        shown = ", ".join(arr.dtype.names[:6]) + (", ..." if len(fields) > 6 else "")
        raise InputError(path, f"missing field(s) {', '.join(missing)}: not a cryoSPARC particle picks file "
                               f"(found {shown})")
    shape = np.asarray(arr["location/micrograph_shape"])
    if shape.shape != (len(arr), 2):
        raise InputError(path, f"location/micrograph_shape must hold [rows, cols] per pick, has shape "
                               f"{shape.shape[1:]}")
    rows, cols = shape[:, 0].astype(np.float64), shape[:, 1].astype(np.float64)
    bad = (rows <= 0) | (cols <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(path, f"location/micrograph_shape is {shape[i].tolist()} for {int(bad.sum())} pick(s) "
                               f"(row {i + 1}): cannot turn fractional coordinates into pixels")
    paths = arr["location/micrograph_path"]
    if paths.dtype.kind not in "SU":
        raise InputError(path, f"location/micrograph_path must hold text, has dtype {paths.dtype}")
    names = [strip_cryosparc_uid(normalize_image_name(
        (p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p)).lstrip(">"))) for p in paths]
    x = arr["location/center_x_frac"].astype(np.float64) * cols
    y = arr["location/center_y_frac"].astype(np.float64) * rows
    df = pd.DataFrame({"image_name": names, "x_coord": x, "y_coord": rows - y if flip_y else y})
    if CS_SCORE in fields:
        df[SCORE] = arr[CS_SCORE].astype(np.float64)
    return df


def _require_columns(path: Path, df: pd.DataFrame, required: list[str]) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}; found columns "
                               f"{', '.join(map(str, df.columns)) or 'none'}")


def _to_float(path: Path | None, values: pd.Series, column: str, allow_missing: bool = False) -> pd.Series:
    """Column as float64, or InputError naming the first value that is not a number."""
    values = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        out = values.astype(np.float64)
        bad = out.isna() if not allow_missing else pd.Series(False, index=out.index)
    else:
        text = values.astype(str).str.strip()
        out = pd.to_numeric(text, errors="coerce").astype(np.float64)
        missing = text.isin(["", "nan", "NaN", "<NA>", "None"])
        bad = out.isna() & ~(missing if allow_missing else False)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(path, f"column {column}: cannot read {str(values.iloc[i])!r} as a number "
                               f"(row {i + 1}; {int(bad.sum())} bad value(s))")
    if not allow_missing and np.isinf(out).any():
        i = int(np.flatnonzero(np.isinf(out.to_numpy()))[0])
        raise InputError(path, f"column {column}: infinite value (row {i + 1})")
    return out


def _finalize(df: pd.DataFrame, path: Path | None) -> pd.DataFrame:
    """Standard columns, dtypes, order and a fresh index; names normalised."""
    out = pd.DataFrame({
        "image_name": pd.Series(df["image_name"]).reset_index(drop=True).map(normalize_image_name)
        .astype(str),
        "x_coord": _to_float(path, df["x_coord"], "x_coord"),
        "y_coord": _to_float(path, df["y_coord"], "y_coord"),
    })
    if SCORE in df.columns:
        out[SCORE] = _to_float(path, df[SCORE], SCORE, allow_missing=True)
    return out


# --- writing --------------------------------------------------------------------------------

def write_picks(df: pd.DataFrame, path: PathLike, fmt: str | None = None, box_size: int | None = None,
                star_version: str = "3.1", micrograph_suffix: str = ".mrc") -> Path:
    """Write the picks table atomically in ``fmt`` (default: from the extension).

    A folder ``path`` (existing, ending in "/", or extension-less with ``fmt="box"``) gets one
    file per micrograph, named ``<image_name><ext>``; ``fmt`` is then required. EMAN .box needs ``box_size`` (pixels).
    STAR files name micrographs ``<image_name><micrograph_suffix>`` as RELION expects.
    """
    folder = str(path).endswith(("/", os.sep)) or Path(path).is_dir() or \
        (fmt == "box" and Path(path).suffix == "")
    path = Path(path)
    table = _finalize(_check_table(df), None)
    if folder:
        if fmt is None:
            raise InputError(path, "writing picks into a folder needs an explicit format")
        ext = FORMAT_SUFFIXES[_check_fmt(path, fmt)][0]
        path.mkdir(parents=True, exist_ok=True)
        for name, part in table.groupby("image_name", sort=True):
            write_picks(part, path / f"{name}{ext}", fmt, box_size, star_version, micrograph_suffix)
        return path
    fmt = _check_fmt(path, fmt or infer_format(path))
    if fmt == "box":
        text = _box_text(table, path, box_size)
        with atomic_path(path) as tmp:
            tmp.write_text(text)
        return path
    with atomic_path(path) as tmp:
        if fmt in ("tsv", "csv"):
            text = table.assign(**{c: table[c].map(_number) for c in table.columns[1:]})
            text.to_csv(tmp, sep="\t" if fmt == "tsv" else ",", index=False)
        else:
            _write_star(table, tmp, star_version, micrograph_suffix)
    return path


def _check_fmt(path: Path, fmt: str) -> str:
    if fmt in READ_ONLY_FORMATS:
        raise InputError(path, "fewlabel reads cryoSPARC .cs picks but does not write them; cryoSPARC "
                               "imports STAR picks: write .star and use cryoSPARC's Import Particles")
    if fmt not in FORMAT_SUFFIXES:
        raise InputError(path, f"unknown picks format {fmt!r}; use one of {', '.join(FORMAT_SUFFIXES)}")
    return fmt


def _check_table(df: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in PICK_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"picks table lacks column(s) {missing}; has {list(df.columns)}")
    return df


def _number(v: float) -> str:
    """Shortest text that reads back as the same float (integers without '.0', NaN as '')."""
    v = float(v)
    if np.isnan(v):
        return ""
    return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)


def _box_text(table: pd.DataFrame, path: Path, box_size: int | None) -> str:
    if not box_size or int(box_size) <= 0:
        raise InputError(path, "writing EMAN .box needs a positive box size in pixels (--box-size)")
    names = table["image_name"].unique()
    if len(names) > 1:
        raise InputError(path, f"a .box file holds one micrograph but the picks name {len(names)}; "
                               "write to a folder to get one .box per micrograph")
    b = int(box_size)
    lines = [f"{_number(x - b / 2)}\t{_number(y - b / 2)}\t{b}\t{b}\n"
             for x, y in zip(table["x_coord"], table["y_coord"])]
    return "".join(lines)


def _write_star(table: pd.DataFrame, tmp: Path, star_version: str, micrograph_suffix: str) -> None:
    import starfile

    particles = pd.DataFrame({
        "rlnMicrographName": table["image_name"] + micrograph_suffix,
        "rlnCoordinateX": table["x_coord"],
        "rlnCoordinateY": table["y_coord"],
    })
    if SCORE in table.columns:
        particles["rlnAutopickFigureOfMerit"] = table[SCORE]
    if star_version == "3.0":
        blocks: dict[str, pd.DataFrame] = {"": particles}
    elif star_version == "3.1":
        particles["rlnOpticsGroup"] = 1
        optics = pd.DataFrame({"rlnOpticsGroup": [1], "rlnOpticsGroupName": ["opticsGroup1"]})
        blocks = {"optics": optics, "particles": particles}
    else:
        raise ValueError(f"star_version must be '3.0' or '3.1', got {star_version!r}")
    starfile.write(blocks, tmp, float_format=_star_float)


def _star_float(v: float) -> str:
    return repr(float(v))


# --- checks against micrographs -------------------------------------------------------------

def match_to_micrographs(picks: pd.DataFrame, micrograph_names: Iterable[PathLike],
                         source: PathLike | None = None) -> pd.DataFrame:
    """Picks with names normalised to the micrographs'; InputError for picks on absent micrographs.

    ``micrograph_names`` may be names, file names or paths (``mic1``, ``mic1.mrc``, ``a/mic1.mrc``).
    A name that matches no micrograph exactly matches one that differs only by cryoSPARC's uid
    prefix (``012345678901234567890_mic1``), on either side, when that match is unique.
    """
    known = {normalize_image_name(Path(n).name if isinstance(n, os.PathLike) else n)
             for n in micrograph_names}
    out = picks.copy()
    out["image_name"] = out["image_name"].map(normalize_image_name).astype(str)
    unmatched = set(out["image_name"]) - known
    if unmatched:
        by_stripped: dict[str, list[str]] = {}
        for name in known:
            by_stripped.setdefault(strip_cryosparc_uid(name), []).append(name)
        renames = {n: by_stripped[strip_cryosparc_uid(n)][0] for n in unmatched
                   if len(by_stripped.get(strip_cryosparc_uid(n), ())) == 1}
        if renames:
            out["image_name"] = out["image_name"].map(lambda n: renames.get(n, n)).astype(str)
    absent = sorted(set(out["image_name"]) - known)
    if absent:
        shown = ", ".join(absent[:3]) + (f" and {len(absent) - 3} more" if len(absent) > 3 else "")
        n_picks = int(out["image_name"].isin(absent).sum())
        raise InputError(source, f"{n_picks} pick(s) name micrograph(s) that are not there: {shown} "
                                 f"(have {len(known)} micrograph(s))")
    return out


def check_picks_in_bounds(picks: pd.DataFrame, shapes: Mapping[str, tuple[int, int]],
                          source: PathLike | None = None) -> None:
    """InputError if any pick lies outside its micrograph (``shapes``: name -> (rows, cols))."""
    sizes = {normalize_image_name(k): tuple(v)[:2] for k, v in shapes.items()}
    names = match_to_micrographs(picks, sizes.keys(), source)["image_name"].reset_index(drop=True)
    rows = names.map(lambda n: sizes[n][0]).to_numpy(dtype=float)
    cols = names.map(lambda n: sizes[n][1]).to_numpy(dtype=float)
    x, y = picks["x_coord"].to_numpy(dtype=float), picks["y_coord"].to_numpy(dtype=float)
    outside = (x < 0) | (y < 0) | (x >= cols) | (y >= rows)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise InputError(source, f"{int(outside.sum())} pick(s) lie outside their micrograph, e.g. "
                                 f"{names.iloc[i]} at x={x[i]:g}, y={y[i]:g} outside "
                                 f"{int(cols[i])} x {int(rows[i])} (width x height) pixels")
