"""Particle picking from few labels: train a positive-unlabeled CNN, extract picks, evaluate them.

All coordinates and radii are in pixels of the ORIGINAL micrographs; downsampling is internal
and stored in the model file. Training starts from fewlabel's shipped general picker (trained on
simulated micrographs) unless --no-pretrained; extract without --model uses it directly (zero
labels) and needs only the particle diameter. ``--radius`` in train is the positive region around each labeled
centre (about half the particle radius works well); extract's ``--radius`` is the
non-maximum-suppression radius (about the particle radius; default twice the training radius).

Examples:

\b
    fewlabel simulate micrographs --n 12 -o sim/
    fewlabel pick train --micrographs sim/micrographs --picks sim/labeled_100.tsv --radius 15 \\
        --expected 75 --downsample 4 --epochs 10 -o picker.pt
    fewlabel pick extract --model picker.pt --micrographs sim/micrographs -o picks.star
    fewlabel pick extract --diameter 60 --micrographs sim/micrographs -o zero_label_picks.star
    fewlabel pick evaluate --picks picks.star --truth sim/truth.tsv --radius 30 --plot pr.png \\
        --overlay overlays/ --micrographs sim/micrographs
"""

from __future__ import annotations

from pathlib import Path

import click

from fewlabel.cli.scale_options import scale_options

from fewlabel.errors import InputError

#: fewlabel.pick.train.FEW_LABELS_BELOW, for the help texts without importing torch (a test keeps them equal)
FEW_LABELS = 100


def few_label_default(few: str, many: str) -> str:
    """The help suffix of a fine-tuning option whose default depends on the label count."""
    return f"[default: {few} from the general picker with fewer than {FEW_LABELS} labeled particles, else {many}]."


@click.group(name="pick", help=__doc__)
def group() -> None:
    pass


def _torch_setup(device: str) -> str:
    from fewlabel.runtime import resolve_device

    return resolve_device(device)


@group.command("train")
@click.option("--micrographs", required=True, type=click.Path(exists=True, path_type=Path),
              help="Folder (or file) of micrographs: .mrc/.tif/.png/.jpg.")
@click.option("--picks", "picks_path", required=True, type=click.Path(exists=True, path_type=Path),
              help="Labeled particle centres (.tsv/.star/.box/.csv, or cryoSPARC .cs; names with or "
                   "without extension).")
@click.option("--radius", required=True, type=float,
              help="Radius of the positive region around each labeled centre, original px.")
@click.option("--expected", type=float, default=None,
              help="Expected particles per micrograph; gives pi with --radius.")
@click.option("--pi", type=float, default=None, help="Fraction of positive pixels (instead of --expected).")
@click.option("--downsample", type=float, default=None,
              help="Downsampling factor, integer or not [default: from the general picker, its working scale "
                   "(particle radius 6.75 px); from random weights, radius/3 rounded (positive radius ~3 px)].")
@click.option("--objective", type=click.Choice(["ge-binomial", "ge-kl", "nnpu", "pn"]), default="ge-binomial",
              show_default=True)
@click.option("--autoencoder", type=float, default=0.0, show_default=True,
              help="Weight of the reconstruction term (hybrid classifier + autoencoder); 0 = off.")
@click.option("--model", "model_name", type=click.Choice(["resnet8", "conv31", "conv63", "conv127"]),
              default="resnet8", show_default=True)
@click.option("--units", type=int, default=16, show_default=True,
              help="Channels per layer (16 trains ~3x faster than 32 on CPU and picked as well in our tests).")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--steps-per-epoch", type=int, default=100, show_default=True, help="Minibatches per epoch.")
@click.option("--particle-radius", type=float, default=None,
              help="Particle radius (original px) for validation NMS/matching and extract's default [2 x --radius].")
@click.option("--validation-fraction", type=float, default=None,
              help="Fraction of labeled micrographs held out to pick the best epoch [default: 0.2 with 200 or more "
                   "labeled particles; below that none: train on every label and keep the last epoch].")
@click.option("--normalize", type=click.Choice(["robust", "gmm", "none"]), default="robust", show_default=True)
@click.option("--max-micrographs", type=int, default=200, show_default=True,
              help="Use at most this many micrographs (all labeled ones first, then a seeded sample).")
