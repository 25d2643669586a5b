"""Semi-supervised classification of 3D structures: voxelize, fit, predict, experiment.

\b
Examples:
  fewlabel voxel voxelize locs.csv -o grids.npz --size 30 --voxel-size 10
  fewlabel voxel voxelize toilet_0345.off -o toilet.npz --padding 0
  fewlabel voxel fit --grids train.npz --method pca --unlabeled unlabeled.npz -o model_pca
  fewlabel voxel fit --grids geo.npz --method pca --pose scale --rotations 4 --symmetry all -o model_geo
  fewlabel voxel fit --grids train.npz --method cnn --unlabeled unlabeled.npz -o model_cnn --epochs 30
  fewlabel voxel fit --grids mn_train.npz --method cnn --symmetry mirror --class-balance 1 \
      --unlabeled mn_unlabeled.npz --semi self-training --threshold 0.7 --val-fraction 0 --epochs 36 \
      --batch-size 64 --lr 2e-3 -o model_mn
  fewlabel voxel fit --grids mn_train.npz --method cnn --symmetry up --up-views 12 --class-balance 1 \
      --epochs 24 --batch-size 64 --lr 2e-3 -o model_mn_up
  fewlabel voxel fit --grids mn_train.npz --method ensemble --ensemble-with kmeans --symmetry mirror \
      --class-balance 1 --val-fraction 0 --epochs 36 --batch-size 64 --lr 2e-3 -o model_mn_ens
  fewlabel voxel predict --model model_pca --grids test.npz -o pred.csv
  fewlabel voxel predict --model model_mn_up --grids mn_test.npz --tta on -o pred_mn.csv
  fewlabel voxel experiment --dataset geometries --labeled 60 --unlabeled 300 -o exp_geometries

Model folders hold torch weights as fewlabel checkpoints and scikit-learn parts (PCA, k-means,
SVM) as joblib pickles; loading a pickle can run code, so only use model folders you trust.
"""

from __future__ import annotations

from pathlib import Path

import click

METHOD_CHOICES = ["pca", "fae", "cae", "kmeans", "cnn", "ensemble"]


@click.group(name="voxel", help=__doc__)
def group() -> None:
    pass


@group.command("voxelize")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Grid set .npz (X, names[, y]).")
@click.option("--size", default=30, show_default=True, help="Grid edge n (n^3 voxels).")
@click.option("--voxel-size", type=float, default=None,
              help="Fixed voxel edge in input units (e.g. nm); default: scale each cloud to fit.")
@click.option("--centre", type=click.Choice(["bbox", "centroid", "none"]), default="bbox", show_default=True)
@click.option("--padding", default=3, show_default=True, help="Empty voxels left on each side when fitting.")
@click.option("--extent", type=click.Choice(["bbox", "robust"]), default="bbox", show_default=True,
              help="robust: fit the 1-99th percentile extent (ignores stray background).")
@click.option("--mode", type=click.Choice(["binary", "count"]), default="binary", show_default=True)
@click.option("--pose", type=click.Choice(["none", "centre", "scale", "align"]), default="none", show_default=True,
              help="Resample each grid into a canonical pose: centre of mass to the centre, + radius of gyration "
                   "to a quarter of the grid, + principal axes along x, y, z.")
