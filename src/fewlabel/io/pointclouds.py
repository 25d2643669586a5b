"""Read 3D point clouds (SMLM localizations) and meshes for voxelization.

Point clouds come as a dict ``{name: float64 array (N, 3)}`` so one file may hold many
structures (a ``group``/``particle_index`` column splits it, as in Picasso picks or the TU Delft
origami set). 2D data get z = 0. Supported:

- csv/tsv/txt tables with x, y[, z] columns; SMLM headers such as ThunderSTORM's ``x [nm]``,
  ``x_nm`` or ``x (nm)`` are understood;
- Picasso hdf5 (``locs`` structured dataset) or any hdf5 with ``x``/``y``/``z`` datasets;
- npz with ``points`` (N, 2|3) [+ ``particle_index``/``group``] or ``x``/``y``/``z`` arrays;
- ``.off`` triangle meshes (both ``OFF\\nV F E`` and ``OFFV F E`` header forms) -> (vertices, faces);
- ``.binvox`` voxel files -> (grid, translate, scale).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from fewlabel.errors import InputError

GROUP_COLUMNS = ("group", "particle_index", "particle", "structure", "cluster", "cluster_id")
POINTCLOUD_SUFFIXES = (".csv", ".tsv", ".txt", ".xls", ".h5", ".hdf5", ".npz")
MESH_SUFFIXES = (".off", ".binvox")

_UNIT = re.compile(r"[\s_]*[\[(].*?[\])]\s*$|_(nm|um|px|pix|pixels?)$")


def _axis_name(column: str) -> str:
    """'x [nm]' -> 'x', 'X_nm' -> 'x', 'y (px)' -> 'y'; other names lower-cased unchanged."""
    return _UNIT.sub("", str(column).strip().strip('"')).strip().lower()


def _check_points(path: str | os.PathLike, name: str, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] not in (2, 3):
        raise InputError(path, f"point cloud {name!r} must have 2 or 3 coordinates per point, got shape {pts.shape}")
    if len(pts) == 0:
        raise InputError(path, f"point cloud {name!r} is empty")
    if not np.all(np.isfinite(pts)):
        bad = int((~np.isfinite(pts)).any(axis=1).sum())
        raise InputError(path, f"point cloud {name!r} has {bad} point(s) with NaN or infinite coordinates")
    if pts.shape[1] == 2:
        pts = np.column_stack([pts, np.zeros(len(pts))])
    return pts


def _split(path, pts: np.ndarray, groups: np.ndarray | None, stem: str) -> dict[str, np.ndarray]:
    if groups is None:
        return {stem: _check_points(path, stem, pts)}
    groups = np.asarray(groups)
    out = {}
    for g in np.unique(groups):
        name = f"{stem}_{g}"
        out[name] = _check_points(path, name, pts[groups == g])
    if not out:
        raise InputError(path, "no points")
    return out


def _from_columns(path, columns: dict[str, np.ndarray], stem: str) -> dict[str, np.ndarray]:
    """Pick x, y[, z] and an optional group column out of named 1D arrays."""
    by_axis = {}
    for col, values in columns.items():
        by_axis.setdefault(_axis_name(col), values)
    if "x" not in by_axis or "y" not in by_axis:
        raise InputError(path, f"no x and y coordinate columns found (columns: {', '.join(map(str, columns))})")
    axes = [by_axis["x"], by_axis["y"]] + ([by_axis["z"]] if "z" in by_axis else [])
    try:
        pts = np.column_stack([np.asarray(a, dtype=np.float64) for a in axes])
    except ValueError:
        raise InputError(path, "coordinate columns are not numeric") from None
    group = next((by_axis[g] for g in GROUP_COLUMNS if g in by_axis), None)
    return _split(path, pts, group, stem)


def _read_table(path: Path) -> dict[str, np.ndarray]:
    import pandas as pd

    sep = "\t" if path.suffix.lower() in (".tsv", ".xls") else None
    try:
        df = pd.read_csv(path, sep=sep, engine="python", comment="#")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the table ({exc})") from None
    if df.empty:
        raise InputError(path, "point cloud is empty")
    return _from_columns(path, {c: df[c].to_numpy() for c in df.columns}, path.stem)


def _read_hdf5(path: Path) -> dict[str, np.ndarray]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "locs" in f and f["locs"].dtype.names:
                locs = f["locs"][:]
                cols = {n: locs[n] for n in locs.dtype.names}
            else:
                cols = {k: f[k][:] for k in f.keys() if isinstance(f[k], h5py.Dataset) and f[k].ndim == 1}
    except OSError as exc:
        raise InputError(path, f"not a readable HDF5 file ({exc})") from None
    return _from_columns(path, cols, path.stem)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a readable .npz file ({exc})") from None
    with data:
        if "points" in data.files:
            groups = next((data[g] for g in GROUP_COLUMNS if g in data.files), None)
            pts = data["points"]
            if pts.ndim != 2:
                raise InputError(path, f"'points' must be (N, 2|3), got shape {pts.shape}")
            return _split(path, pts, groups, path.stem)
        return _from_columns(path, {k: data[k] for k in data.files if data[k].ndim == 1}, path.stem)


def read_pointclouds(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every point cloud in ``path`` as ``{name: (N, 3) float64}`` (see module docstring).

    Raises InputError for unknown formats, missing coordinate columns, empty clouds and
    NaN/infinite coordinates.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt", ".xls"):
        return _read_table(path)
    if suffix in (".h5", ".hdf5"):
        return _read_hdf5(path)
    if suffix == ".npz":
        return _read_npz(path)
    raise InputError(path, f"unknown point cloud format {suffix!r} (use {', '.join(POINTCLOUD_SUFFIXES)})")


def read_off(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read an OFF mesh -> (vertices float64 (V, 3), triangles int64 (F, 3)).

    Handles the standard header (``OFF`` then ``V F E``) and ModelNet's fused ``OFFV F E``;
    polygons with more than three corners are fanned into triangles.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    tokens = path.read_text(errors="replace").split()
    if not tokens or not tokens[0].upper().startswith("OFF"):
        raise InputError(path, "not an OFF file (first word is not OFF)")
    rest = tokens[0][3:]
    pos = 1
    if rest:  # fused header "OFF3514"
        tokens = [rest] + tokens[1:]
        pos = 0
    try:
        nv, nf = int(tokens[pos]), int(tokens[pos + 1])
        body = tokens[pos + 3:]
        verts = np.asarray(body[: 3 * nv], dtype=np.float64).reshape(nv, 3)
        faces_tok = np.asarray(body[3 * nv:], dtype=np.int64)
    except (ValueError, IndexError):
        raise InputError(path, "malformed OFF header or vertex list") from None
    if nv == 0:
        raise InputError(path, "mesh has no vertices")
    if not np.all(np.isfinite(verts)):
        raise InputError(path, "mesh has NaN or infinite vertex coordinates")
    if len(faces_tok) >= 4 * nf and nf and np.all(faces_tok[: 4 * nf: 4] == 3):
        tris = faces_tok[: 4 * nf].reshape(nf, 4)[:, 1:]  # fast path: all triangles
    else:
        tris = []
        i = 0
        for _ in range(nf):
            k = int(faces_tok[i]) if i < len(faces_tok) else 0
            idx = faces_tok[i + 1: i + 1 + k]
            if k < 3 or len(idx) < k:
                raise InputError(path, f"expected {nf} polygon faces, the face list is short or malformed")
            tris.extend((idx[0], idx[j], idx[j + 1]) for j in range(1, k - 1))
            i += 1 + k
    faces = np.asarray(tris, dtype=np.int64).reshape(-1, 3)
    if faces.size and (faces.min() < 0 or faces.max() >= nv):
        raise InputError(path, "face refers to a vertex that does not exist")
    return verts, faces


def read_binvox(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, float]:
    """Read a .binvox file -> (bool grid indexed [x, y, z], translate (3,), scale).

    binvox stores run-length pairs (value, count) with y varying fastest, then z, then x.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    raw = path.read_bytes()
    header = {}
    pos = 0
    try:
        first, pos = raw[: raw.index(b"\n")], raw.index(b"\n") + 1
        if not first.startswith(b"#binvox"):
            raise ValueError
        while True:
            end = raw.index(b"\n", pos)
            line = raw[pos:end].decode("ascii").strip()
            pos = end + 1
            if line == "data":
                break
            key, *vals = line.split()
            header[key] = vals
        dims = tuple(int(v) for v in header["dim"])
        translate = np.asarray(header.get("translate", [0, 0, 0]), dtype=np.float64)
        scale = float(header.get("scale", [1])[0])
    except (ValueError, KeyError, UnicodeDecodeError):
        raise InputError(path, "not a binvox file (bad header)") from None
    rle = np.frombuffer(raw[pos:], dtype=np.uint8)
    if len(rle) % 2:
        rle = rle[:-1]
    values, counts = rle[0::2], rle[1::2].astype(np.int64)
    flat = np.repeat(values.astype(bool), counts)
    if flat.size != int(np.prod(dims)):
        raise InputError(path, f"binvox data has {flat.size} voxels, header says {dims}")
    grid = flat.reshape(dims[0], dims[2], dims[1]).transpose(0, 2, 1)  # (x, z, y) -> (x, y, z)
    return np.ascontiguousarray(grid), translate, scale