@click.option("--lr", type=float, default=None,
              help="Adam learning rate [default: 5e-4, from random weights or the general picker "
                   "(fewlabel.pick.train.SCRATCH_LR / FINE_TUNE)].")
@click.option("--pseudo-labels", type=float, default=None, metavar="FRACTION",
              help="Add the starting model's top picks on the training micrographs as positives, this fraction of "
                   "the expected particle count (hard pseudo-labels; --distill is the few-label default instead) "
                   "[default: 0].")
@click.option("--freeze-epochs", type=int, default=None,
              help="Epochs at the start that train only the classifier on the general picker's frozen features "
                   "[default: 0].")
@click.option("--mix-start", type=float, default=None, metavar="FRACTION",
              help="Save (1 - F) x the fine-tuned weights + F x the starting weights (weight-space ensembling); "
                   "keeps what the general picker finds when a few labels say little " + few_label_default("0.5", "0"))
@click.option("--average-last", type=int, default=None, metavar="K",
              help="Save the mean of the weights after each of the last K epochs (stochastic weight averaging; 1 = "
                   "the last epoch's own) " + few_label_default("5", "1"))
@click.option("--label-tiles", type=float, default=None, metavar="FRACTION",
              help="Centre this fraction of the positive training tiles on hand-labeled particles rather than on "
                   "any positive (pseudo-labels, when given, outnumber a few labels) " + few_label_default("0.5", "0"))
@click.option("--distill", type=float, default=None, metavar="WEIGHT",
              help="Also pull the model towards the starting model's scores on unlabeled pixels, with this weight "
                   "(distillation; keeps few labels from being overfit; needs the general picker; "
                   "fewlabel.pick.train.FINE_TUNE) " + few_label_default("1", "0"))
@click.option("--distill-targets", type=click.Choice(["tile", "tta"]), default=None,
              help="Distillation targets: the starting model on each training tile (one extra pass per step), or "
                   "its scores averaged over the 8 rotations/mirrors as pick extract scores them, computed once "
                   "(tta) [default: tta].")
@click.option("--no-augment", is_flag=True, help="Turn off random flips/transpositions of training tiles.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--pretrained/--no-pretrained", default=None,
              help="Start from the shipped general picker / from random weights [default: pretrained when "
                   "--model/--units match it (resnet8, 16)].")
