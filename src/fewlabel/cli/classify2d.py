"""2D classification by metric learning: train an embedding, embed a stack, cluster it, report.

\b
Examples:
  fewlabel simulate particles -o sim/
  fewlabel classify2d train --particles sim/particles.mrcs -o model.pt            # self-supervised
  fewlabel classify2d train --particles sim/particles.mrcs --mra-k 4 -o mra.pt    # no labels, MRA classes
  fewlabel classify2d train --particles sim/particles.mrcs --mra-k 4 --align --size 16 -o aligned.pt  # noisy data
  fewlabel classify2d train --particles sim/particles.mrcs --labels sim/labels.csv --label-fraction 0.2 -o sup.pt
  fewlabel classify2d generic -o generic.pt                                        # no stack, no labels
  fewlabel classify2d embed --model generic.pt --particles sim/particles.mrcs --mra-k 4 -o emb.npy
  fewlabel classify2d embed --model model.pt --particles sim/particles.mrcs -o emb.npy
  fewlabel classify2d cluster --embeddings emb.npy --k auto -o clusters.csv
  fewlabel classify2d cluster --method mra --particles sim/particles.mrcs --k 4 -o clusters.csv   # no training
  fewlabel classify2d report --particles sim/particles.mrcs --embeddings emb.npy --clusters clusters.csv --labels sim/labels.csv -o report/

For large boxes set --size (e.g. 32): the network works at that size, which is also a low-pass
filter and makes training on CPU affordable. On noisy data with a known number of classes,
`cluster --method mra` (CTF phase flipping + multi-reference alignment, no network) is the
stronger choice: see benchmarks/results/classify2d.md. A network for noisy data or a molecule without
labels: `train --mra-k K --align` trains on the particles MRA has rotated onto their references (its own
classes as labels); `embed` then aligns new particles to the same references
(benchmarks/results/classify2d_aligned.md). A molecule with no labels and too few particles to train
on: `generic` trains once on view classes of many simulated shapes (never your molecule), and
`embed --mra-k K` aligns your stack onto its own K MRA references before embedding it
(benchmarks/results/classify2d_generic.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fewlabel.cli.scale_options import scale_options

from fewlabel.errors import InputError

#: profile weight of `embed --mra-k` with a generic model (benchmarks/results/classify2d_generic.md)
GENERIC_PROFILE_WEIGHT = 0.75


@click.group(name="classify2d", help=__doc__)
def group() -> None:
    pass


def _read_particles(path: Path):
    from fewlabel.io.stacks import read_stack

    images, meta, pixel_size = read_stack(path)
    if len(images) == 0:
        raise InputError(path, "the particle stack is empty")
    return images, meta, pixel_size


def _ctf_option(f):
    return click.option("--ctf", "ctf_mode", type=click.Choice(["auto", "flip", "none"]), default="auto",
                        show_default=True,
                        help="CTF phase flipping before multi-reference alignment / class averages, with each "
                             "particle's defocus from the stack's .star (rlnDefocusU/V/Angle); auto = flip when "
                             "the metadata has defocus.")(f)


def _ctf_corrected(images, meta, pixel_size, mode: str, source):
    """The images phase-flipped with their own CTFs when ``mode`` asks for it (and says so)."""
    from fewlabel.classify2d.ctf import ctf_correct, ctf_params_from_metadata

    if mode == "none":
        return images
    ctfs = ctf_params_from_metadata(meta, source)
    if ctfs is None:
        if mode == "flip":
            raise InputError(source, "--ctf flip needs defocus columns (rlnDefocusU) in the stack's .star")
        return images
    click.echo(f"phase flipping {len(images)} particles with their own CTFs", err=True)
    return ctf_correct(images, pixel_size, ctfs, "flip")


def _device_option(f):
    return click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")(f)


@group.command("train")
@click.option("--particles", required=True, type=click.Path(exists=True, path_type=Path), help="Particle stack .mrcs.")
@click.option("--labels", type=click.Path(exists=True, path_type=Path), default=None,
              help="CSV with 'label' (and optional 'index'): supervised training on the labeled particles.")
@click.option("--mode", type=click.Choice(["auto", "supervised", "self-supervised"]), default="auto",
              show_default=True, help="auto = supervised when --labels is given, else self-supervised.")
@click.option("--label-fraction", type=float, default=1.0, show_default=True,
              help="Use only this fraction of each class's labels (seeded), like a small hand-labeled subset.")
@click.option("--size", type=int, default=None, help="Working image size in px (default: the stack's box).")
@click.option("--dim", type=int, default=256, show_default=True, help="Embedding dimension.")
@click.option("--width", type=int, default=32, show_default=True, help="Channels of the first CNN block.")
@click.option("--rot-pool", type=click.Choice(["1", "4", "8"]), default="4", show_default=True,
              help="Rotated copies pooled inside the network (exact invariance to that rotation group).")
@click.option("--margin", type=float, default=0.5, show_default=True, help="Triplet loss margin.")
@click.option("--miner", type=click.Choice(["random", "semi-hard", "batch-hard"]), default="semi-hard",
              show_default=True, help="Triplet mining strategy.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam(W) learning rate.")
@click.option("--batch-size", type=int, default=64, show_default=True, help="Particles per batch.")
@click.option("--epochs", type=int, default=30, show_default=True, help="Maximum epochs.")
@click.option("--patience", type=int, default=5, show_default=True, help="Early stopping patience (epochs).")
@click.option("--val-fraction", type=float, default=0.1, show_default=True, help="Held out for validation loss.")
@click.option("--max-shift", type=float, default=2.0, show_default=True, help="Augmentation: max shift (px).")
@click.option("--noise", type=float, default=0.3, show_default=True,
              help="Augmentation: extra Gaussian noise, std relative to the image's.")
@click.option("--flip/--no-flip", default=False, show_default=True,
              help="Augmentation: random mirror (only if mirrored views are the same class).")
@click.option("--mra-k", type=int, default=None,
              help="No labels: classify the stack into this many classes by multi-reference alignment "
                   "(classical reference-based 2D classification) and train on those classes as labels.")
@click.option("--mra-size", type=int, default=48, show_default=True,
              help="Refinement size (px) of --mra-k (the search runs at 24 px).")
@click.option("--align", is_flag=True,
              help="Train on CTF-corrected particles rotated and shifted onto their best MRA reference (MRA "
                   "with --mra-k classes, or as many as --labels has); the model keeps the references and "
                   "embed aligns new particles the same way. Sets --rot-pool 1, no rotation augmentation.")
@_ctf_option
@click.option("--seed", type=int, default=0, show_default=True)
@_device_option
@click.option("--resume", is_flag=True, help="Continue the interrupted run saved in --output.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Model file MODEL.pt.")
def train(particles, labels, mode, label_fraction, size, dim, width, rot_pool, margin, miner, lr, batch_size,
          epochs, patience, val_fraction, max_shift, noise, flip, mra_k, mra_size, align, ctf_mode, seed, device,
          resume, output) -> None:
    """Train the triplet-loss embedding network (supervised or self-supervised)."""
    import numpy as np
    import torch

    from fewlabel.atomic import check_not_input
    from fewlabel.classify2d.augment import AugmentConfig
    from fewlabel.classify2d.labels import read_labels, subsample_labels
    from fewlabel.classify2d.train import TrainConfig, train_embedding
    from fewlabel.runtime import resolve_device, seed_everything

    check_not_input(output, [particles] + ([labels] if labels else []))
    torch.set_num_threads(max(1, torch.get_num_threads()))
    images, meta, pixel_size = _read_particles(particles)
    if mode == "auto":
        mode = "supervised" if labels else "self-supervised"
    codes, names, references = None, None, None
    if align and mra_k is None and labels is None:
        raise InputError(None, "--align needs --mra-k or --labels (the number of MRA references)")
    if mra_k is not None:
        from fewlabel.classify2d.mra import mra_classify

        if labels is not None:
            raise InputError(None, "--mra-k makes its own labels: do not give --labels too")
        if not 2 <= mra_k <= len(images):
            raise InputError(particles, f"--mra-k must be between 2 and the number of particles ({len(images)})")
        click.echo(f"multi-reference alignment into {mra_k} classes at {mra_size} px", err=True)
        flipped = _ctf_corrected(images, meta, pixel_size, ctf_mode, particles)
        codes, references = mra_classify(flipped, mra_k, size=mra_size, seed=seed, progress=True)
        if align:
            images = flipped
        names = [f"mra{c}" for c in range(mra_k)]
        mode = "supervised"
        click.echo(f"MRA class sizes {np.bincount(codes, minlength=mra_k).tolist()}", err=True)
    elif mode == "supervised":
        if labels is None:
            raise InputError(None, "--mode supervised needs --labels")
        codes, names = read_labels(labels, len(images))
        if label_fraction < 1:
            codes = subsample_labels(codes, label_fraction, seed)
        click.echo(f"{int((codes >= 0).sum())} of {len(images)} particles labeled, classes: {', '.join(names)}",
                   err=True)
        if align:
            from fewlabel.classify2d.mra import mra_classify

            k = len(names)
            click.echo(f"multi-reference alignment into {k} classes at {mra_size} px (references only)", err=True)
            images = _ctf_corrected(images, meta, pixel_size, ctf_mode, particles)
            references = mra_classify(images, k, size=mra_size, seed=seed, progress=True)[1]
    if not align:
        references = None
    cfg = TrainConfig(mode=mode, size=size, dim=dim, width=width, rot_pool=1 if align else int(rot_pool),
                      margin=margin, miner=miner, lr=lr, batch_size=batch_size, epochs=epochs, patience=patience,
                      val_fraction=val_fraction, seed=seed,
                      augment=AugmentConfig(rotate=not align, max_shift=min(max_shift, 1.0) if align else max_shift,
                                            noise=noise, flip=flip))
    seed_everything(seed)
    dev = resolve_device(device)
    extra = {"particles": str(particles), "labels": str(labels) if labels else None, "class_names": names,
             "label_fraction": label_fraction, "mra_k": mra_k, "mra_size": mra_size,
             "mra_ctf": ctf_mode if mra_k is not None or align else None, "align": align}
    result = train_embedding(images, codes, cfg, output, resume=resume, device=dev,
                             log=lambda m: click.echo(m, err=True), extra_config=extra, references=references)
    click.echo(f"wrote {output} (best epoch {result.best_epoch}, {len(result.history)} epochs run"
               f"{', stopped early' if result.stopped_early else ''})")


@group.command("generic")
@click.option("--shapes", default="default", show_default=True,
              help="Training shapes, comma list of name[:GROUP[:seed]] (vendored model, optionally a Cn/Dn "
                   "assembly of it), or 'default' (12 shapes; HIV-1 protease 1hvr/4E43 is never among them).")
@click.option("--views", type=int, default=8, show_default=True, help="View classes per shape.")
@click.option("--per-class", type=int, default=40, show_default=True, help="Simulated particles per view class.")
@click.option("--snr", default="0.1", show_default=True, help="SNR of the simulated particles (or 'clean').")
@click.option("--box", type=int, default=64, show_default=True, help="Simulated box (px).")
@click.option("--mra-size", type=int, default=48, show_default=True,
              help="Refinement size (px) of the MRA that aligns each shape's particles.")
@click.option("--size", type=int, default=16, show_default=True, help="Working image size of the network (px).")
@click.option("--dim", type=int, default=64, show_default=True, help="Embedding dimension.")
@click.option("--width", type=int, default=16, show_default=True, help="Channels of the first CNN block.")
@click.option("--batch-size", type=int, default=64, show_default=True, help="Particles per batch.")
@click.option("--epochs", type=int, default=20, show_default=True, help="Maximum epochs.")
@click.option("--patience", type=int, default=8, show_default=True, help="Early stopping patience (epochs).")
@click.option("--seed", type=int, default=0, show_default=True)
@_device_option
@click.option("--resume", is_flag=True, help="Continue the interrupted run saved in --output (same options).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Model file MODEL.pt.")
def generic_cmd(shapes, views, per_class, snr, box, mra_size, size, dim, width, batch_size, epochs, patience, seed,
                device, resume, output) -> None:
    """Train a generic embedding on simulated view classes of many shapes (no stack, no labels needed).

    Each shape (a vendored model or a point-group assembly of one) is simulated as --views view classes
    with CTF and noise, phase-flipped and rotated onto its own MRA references; the network learns the
    (shape, view) classes. Embed a new molecule with `embed --model MODEL.pt --mra-k K`: its stack is
    aligned onto its own K MRA references first. The defaults (3840 particles, 20 epochs) took 2.5
    CPU-minutes on one core (152 s CPU time measured).

    \b
    Example:
      fewlabel classify2d generic -o generic.pt
      fewlabel classify2d embed --model generic.pt --particles sim/particles.mrcs --mra-k 4 -o emb.npy
      fewlabel classify2d cluster --embeddings emb.npy --k 4 -o clusters.csv
    """
    import torch

    from fewlabel.classify2d.generic import generic_config, generic_training_set, parse_shapes
    from fewlabel.classify2d.train import train_embedding
    from fewlabel.runtime import resolve_device, seed_everything
    from fewlabel.simulate.particles import parse_snr

    specs = parse_shapes(shapes)
    parse_snr(snr)
    if views < 2 or per_class < 2:
        raise InputError(None, "--views and --per-class must be at least 2")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    seed_everything(seed)
    dev = resolve_device(device)
    x, y, names = generic_training_set(specs, per_class, views, snr, box, mra_size, seed,
                                       log=lambda m: click.echo(m, err=True))
    cfg = generic_config(seed, size=size, dim=dim, width=width, batch_size=batch_size, epochs=epochs,
                         patience=patience)
    extra = {"generic": {"shapes": list(specs), "views": views, "per_class": per_class, "snr": snr, "box": box,
                         "mra_size": mra_size}, "class_names": names, "align": False}
    result = train_embedding(x, y, cfg, output, resume=resume, device=dev, log=lambda m: click.echo(m, err=True),
                             extra_config=extra)
    click.echo(f"wrote {output} (best epoch {result.best_epoch}, {len(result.history)} epochs run; "
               f"{len(names)} (shape, view) classes of {len(specs)} shapes); embed with --mra-k K")


@group.command("embed")
@click.option("--model", "model_path", required=True, type=click.Path(path_type=Path), help="MODEL.pt from train.")
@click.option("--particles", required=True, type=click.Path(exists=True, path_type=Path), help="Particle stack .mrcs.")
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--mra-k", type=int, default=None,
              help="Generic models (from `classify2d generic`) only: align the stack onto its own K MRA "
                   "references first (K = the number of classes you expect).")
@click.option("--mra-size", type=int, default=48, show_default=True, help="Refinement size (px) of --mra-k.")
@click.option("--profile-weight", type=float, default=GENERIC_PROFILE_WEIGHT, show_default=True,
              help="Generic models: share of the MRA correlation profile joined to the embedding (0 = none).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --mra-k's MRA.")
@_ctf_option
@_device_option
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Embeddings EMB.npy [n, dim].")
@scale_options
def embed_cmd(model_path, particles, batch_size, mra_k, mra_size, profile_weight, seed, ctf_mode, device, output,
              scale) -> None:
    """Embed every particle of a stack (rows in stack order, unit length).

    A model trained with --align first aligns every particle (CTF phase-flipped as --ctf says) onto the
    MRA references it keeps; a generic model (`classify2d generic`) onto the stack's own --mra-k references.
    Both embed in-process (no --workers / --scheduler / --slurm / --shard).
    """
    from fewlabel.atomic import check_not_input
    from fewlabel.scale.commands import classify2d_embed

    check_not_input(output, [particles, model_path])
    if _embed_aligning(model_path, particles, batch_size, mra_k, mra_size, profile_weight, seed, ctf_mode, device,
                       output, scale):
        return
    emb = classify2d_embed(model_path, particles, output, scale, batch_size=batch_size, device=device,
                           log=lambda m: click.echo(m, err=True))
    if emb is not None:  # None: a --shard run wrote its parts; rerun without --shard to merge
        click.echo(f"wrote {output} ({emb.shape[0]} x {emb.shape[1]})")


def _embed_aligning(model_path, particles, batch_size, mra_k, mra_size, profile_weight, seed, ctf_mode, device,
                    output, scale) -> bool:
    """Embed, in-process, with a model that aligns particles first: one trained with --align (onto the MRA
    references it keeps) or a generic one (onto the stack's own --mra-k references). False for any other
    model, which the scalable path embeds."""
    import numpy as np

    from fewlabel.atomic import atomic_path
    from fewlabel.classify2d.embed import embed
    from fewlabel.classify2d.generic import embed_new_molecule
    from fewlabel.classify2d.train import load_model
    from fewlabel.runtime import resolve_device

    dev = resolve_device(device)
    model, config = load_model(model_path, dev)
    generic = bool(config.get("generic"))
    if not generic and mra_k is not None:
        raise InputError(model_path, "--mra-k is for generic models (classify2d generic); this model is not one")
    if not generic and model.references is None:
        return False
    if generic and mra_k is None:
        raise InputError(model_path, "a generic model needs --mra-k K (the number of classes to align the stack to)")
    if not scale.in_process or scale.shard is not None:
        kind = "a generic model" if generic else "a model trained with --align"
        raise InputError(model_path, f"{kind} embeds in-process: drop --workers, --scheduler, --slurm and --shard")
    if generic and not 0 <= profile_weight <= 1:
        raise InputError(None, f"--profile-weight must be in [0, 1], got {profile_weight}")
    images, meta, pixel_size = _read_particles(particles)
    if generic and not 2 <= mra_k <= len(images):
        raise InputError(particles, f"--mra-k must be between 2 and the number of particles ({len(images)})")
    if not generic and config.get("mra_ctf") in (None, "none") and ctf_mode == "auto":
        ctf_mode = "none"  # trained on uncorrected particles: embed them the same way
    images = _ctf_corrected(images, meta, pixel_size, ctf_mode, particles)
    if generic:
        click.echo(f"multi-reference alignment into {mra_k} classes at {mra_size} px, then the generic network"
                   + (f" + the MRA profile (weight {profile_weight})" if profile_weight > 0 else ""), err=True)
        emb = embed_new_molecule(model, images, mra_k, mra_size, profile_weight, seed, batch_size, dev, progress=True)
    else:
        click.echo(f"aligning {len(images)} particles onto the model's {model.n_references} MRA references", err=True)
        emb = embed(model, images, batch_size, dev, progress=True)
    with atomic_path(output) as tmp:
        np.save(tmp, emb)
    click.echo(f"wrote {output} ({emb.shape[0]} x {emb.shape[1]})")
    return True


def _read_embeddings(path: Path):
    import numpy as np

    try:
        emb = np.load(path)
    except Exception as exc:
        raise InputError(path, f"not a readable .npy array ({type(exc).__name__})") from None
    if emb.ndim != 2 or len(emb) == 0:
        raise InputError(path, f"expected a non-empty [n, dim] array, got shape {emb.shape}")
    return emb


@group.command("cluster")
@click.option("--method", type=click.Choice(["kmeans", "mra"]), default="kmeans", show_default=True,
              help="kmeans: k-means on --embeddings (elbow plot, k may be 'auto'); mra: multi-reference "
                   "alignment of --particles (CTF phase flipping, coarse-to-fine hard EM; no network, k needed).")
@click.option("--embeddings", type=click.Path(exists=True, path_type=Path), default=None,
              help="EMB.npy from embed (--method kmeans).")
@click.option("--particles", type=click.Path(exists=True, path_type=Path), default=None,
              help="Particle stack .mrcs (--method mra).")
@click.option("--k", "k_opt", default="auto", show_default=True,
              help="Number of clusters, or 'auto' for the elbow's suggested k (kmeans only; Kneedle rule, see below).")
@click.option("--k-min", type=int, default=1, show_default=True, help="Smallest k on the elbow curve.")
@click.option("--k-max", type=int, default=12, show_default=True, help="Largest k on the elbow curve.")
@click.option("--size", type=int, default=48, show_default=True, help="mra: refinement size in px (search at 24 px).")
@click.option("--n-init", type=int, default=16, show_default=True, help="mra: starts of the search (best kept).")
@_ctf_option
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="CLUSTERS.csv (index,label).")
def cluster_cmd(method, embeddings, particles, k_opt, k_min, k_max, size, n_init, ctf_mode, seed, output) -> None:
    """Cluster particles: k-means on embeddings (also writes CLUSTERS.elbow.csv/.png) or MRA on images.

    Suggested k (Kneedle on log inertia): with k and log(inertia) both scaled to [0, 1], the k whose
    point lies farthest below the straight line from the first to the last point of the elbow curve.
    """
    import pandas as pd

    from fewlabel.atomic import atomic_path, check_not_input
    from fewlabel.classify2d.cluster import K_RULE, elbow, kmeans, suggest_k
    from fewlabel.classify2d.labels import write_clusters
    from fewlabel.report.classify2d import elbow_plot
    from fewlabel.report.figures import save_figure

    source = embeddings if method == "kmeans" else particles
    if source is None:
        raise InputError(None, f"--method {method} needs {'--embeddings' if method == 'kmeans' else '--particles'}")
    check_not_input(output, [source])
    if method == "mra":
        from fewlabel.classify2d.mra import mra_classify

        images, meta, pixel_size = _read_particles(particles)
        n = len(images)
        try:
            k = int(k_opt)
        except ValueError:
            raise InputError(None, f"--method mra needs an integer --k, got {k_opt!r}") from None
        if not 1 <= k <= n:
            raise InputError(particles, f"--k {k} is not between 1 and the number of particles ({n})")
        images = _ctf_corrected(images, meta, pixel_size, ctf_mode, particles)
        gb = n * 36 * min(size, images.shape[-1]) ** 2 * 4 / 1e9
        click.echo(f"multi-reference alignment of {n} particles into {k} classes ({n_init} starts at 24 px, "
                   f"refined at {size} px; about {gb:.1f} GB of rotated copies, lower --size for less)", err=True)
        labels = mra_classify(images, k, size=size, n_init=n_init, seed=seed, progress=True)[0]
        write_clusters(output, labels)
        click.echo(f"wrote {output}: k = {k}, cluster sizes {pd.Series(labels).value_counts().sort_index().tolist()}")
        return
    emb = _read_embeddings(embeddings)
    n = len(emb)
    if k_opt != "auto":
        try:
            k = int(k_opt)
        except ValueError:
            raise InputError(None, f"--k must be an integer or 'auto', got {k_opt!r}") from None
        if k < 1 or k > n:
            raise InputError(embeddings, f"--k {k} is not between 1 and the number of particles ({n})")
    else:
        k = None
    if k_min < 1 or k_max < k_min:
        raise InputError(None, "need 1 <= --k-min <= --k-max")
    ks = list(range(k_min, min(k_max, n) + 1))
    inertias = elbow(emb, ks, seed)
    suggested = suggest_k(ks, inertias)
    click.echo(f"elbow over k = {ks[0]}..{ks[-1]}: suggested k = {suggested} ({K_RULE})", err=True)
    k = suggested if k is None else k
    labels, inertia = kmeans(emb, k, seed, source=embeddings)
    write_clusters(output, labels)
    stem = output.with_suffix("")
    with atomic_path(f"{stem}.elbow.csv") as tmp:
        pd.DataFrame({"k": ks, "inertia": inertias, "suggested": [kk == suggested for kk in ks]}).to_csv(tmp, index=False)
    save_figure(elbow_plot(ks, inertias, suggested, K_RULE), f"{stem}.elbow.png")
    sizes = pd.Series(labels).value_counts().sort_index().tolist()
    click.echo(f"wrote {output}: k = {k} (suggested {suggested}), cluster sizes {sizes}; "
               f"elbow in {stem}.elbow.csv/.png")


@group.command("report")
@click.option("--particles", required=True, type=click.Path(exists=True, path_type=Path), help="Particle stack .mrcs.")
@click.option("--embeddings", type=click.Path(exists=True, path_type=Path), default=None,
              help="EMB.npy (optional: without it, e.g. after cluster --method mra, no similarity matrix or t-SNE).")
@click.option("--clusters", required=True, type=click.Path(exists=True, path_type=Path), help="CLUSTERS.csv.")
@click.option("--labels", type=click.Path(exists=True, path_type=Path), default=None,
              help="True classes (CSV with 'label'): adds ARI, NMI, Hungarian accuracy and class plots.")
@click.option("--max-members", type=int, default=200, show_default=True,
              help="Particles averaged per class (random subset).")
@_ctf_option
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Report folder.")
def report_cmd(particles, embeddings, clusters, labels, max_members, ctf_mode, seed, output) -> None:
    """Figures (PNG) and one HTML page: similarity matrix, t-SNE maps, elbow, class averages, scores."""
    import numpy as np
    import pandas as pd

    from fewlabel.atomic import write_text_atomic
    from fewlabel.classify2d.cluster import K_RULE, class_averages, suggest_k
    from fewlabel.classify2d.evaluate import class_similarity_matrix, cluster_scores, embedding_map
    from fewlabel.classify2d.labels import read_labels
    from fewlabel.report import classify2d as figs
    from fewlabel.report.figures import save_figure
    from fewlabel.report.html import Section, write_report

    images, meta, pixel_size = _read_particles(particles)
    emb = _read_embeddings(embeddings) if embeddings is not None else None
    n = len(images)
    if emb is not None and len(emb) != n:
        raise InputError(embeddings, f"{len(emb)} embeddings for a stack of {n} particles")
    cl, _ = read_labels(clusters, n, complete=True)
    true, names = read_labels(labels, n, complete=True) if labels else (None, None)
    output.mkdir(parents=True, exist_ok=True)
    sections = []
    scores = None
    if true is not None:
        scores = cluster_scores(true, cl)
        write_text_atomic(output / "scores.json", json.dumps(scores, indent=2) + "\n")
        click.echo("scores: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
        sections.append(Section("Scores against the true classes",
                                "ARI and NMI compare the clustering with the true classes (1 = identical); "
                                "accuracy matches clusters to classes one-to-one (Hungarian).",
                                tables=[(pd.DataFrame([scores]), "")]))
    if emb is not None:
        group_labels, group_names = (true, names) if true is not None else (cl, None)
        m, classes = class_similarity_matrix(emb, group_labels)
        shown = [group_names[c] for c in classes] if group_names else [str(c) for c in classes]
        save_figure(figs.similarity_heatmap(m, shown, "Cosine similarity between " +
                                            ("true classes" if true is not None else "clusters")),
                    output / "similarity.png")
        click.echo("computing the PCA -> t-SNE map", err=True)
        xy = embedding_map(emb, seed)
        maps = [(output / "tsne_clusters.png", "t-SNE coloured by cluster")]
        save_figure(figs.embedding_scatter(xy, cl, None, "t-SNE of embeddings, coloured by cluster"), maps[0][0])
        if true is not None:
            save_figure(figs.embedding_scatter(xy, true, names, "t-SNE of embeddings, coloured by true class"),
                        output / "tsne_classes.png")
            maps.insert(0, (output / "tsne_classes.png", "t-SNE coloured by true class"))
        sections.append(Section("Embedding", "Mean cosine similarity between groups, and a PCA(50) -> t-SNE(2) map.",
                                figures=[(output / "similarity.png", "class similarity")] + maps))
    elbow_csv = clusters.with_suffix("").with_name(clusters.stem + ".elbow.csv")
    if elbow_csv.is_file():
        eb = pd.read_csv(elbow_csv)
        ks, inert = eb["k"].tolist(), eb["inertia"].tolist()
        save_figure(figs.elbow_plot(ks, inert, suggest_k(ks, inert), K_RULE), output / "elbow.png")
        sections.append(Section("Choosing k", f"Suggested k rule: {K_RULE}.",
                                figures=[(output / "elbow.png", "elbow plot")]))
    click.echo("aligning and averaging classes", err=True)
    avgs = class_averages(_ctf_corrected(images, meta, pixel_size, ctf_mode, particles), cl,
                          max_members=max_members, seed=seed)
    counts = {int(c): int((cl == c).sum()) for c in avgs}
    save_figure(figs.class_average_gallery(avgs, counts), output / "class_averages.png")
    sections.append(Section("Class averages", "Members of each cluster (CTF phase-flipped when the stack has "
                            "defocus, see --ctf) rotationally and translationally aligned to an iteratively "
                            "refined reference by FFT cross-correlation, then averaged.",
                            figures=[(output / "class_averages.png", "class averages")]))
    write_report(output / "report.html", "fewlabel classify2d report", sections,
                 meta=f"{n} particles, {len(np.unique(cl))} clusters"
                      + (f", embeddings {emb.shape[1]}-d" if emb is not None else ""))
    click.echo(f"wrote {output / 'report.html'}")