@click.option("--fill/--no-fill", default=True, show_default=True, help="Fill closed meshes (.off) solid.")
@click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="csv/tsv with columns name,label (integer classes) to store as y.")
def voxelize_cmd(inputs, output, size, voxel_size, centre, padding, extent, mode, pose, fill, labels_path) -> None:
    """Point clouds (csv/tsv/ThunderSTORM, Picasso hdf5, npz) and meshes (.off, .binvox) -> n^3 grids."""
    import numpy as np

    from fewlabel.atomic import check_not_input
    from fewlabel.errors import InputError
    from fewlabel.io.pointclouds import read_binvox, read_off, read_pointclouds
    from fewlabel.voxel.grids import check_labels, save_grids
    from fewlabel.voxel.voxelize import voxelize_mesh, voxelize_points

    check_not_input(output, inputs)
    names, grids = [], []
    for path in inputs:
        suffix = path.suffix.lower()
        try:
            if suffix == ".off":
                v, f = read_off(path)
                grids.append(voxelize_mesh(v, f, size, padding=padding, fill=fill))
                names.append(path.stem)
            elif suffix == ".binvox":
                g, _, _ = read_binvox(path)
                if g.shape != (size,) * 3:
                    raise InputError(path, f"binvox grid is {g.shape}, expected {size}^3 (use --size)")
                grids.append(g.astype(np.uint8))
                names.append(path.stem)
            else:
                for name, pts in read_pointclouds(path).items():
                    grids.append(voxelize_points(pts, size, voxel_size=voxel_size, centre=centre,
                                                 padding=padding, extent=extent, mode=mode))
                    names.append(name)
        except InputError as exc:
            raise InputError(path, exc.problem) if exc.path is None else exc
    if pose != "none":
        from fewlabel.voxel.pose import normalize_pose

        grids = [normalize_pose(g, pose) for g in grids]
    click.echo(f"voxelized {len(grids)} structure(s) from {len(inputs)} file(s) into {size}^3 grids"
               + ("" if pose == "none" else f" (pose: {pose})"))
    y = None
    if labels_path is not None:
        import pandas as pd

        table = pd.read_csv(labels_path, sep=None, engine="python")
        if not {"name", "label"} <= set(table.columns):
            raise InputError(labels_path, "labels table needs columns name,label")
        lookup = dict(zip(table["name"].astype(str), table["label"]))
        missing = [n for n in names if n not in lookup]
        if missing:
            raise InputError(labels_path, f"no label for {len(missing)} structure(s), e.g. {missing[0]}")
        y = check_labels(np.asarray([lookup[n] for n in names]), len(names), labels_path, min_classes=1)
    save_grids(output, np.stack(grids), y, names=np.asarray(names))
    click.echo(f"wrote {output}")


@group.command("fit")
@click.option("--grids", "grids_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Labeled grid set .npz with X and y.")
@click.option("--method", type=click.Choice(METHOD_CHOICES), default="pca", show_default=True)
@click.option("--unlabeled", "unlabeled_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Unlabeled grid set .npz (X) used to fit the featurizer / pseudo-labels.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Model folder.")
@click.option("--latent", default=64, show_default=True, help="Feature size (pca/fae/cae/kmeans).")
@click.option("--epochs", type=int, default=None, help="Training epochs (fae/cae: 20, cnn: 30).")
@click.option("--batch-size", type=int, default=None)
@click.option("--symmetry", type=click.Choice(["z", "up", "all", "mirror"]), default="z", show_default=True,
              help="Rotations that do not change the class. cnn augmentation: z = 90-degree turns about z "
                   "+ flips (keeps the up/optical axis), up = --up-views rotations about the up (z, last) axis "
                   "+ a mirror (upright data such as ModelNet10), all = every 90-degree rotation/flip of the "
                   "cube, mirror = x/y mirror flips only; the cnn averages its predictions over the same views. "
                   "--rotations: random angles about z (z, up), or any 3D rotation (all).")
@click.option("--up-views", default=12, show_default=True,
              help="cnn with --symmetry up: equally spaced rotations about the up axis (12 = every 30 degrees).")
@click.option("--tta", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="cnn test-time averaging over the symmetry views; auto = on unless the validation split "
                   "scores a single view higher.")
@click.option("--pose", type=click.Choice(["auto", "none", "centre", "scale", "align"]), default="auto",
              show_default=True,
              help="Canonical pose before featurizing: centre of mass to the centre, + scale by the radius of "
                   "gyration, + principal axes. auto = scale (featurizers), none (cnn). Use centre when "
                   "absolute size is a feature (fixed voxel size).")
@click.option("--rotations", default=0, show_default=True,
              help="Featurizers: add this many randomly rotated copies (see --symmetry) of every training grid.")
@click.option("--semi", type=click.Choice(["fixmatch", "self-training"]), default="fixmatch", show_default=True,
              help="cnn use of --unlabeled: FixMatch pseudo-labels every step, or self-training (a teacher on the "
                   "labeled grids labels the confident unlabeled ones, a fresh student learns from both).")