@click.option("--resume", is_flag=True, help="Continue from MODEL.last.pt written by an earlier run.")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="Model file (.pt).")
def train(micrographs, picks_path, radius, expected, pi, downsample, objective, autoencoder, model_name,
          units, epochs, steps_per_epoch, particle_radius, validation_fraction, normalize, max_micrographs, lr,
          pseudo_labels, freeze_epochs, mix_start, average_last, label_tiles, distill, distill_targets, no_augment,
          seed, device, pretrained, resume, output):
    """Train a picker from labeled positives and unlabeled micrographs."""
    import numpy as np
    import torch

    from fewlabel.atomic import check_not_input
    from fewlabel.io.picks import check_picks_in_bounds
    from fewlabel.pick import data
    from fewlabel.pick.sampling import estimate_pi
    from fewlabel.pick.train import (MIN_LABELS_FOR_VALIDATION, TrainConfig, default_downsample,
                                     default_validation_fraction, last_path, split_validation, train_picker)
    from fewlabel.report.figures import save_figure
    from fewlabel.report.pick import training_curve_figure
    from fewlabel.runtime import seed_everything

    check_not_input(output, [micrographs, picks_path])
    if radius <= 0:
        raise InputError(None, f"--radius must be positive, got {radius:g}")
    if pi is None and expected is None:
        raise InputError(None, "give --expected (particles per micrograph) or --pi")
    if expected is not None and expected <= 0:
        raise InputError(None, f"--expected must be positive, got {expected:g}")
    if downsample is not None and not downsample >= 1:
        raise InputError(None, f"--downsample must be at least 1, got {downsample:g}")
    device = _torch_setup(device)
    torch.manual_seed(seed)
    rng = seed_everything(seed)
    init_state, init = _initial_weights(pretrained, model_name, units)
    factor = downsample if downsample is not None else default_downsample(radius, particle_radius,
                                                                           init == "general_picker")

    paths = data.micrograph_paths(micrographs)
    names_all = [p.stem for p in paths]
    labeled = data.read_labeled(picks_path, names_all)
    lab_names = set(labeled["image_name"])
    chosen = [p for p in paths if p.stem in lab_names]
    rest = [p for p in paths if p.stem not in lab_names]
    n_rest = max(0, max_micrographs - len(chosen))
    if len(rest) > n_rest:
        rest = [rest[i] for i in sorted(rng.choice(len(rest), size=n_rest, replace=False))]
    chosen += rest
    click.echo(f"reading {len(chosen)} micrographs ({len(lab_names)} labeled, {len(labeled)} labeled picks), "
               f"downsampling by {factor:g}")
    names, images, shapes = [], [], {}
    for name, shape, image in data.iter_prepared(chosen, factor, normalize):
        names.append(name)
        images.append(image)
        shapes[name] = shape
    check_picks_in_bounds(labeled, shapes, picks_path)
    labeled_ds = data.to_downsampled(labeled, factor)
    if pi is None:
        shape_ds = tuple(int(v) for v in np.median([im.shape for im in images], axis=0))
        pi = estimate_pi(expected, radius / factor, shape_ds)
    click.echo(f"pi = {pi:.4g}" + (f" (from --expected {expected:g} and --radius {radius:g})" if expected else ""))
    config = TrainConfig(radius=radius, pi=pi, downsample=factor, normalize=normalize, model=model_name, units=units,
                         objective=objective, autoencoder=autoencoder, epochs=epochs,
                         steps_per_epoch=steps_per_epoch, lr=lr, pseudo_labels=pseudo_labels,
                         freeze_epochs=freeze_epochs, mix_start=mix_start, average_last=average_last,
                         label_tiles=label_tiles, distill=distill,
                         distill_targets=distill_targets, augment=not no_augment,
                         nms_radius=particle_radius, seed=seed,
                         init=init, extra={"expected": expected, "micrographs": str(micrographs), "picks": str(picks_path)})
    if validation_fraction is None:
        validation_fraction = default_validation_fraction(len(labeled_ds))
    validation = split_validation(names, labeled_ds, validation_fraction, np.random.default_rng(seed))
    if not validation:
        why = ("fewer than two labeled micrographs" if validation_fraction > 0 else
               f"{len(labeled_ds)} labeled particles (< {MIN_LABELS_FOR_VALIDATION}) are too few to choose an epoch")
        click.echo(f"{why}: no validation split, training on every label and keeping the last epoch")
    else:
        click.echo(f"validation micrographs: {', '.join(validation)}")
    if resume and not last_path(output).exists():
        raise InputError(last_path(output), "nothing to resume: no last checkpoint here")
    history = train_picker(images, names, labeled_ds, config, output, validation=validation, resume=resume,
                           device=device, log=click.echo, init_state=init_state,
                           run_info={"command": "fewlabel pick train", "device": device})
    curve = output.with_name(output.stem + ".training.png")
    save_figure(training_curve_figure(history, title=f"{model_name}, {objective}"), curve)
    click.echo(f"wrote {output} (best model), {last_path(output)} (resumable), {curve}")


def _initial_weights(pretrained: bool | None, model_name: str, units: int):
    """``(state_dict or None, init name)`` for ``pick train``, printing which initialisation is used."""
    from fewlabel.pick.pretrained import pretrained_state

    if pretrained is False:
        click.echo("initialisation: random (--no-pretrained)")
        return None, "scratch"
    found = pretrained_state(model_name, units)
    if found is None:
        if pretrained:
            raise InputError(None, f"no shipped general picker for --model {model_name} --units {units} "
                                   "(it is resnet8 with 16 units); use --no-pretrained")
        click.echo(f"initialisation: random (the general picker is resnet8/16, not {model_name}/{units})")
        return None, "scratch"
    click.echo(f"initialisation: general picker {found[1].name} (--no-pretrained to train from scratch)")
    return found[0], "general_picker"


