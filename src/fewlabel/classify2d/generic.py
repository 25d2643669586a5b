"""A generic embedding for molecules no network has seen: trained on view classes of many simulated shapes.

Why: a network trained on one molecule's (or three molecules') view classes learns that molecule, not
what makes two views of *any* molecule different, so it transfers badly (issue #4). Here the training
classes are (shape, view) pairs of many shapes: the vendored monomers and point-group assemblies built
from them (:func:`fewlabel.simulate.assemblies.parse_assembly`, ``name:GROUP:seed``), each simulated as
``n_views`` view classes (:func:`fewlabel.simulate.particles.simulate_particles`), CTF phase-flipped and
rotated onto its own MRA references (:func:`fewlabel.classify2d.mra.mra_profile`), since the network
works on aligned particles. A new molecule is then MRA-aligned onto its own references and embedded.

HIV-1 protease (``1hvr``, ``4E43``) is never in :data:`GENERIC_SHAPES`: it is the benchmark's unseen molecule.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from fewlabel.errors import InputError

#: training shapes: vendored monomers and assemblies of them (never 1hvr / 4E43, the held-out protein)
GENERIC_SHAPES = ("adk_open", "adk_closed", "5a7u", "adk_open:C2:1", "adk_closed:C2:0", "5a7u:C2:2",
                  "5a7u:C3:0", "adk_closed:C4:0", "5a7u:D2:0", "adk_open:D2:0", "adk_closed:C3:3", "5a7u:C5:1")
#: vendored models of the held-out protein (HIV-1 protease)
HELD_OUT = ("1hvr", "4E43")


def _write_model(molecule, path: Path) -> None:
    """Write ``molecule`` as an mmCIF file (any atom count) that :func:`simulate.density.load_molecule` reads."""
    import gemmi

    st = gemmi.Structure()
    model = gemmi.Model("1")
    chain = gemmi.Chain("A")
    for start in range(0, molecule.n_atoms, 50):  # one pseudo-residue per 50 atoms
        res = gemmi.Residue()
        res.name, res.het_flag = "UNK", "H"  # HETATM: the reader then trusts the element column (Zn stays Zn)
        res.seqid = gemmi.SeqId(start // 50 + 1, " ")
        for i in range(start, min(start + 50, molecule.n_atoms)):
            atom = gemmi.Atom()
            element = molecule.elements[molecule.element_index[i]]
            atom.name, atom.element = element, gemmi.Element(element)
            atom.pos = gemmi.Position(*map(float, molecule.coords[i]))
            res.add_atom(atom)
        chain.add_residue(res)
    model.add_chain(chain)
    st.add_model(model)
    st.setup_entities()
    st.make_mmcif_document().write_file(str(path))


def shape_particles(spec: str, n_per_class: int, n_views: int = 8, snr: float | str | None = 0.1,
                    box: int = 64, seed: int = 0):
    """``n_views`` view classes of the shape ``spec`` (``name`` or ``name:GROUP[:seed]``):
    ``(images [n, box, box], labels DataFrame)`` as :func:`simulate_particles` returns them."""
    from fewlabel.simulate.assemblies import parse_assembly
    from fewlabel.simulate.particles import simulate_particles

    if ":" not in spec:
        return simulate_particles(n_per_class, "views", molecule=spec, n_views=n_views, snr=snr, box=box, seed=seed)
    molecule = parse_assembly(spec)
    with tempfile.TemporaryDirectory(prefix="fewlabel-shape-") as tmp:
        path = Path(tmp) / f"{spec.replace(':', '_')}.cif"
        _write_model(molecule, path)
        return simulate_particles(n_per_class, "views", molecule=str(path), n_views=n_views, snr=snr, box=box,
                                  seed=seed)


def aligned_views(images: np.ndarray, labels, k: int, mra_size: int = 48, seed: int = 0):
    """Phase-flip ``images`` by their own CTFs (``labels`` metadata), classify them into ``k`` classes by
    MRA and rotate each onto its best reference: ``(aligned [n, s, s], mra_labels [n], profile [n, k])``."""
    from fewlabel.classify2d.ctf import ctf_correct, ctf_params_from_metadata
    from fewlabel.classify2d.mra import mra_classify, mra_profile

    flipped = ctf_correct(images, labels.attrs["pixel_size"], ctf_params_from_metadata(labels), "flip")
    mra_labels, refs = mra_classify(flipped, k, size=mra_size, seed=seed)
    profile, aligned = mra_profile(flipped, refs)
    return aligned, mra_labels, profile


def generic_training_set(shapes: Sequence[str] = GENERIC_SHAPES, n_per_class: int = 40, n_views: int = 8,
                         snr: float | str | None = 0.1, box: int = 64, mra_size: int = 48, seed: int = 0,
                         log: Callable[[str], None] = print) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """MRA-aligned particles of every shape's ``n_views`` view classes, labelled by (shape, view):
    ``(aligned [n, s, s], labels [n] = shape index * n_views + view, class names)``.
    Each shape is simulated with its own seed derived from ``seed`` and its position in ``shapes``."""
    shapes = list(shapes)
    if not shapes:
        raise InputError(None, "need at least one training shape")
    bad = [s for s in shapes if s.split(":")[0] in HELD_OUT]
    if bad:
        log(f"note: {', '.join(bad)} is the benchmark's held-out protein")
    xs, ys, names = [], [], []
    for i, spec in enumerate(shapes):
        log(f"shape {i + 1}/{len(shapes)}: {spec}, {n_views} views x {n_per_class} particles, SNR {snr}")
        x, lab = shape_particles(spec, n_per_class, n_views, snr, box, seed=seed * 1000 + 200 + i)
        xs.append(aligned_views(x, lab, n_views, mra_size, seed)[0])
        ys.append(lab["label"].to_numpy() + n_views * i)
        names += [f"{spec}/view{v}" for v in range(n_views)]
    return np.concatenate(xs), np.concatenate(ys), names


def generic_config(seed: int = 0, **overrides):
    """The benchmarked recipe of the generic network (:class:`TrainConfig`): supervised on aligned
    particles (no rotation pooling, no rotation augmentation, 1 px shifts), 16 px working size, 64-d."""
    from fewlabel.classify2d.augment import AugmentConfig
    from fewlabel.classify2d.train import TrainConfig

    base = dict(mode="supervised", size=16, dim=64, width=16, epochs=20, patience=8, batch_size=64, rot_pool=1,
                seed=seed, augment=AugmentConfig(rotate=False, max_shift=1.0))
    base.update(overrides)
    return TrainConfig(**base)


def embed_new_molecule(model, images: np.ndarray, k: int, mra_size: int = 48, profile_weight: float = 0.0,
                       seed: int = 0, batch_size: int = 256, device: str = "cpu",
                       progress: bool = False) -> np.ndarray:
    """Embed a stack of a molecule the generic ``model`` never saw: MRA into ``k`` classes (its own
    references), every particle rotated onto its best reference, then the network; with
    ``profile_weight > 0`` the MRA correlation profile joins the embedding
    (:func:`fewlabel.classify2d.embed.combine_embeddings`). Give CTF-corrected ``images``."""
    from fewlabel.classify2d.embed import combine_embeddings, embed
    from fewlabel.classify2d.mra import mra_classify, mra_profile

    if getattr(model, "references", None) is not None:
        raise InputError(None, "this model keeps its own MRA references: embed it with embed.embed")
    refs = mra_classify(images, k, size=mra_size, seed=seed, progress=progress)[1]
    profile, aligned = mra_profile(images, refs)
    emb = embed(model, aligned, batch_size, device, progress)
    return combine_embeddings(emb, profile, profile_weight) if profile_weight > 0 else emb


def parse_shapes(text: str | None) -> tuple[str, ...]:
    """A comma list of shape specs (None or 'default' -> :data:`GENERIC_SHAPES`); InputError on a bad one."""
    from fewlabel.simulate.assemblies import point_group_rotations
    from fewlabel.simulate.density import resolve_pdb

    if text is None or text.strip().lower() == "default":
        return GENERIC_SHAPES
    specs = tuple(s.strip() for s in text.split(",") if s.strip())
    if not specs:
        raise InputError(None, "--shapes is empty")
    for s in specs:
        parts = s.split(":")
        resolve_pdb(parts[0])
        if len(parts) > 1:
            point_group_rotations(parts[1])
        if len(parts) > 2 and not parts[2].isdigit():
            raise InputError(None, f"shape {s!r}: the assembly seed must be an integer")
        if len(parts) > 3:
            raise InputError(None, f"shape {s!r}: use name, name:GROUP or name:GROUP:seed")
    return specs


__all__ = ["GENERIC_SHAPES", "HELD_OUT", "aligned_views", "embed_new_molecule", "generic_config",
           "generic_training_set", "parse_shapes", "shape_particles"]