@click.option("--threshold", type=float, default=None,
              help="cnn pseudo-label confidence (default 0.9; 0.7 used for self-training on ModelNet10).")
@click.option("--class-balance", type=float, default=0.0, show_default=True,
              help="cnn: draw rare classes more often (weight count^-x; 1 = all classes equally often).")
@click.option("--lr", type=float, default=None, help="cnn learning rate (default 1e-3).")
@click.option("--val-fraction", type=float, default=None,
              help="cnn: labeled grids held out to pick the best epoch and stop early (default 0.1); 0 = train on "
                   "every label and keep the last epoch (better on ModelNet10 with all labels).")
@click.option("--ensemble-with", type=click.Choice(["pca", "fae", "cae", "kmeans"]), default="kmeans",
              show_default=True, help="ensemble: the featurizer + SVM whose probabilities are averaged with the cnn's.")
@click.option("--cnn-weight", type=float, default=0.5, show_default=True,
              help="ensemble: weight of the cnn's probabilities (the SVM's get 1 - this).")
@click.option("--ensemble-teacher/--no-ensemble-teacher", default=False, show_default=True,
              help="ensemble with --semi self-training: mix the SVM's probabilities of the unlabeled grids into the "
                   "cnn teacher's pseudo-labels (same weights as the ensemble).")
@click.option("--rounds", default=1, show_default=True,
              help="cnn self-training rounds (each student pseudo-labels again for the next).")
@click.option("--student-strong", is_flag=True,
              help="cnn self-training: train the student on strongly augmented grids (noisy student).")
@click.option("--teacher-epochs", type=int, default=None,
              help="cnn self-training: epochs of the teacher (default: --epochs); ModelNet10 with 10% labels: "
                   "student 48, teacher 36.")
@click.option("--pseudo-select", type=click.Choice(["threshold", "class"]), default="threshold", show_default=True,
              help="cnn self-training: pseudo-label every grid over --threshold, or as many grids shared out by the "
                   "labeled class frequencies (the most confident of each class; rare classes not crowded out).")
@click.option("--members", default=1, show_default=True, type=click.IntRange(min=1),
              help="cnn: train this many networks (seeds --seed, --seed + 1, ...; in self-training the students of "
                   "one teacher) and average their probabilities; fit and predict cost this many times as much.")
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto|cpu|cuda")
@click.option("--resume", is_flag=True, help="Continue the torch training from the checkpoint in the model folder.")
def fit_cmd(grids_path, method, unlabeled_path, output, latent, epochs, batch_size, symmetry, up_views, tta, pose,
            rotations, semi, threshold, class_balance, lr, val_fraction, ensemble_with, cnn_weight, ensemble_teacher,
            rounds, student_strong, teacher_epochs, pseudo_select, members, seed, device, resume) -> None:
    """Fit a method on labeled (+ unlabeled) grids and save the model folder."""
    import numpy as np

    from fewlabel.atomic import check_not_input
    from fewlabel.runtime import resolve_device, save_run_config, seed_everything
    from fewlabel.voxel.classify import VoxelClassifier
    from fewlabel.voxel.grids import check_labels, load_grids

    check_not_input(output, [grids_path] + ([unlabeled_path] if unlabeled_path else []))
    dev = resolve_device(device)
    seed_everything(seed)
    lab = load_grids(grids_path, require_labels=True)
    check_labels(lab["y"], len(lab["X"]), grids_path)
    Xu = None
    if unlabeled_path is not None:
        Xu = load_grids(unlabeled_path)["X"]
        if Xu.shape[1:] != lab["X"].shape[1:]:
            from fewlabel.errors import InputError

            raise InputError(unlabeled_path, f"grids are {Xu.shape[1]}^3 but the labeled grids are "
                                             f"{lab['X'].shape[1]}^3")
    options = {k: v for k, v in {"epochs": epochs, "batch_size": batch_size}.items() if v is not None}
    if method == "pca":
        options.pop("epochs", None)
    if method in ("cnn", "ensemble"):
        options.update(axes=symmetry, semi=semi, class_balance=class_balance, up_views=up_views,
                       tta={"on": True, "off": False}.get(tta, tta), rounds=rounds, student_strong=student_strong,
                       pseudo_select=pseudo_select, members=members)
        options.update({k: v for k, v in {"threshold": threshold, "lr": lr, "val_fraction": val_fraction,
                                          "teacher_epochs": teacher_epochs}.items() if v is not None})
    if method == "ensemble":
        options.update(ensemble_with=ensemble_with, cnn_weight=cnn_weight, ensemble_teacher=ensemble_teacher)
    if method != "cnn":
        if symmetry == "mirror" and rotations:
            from fewlabel.errors import InputError

            raise InputError(None, "--symmetry mirror is a cnn augmentation; --rotations needs z or all")
        options.update(rotations=rotations, symmetry="all" if symmetry == "all" else "z")
    options["pose"] = pose
    click.echo(f"fitting {method} on {len(lab['X'])} labeled + {0 if Xu is None else len(Xu)} unlabeled "
               f"{lab['X'].shape[1]}^3 grids (device {dev})")
    model = VoxelClassifier(method, n_components=latent, seed=seed, device=dev, work_dir=output, resume=resume,
                            **options)
    model.fit(lab["X"], lab["y"], Xu)
    model.save(output)
    train_acc = float(np.mean(model.predict(lab["X"]) == lab["y"]))
    if method in ("cnn", "ensemble"):
        options["tta_chosen"] = model.cnn_network.tta_
    save_run_config(output / "run.json", "voxel fit",
                    {"grids": str(grids_path), "unlabeled": str(unlabeled_path), "method": method,
                     "latent": latent, "seed": seed, "device": dev, **options,
                     "svm_best_params": model.best_params_, "train_accuracy": train_acc})
    click.echo(f"training accuracy {100 * train_acc:.1f}%; wrote {output}")