@group.command("extract")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="Trained picker (.pt) [default: the shipped general picker, which needs --diameter].")
@click.option("--diameter", type=float, default=None,
              help="Particle diameter, original px: required without --model (sets downsampling and NMS radius).")
@click.option("--micrographs", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Picks file; format from the extension: .star, .tsv, .box, .csv.")
@click.option("--radius", type=float, default=None,
              help="Non-maximum suppression radius, original px [default: from the model].")
@click.option("--threshold", type=float, default=None,
              help="Keep picks with score >= T (a logit: 0 is probability 0.5) [default: keep all].")
@click.option("--score-maps", type=click.Path(path_type=Path), default=None,
              help="Folder for per-micrograph score maps (downsampled frame, float32 MRC; PNG views of the first 3).")
@click.option("--batch-size", type=int, default=None,
              help="Micrographs per forward pass [default: 1 on CPU (no gain from more), 4 on GPU].")
@click.option("--box-size", type=int, default=None, help="Box size for .box output [default: 2 x radius].")
@click.option("--tta/--no-tta", default=True, show_default=True,
              help="Average each score map over the micrograph's 8 rotations/mirrors (8x the scoring time; "
                   "higher AUPRC, see the README).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@scale_options
def extract(model_path, diameter, micrographs, output, radius, threshold, score_maps, batch_size, box_size, tta,
            device, scale):
    """Score every micrograph and write every pick with its score.

    With --workers, --scheduler, --slurm or --shard the micrographs are scored as Dask tasks, one per
    micrograph, each written as it finishes (a rerun resumes) and merged at the end (docs/scale.md).
    """
    import pandas as pd
    from tqdm import tqdm

    from fewlabel.atomic import check_not_input
    from fewlabel.io.picks import empty_picks, write_picks
    from fewlabel.pick import data
    from fewlabel.pick.extract import iter_extract
    from fewlabel.pick.train import load_picker

    check_not_input(output, [micrographs] + ([model_path] if model_path else []))
    device_option = device
    device = _torch_setup(device)
    if model_path is None:
        from fewlabel.pick.pretrained import config_for_diameter, load_general

        if diameter is None:
            raise InputError(None, "without --model the general picker needs --diameter (particle diameter, px)")
        model, config = load_general(device=device)
        config = config_for_diameter(config, diameter)
        click.echo(f"zero labels: general picker for particles of diameter {diameter:g} px")
    else:
        model, config = load_picker(model_path, device)
    paths = data.micrograph_paths(micrographs)
    factor = float(config["downsample"])
    default_nms = diameter / 2 if diameter else float(config.get("nms_radius_used") or 2 * config["radius"])
    nms_radius = radius if radius is not None else default_nms
    if nms_radius <= 0:
        raise InputError(None, f"--radius must be positive, got {nms_radius:g}")
    click.echo(f"extracting from {len(paths)} micrographs: {config['model_config']['name']} at /{factor:g}, "
               f"NMS radius {nms_radius:g} px" + (", scores averaged over 8 rotations/mirrors" if tta else ""))
    if not scale.in_process or scale.shard is not None:
        from fewlabel.scale.commands import pick_extract

        if model_path is None:  # workers load a file: the general picker set up for this diameter
            from fewlabel.checkpoint import save_checkpoint

            model_path = output.with_name(output.stem + ".general_picker.pt")
            save_checkpoint(model_path, "pick", config, model.state_dict())

        # device as given (e.g. "auto"): each worker resolves it, so a CPU login node can drive GPU workers
        pick_extract(paths, model_path, output, scale, device=device_option, radius=nms_radius,
                     threshold=threshold, score_maps=score_maps,
                     box_size=box_size or int(round(2 * nms_radius)), tta=tta, log=click.echo)
        return
    tables, failures = [], []
    if batch_size is None:
        batch_size = 1 if device == "cpu" else 4
    for df in tqdm(iter_extract(model, config, paths, nms_radius, threshold, batch_size, device, score_maps,
                                views=3, failures=failures, tta=tta),
                  total=len(paths), desc="extracting", unit="mic"):
        tables.append(df)
    for name, problem in failures:  # reported, the others go on (as with --workers)
        click.echo(f"failed: {name}: {problem}", err=True)
    if failures and not tables:
        raise InputError(micrographs, f"all {len(paths)} micrographs failed to read (listed above)")
    picks = pd.concat(tables, ignore_index=True) if tables else empty_picks(score=True)
    write_picks(picks, output, box_size=box_size or int(round(2 * nms_radius)))
    click.echo(f"wrote {len(picks)} picks from {len(tables)} micrographs to {output}")
    if failures:
        raise InputError(micrographs, f"{len(failures)} of {len(paths)} micrographs failed (listed above); "
                                      f"the picks of the other {len(tables)} are in {output}")


@group.command("evaluate")
@click.option("--picks", "picks_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--truth", "truth_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--radius", type=float, default=None,
              help="Matching radius, original px [default: half the median nearest-neighbour distance of the truth].")
@click.option("--plot", type=click.Path(path_type=Path), default=None, help="PR-curve PNG.")
@click.option("--overlay", type=click.Path(path_type=Path), default=None,
              help="Folder for micrographs with true and predicted picks circled (needs --micrographs).")
@click.option("--micrographs", type=click.Path(exists=True, path_type=Path), default=None,
              help="Micrographs for --overlay.")
@click.option("--overlay-max", type=int, default=6, show_default=True, help="Overlay at most this many micrographs.")
def evaluate(picks_path, truth_path, radius, plot, overlay, micrographs, overlay_max):
    """Precision, recall and AUPRC of picks against true particles (last line: auprc=...)."""
    from fewlabel.io.picks import read_picks
    from fewlabel.pick import metrics

    picks = read_picks(picks_path)
    truth = read_picks(truth_path)
    if len(truth) == 0:
        raise InputError(truth_path, "no true particles in this file")
    if overlay is not None and micrographs is None:
        raise InputError(None, "--overlay needs --micrographs")
    known = set(truth["image_name"])
    outside = ~picks["image_name"].isin(known)
    if outside.any():
        click.echo(f"ignoring {int(outside.sum())} picks on {picks.loc[outside, 'image_name'].nunique()} "
                   "micrographs that have no true particles listed")
        picks = picks[~outside]
    if radius is None:
        try:
            radius = metrics.default_match_radius(truth)
        except ValueError as exc:
            raise InputError(truth_path, f"{exc}; pass --radius") from None
        click.echo(f"matching radius {radius:.1f} px (half the median nearest-neighbour distance; set --radius)")
    if "score" not in picks.columns:
        click.echo("picks carry no scores: one precision/recall point, AUPRC = precision x recall")
    curve = metrics.evaluate_picks(picks, truth, radius)
    best = curve.best_f1()
    if plot is not None:
        from fewlabel.report.figures import save_figure
        from fewlabel.report.pick import pr_curve_figure

        save_figure(pr_curve_figure({picks_path.stem: curve}), plot)
        click.echo(f"wrote {plot}")
    if overlay is not None:
        _overlays(overlay, micrographs, picks, truth, radius, best["threshold"], overlay_max)
    click.echo(f"auprc={curve.auprc:.4f} precision={best['precision']:.4f} recall={best['recall']:.4f} "
               f"f1={best['f1']:.4f} threshold={best['threshold']:.4g} n_picks={curve.n_picks} "
               f"n_true={curve.n_true} radius={radius:g}")


def _overlays(folder: Path, micrographs: Path, picks, truth, radius: float, threshold: float, limit: int) -> None:
    """Micrographs with truth and picks at the best-F1 threshold circled (report.micrograph)."""
    from fewlabel.io.micrographs import read_micrograph
    from fewlabel.pick import data
    from fewlabel.report.figures import save_figure
    from fewlabel.report.micrograph import plot_micrograph_picks

    shown = picks[picks["score"] >= threshold] if "score" in picks.columns else picks
    names = set(truth["image_name"])
    paths = [p for p in data.micrograph_paths(micrographs) if p.stem in names][:limit]
    for p in paths:
        mic = read_micrograph(p)
        fig = plot_micrograph_picks(mic.image, {"truth": truth, "picks (best F1)": shown}, radius=radius,
                                    image_name=mic.name, title=mic.name)
        save_figure(fig, folder / f"{mic.name}.png")
    click.echo(f"wrote {len(paths)} overlays to {folder}")