@group.command("predict")
@click.option("--model", "model_path", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Model folder from `fewlabel voxel fit` (trusted: contains pickles).")
@click.option("--grids", "grids_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Predictions csv with columns index,label.")
@click.option("--tta", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="cnn models: average over the symmetry views (on), one view (off), or the model's "
                   "choice at fit time (auto).")
def predict_cmd(model_path, grids_path, output, tta) -> None:
    """Predict the class of every grid; prints the accuracy when the grid set has labels."""
    import numpy as np
    import pandas as pd

    from fewlabel.atomic import atomic_path, check_not_input
    from fewlabel.errors import InputError
    from fewlabel.voxel.classify import VoxelClassifier
    from fewlabel.voxel.grids import load_grids

    check_not_input(output, [grids_path, model_path])
    model = VoxelClassifier.load(model_path)
    data = load_grids(grids_path)
    if data["X"].shape[1] != model.grid_size_:
        raise InputError(grids_path, f"grids are {data['X'].shape[1]}^3 but the model was fit on "
                                     f"{model.grid_size_}^3 grids")
    if tta != "auto":
        if model.method not in ("cnn", "ensemble"):
            raise InputError(model_path, f"--tta applies to cnn and ensemble models, this one is {model.method}")
        model.cnn_network.tta_ = tta == "on"
    pred = model.predict(data["X"])
    with atomic_path(output) as tmp:
        pd.DataFrame({"index": np.arange(len(pred)), "label": pred}).to_csv(tmp, index=False)
    msg = f"predicted {len(pred)} grids with {model.method}; wrote {output}"
    if data["y"] is not None:
        msg += f" (accuracy {100 * np.mean(pred == data['y']):.2f}%)"
    click.echo(msg)


@group.command("experiment")
@click.option("--dataset", "datasets", multiple=True, type=click.Choice(["geometries", "clathrin", "modelnet10"]),
              default=["geometries"], show_default=True, help="Repeat for several data sets.")
@click.option("--method", "methods", multiple=True, type=click.Choice(METHOD_CHOICES),
              default=METHOD_CHOICES, show_default=True, help="Repeat for several methods (default: all).")
@click.option("--labeled", default=100, show_default=True,
              help="Labeled training grids (modelnet10: 0 = the whole training split).")
@click.option("--unlabeled", default=300, show_default=True,
              help="Unlabeled grids (modelnet10: -1 = the rest of the training split).")
@click.option("--test", "n_test", default=300, show_default=True, help="Test grids (simulated data sets).")
@click.option("--curve-points", default=3, show_default=True,
              help="Unlabeled counts for the accuracy curve (0 .. --unlabeled); 1 = only the full count.")
@click.option("--seeds", default=1, show_default=True, help="Repeat with seeds 0..N-1.")
@click.option("--size", default=30, show_default=True, help="Grid edge for simulated data sets.")
@click.option("--latent", default=64, show_default=True)
@click.option("--epochs", type=int, default=None, help="Epochs for fae/cae/cnn (defaults: 20/20/30).")
@click.option("--modelnet", "modelnet_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="modelnet10_voxels30.npz (default: ../shared/data/modelnet10).")
@click.option("--device", default="auto", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path))
def experiment_cmd(datasets, methods, labeled, unlabeled, n_test, curve_points, seeds, size, latent, epochs,
                   modelnet_path, device, output) -> None:
    """Accuracy of every method on every data set; table (Markdown, csv) and PNG curve/confusion plots."""
    import pandas as pd

    from fewlabel.atomic import atomic_path, write_text_atomic
    from fewlabel.report.figures import save_figure
    from fewlabel.report.voxel import accuracy_curve_figure, confusion_matrix_figure, grid_views_figure
    from fewlabel.runtime import resolve_device, save_run_config
    from fewlabel.voxel.experiment import load_dataset, markdown_table, run_one, summarize, unlabeled_steps

    dev = resolve_device(device)
    output.mkdir(parents=True, exist_ok=True)
    rows = []
    options = {} if epochs is None else {"epochs": epochs}
    for ds in datasets:
        for seed in range(seeds):
            click.echo(f"[{ds}] seed {seed}: building {labeled} labeled / {unlabeled} unlabeled split")
            split = load_dataset(ds, labeled, unlabeled, seed=seed, n_test=n_test, n=size, modelnet_path=modelnet_path)
            if seed == 0:
                save_figure(grid_views_figure(split.X_labeled, split.y_labeled, split.classes),
                            output / f"{ds}_examples.png")
            counts = unlabeled_steps(len(split.X_unlabeled), curve_points) if curve_points > 1 \
                else [len(split.X_unlabeled)]
            for method in methods:
                for nu in counts:
                    opts = options if method in ("fae", "cae", "cnn") else {}
                    r = run_one(split, method, seed=seed, n_unlabeled=nu, n_components=latent, device=dev,
                                options=opts)
                    click.echo(f"  {method:6s} unlabeled={nu:5d} accuracy={100 * r['accuracy']:.2f}% "
                               f"({r['fit_s']:.1f} s)")
                    if seed == 0 and nu == counts[-1]:
                        save_figure(confusion_matrix_figure(split.y_test, r["y_pred"], split.classes,
                                                            f"{ds} {method}: {100 * r['accuracy']:.1f}%"),
                                    output / f"{ds}_{method}_confusion.png")
                    rows.append({"dataset": ds, **{k: v for k, v in r.items() if k not in ("y_pred", "params")}})
    results = pd.DataFrame(rows)
    with atomic_path(output / "results.csv") as tmp:
        results.to_csv(tmp, index=False)
    full = results.groupby("dataset")["n_unlabeled"].transform("max") == results["n_unlabeled"]
    table = markdown_table(summarize(results[full]))
    write_text_atomic(output / "accuracy.md", "# Voxel classification accuracy\n\n" + table)
    save_figure(accuracy_curve_figure(results), output / "accuracy_vs_unlabeled.png")
    save_run_config(output / "run.json", "voxel experiment",
                    {"datasets": list(datasets), "methods": list(methods), "labeled": labeled,
                     "unlabeled": unlabeled, "test": n_test, "seeds": seeds, "latent": latent, "epochs": epochs,
                     "device": dev})
    click.echo(table)
    click.echo(f"wrote {output}/accuracy.md, accuracy_vs_unlabeled.png, results.csv")
