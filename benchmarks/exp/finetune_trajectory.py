"""Experiment: test AUPRC after every fine-tuning epoch (10 labels, from the general picker), one orientation.

The test micrographs are passed to ``train_picker`` as validation micrographs with their complete truth, so each
epoch's ``val_auprc`` is the test AUPRC of the model that would be saved. Caveat (as run in session 7): the
complete test truth counts towards the labeled total, which lifts it above ``PSEUDO_LABELS_BELOW``, so these
trajectories are fine-tunes WITHOUT pseudo-labels and weight mixing (10 training labels, lr 5e-4, 10 x 100).

    python benchmarks/exp/finetune_trajectory.py                           # batch norm as trained
    python benchmarks/exp/finetune_trajectory.py --keep-bn-stats --lr-decay cosine

Prints one line: the settings and the AUPRC at epochs 0 (the general picker) to 10.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_pick_objectives import labeled_subset, prepared, real_dataset  # noqa: E402
from bench_pick_pretrained import unseen_dataset  # noqa: E402


def main(argv=None) -> None:
    from fewlabel.pick import data
    from fewlabel.pick import train as T
    from fewlabel.pick.pretrained import pretrained_state
    from fewlabel.pick.sampling import estimate_pi

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["unseen", "real"], default="unseen")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--labels", type=int, default=10)
    ap.add_argument("--lr-decay", default="constant")
    ap.add_argument("--keep-bn-stats", action="store_true")
    ap.add_argument("--work", default=str(Path(__file__).resolve().parents[1] / "work"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    ds = unseen_dataset(Path(args.work), 10, 5, 1024, [10, 100]) if args.dataset == "unseen" else real_dataset()
    if ds is None:
        raise SystemExit("EMPIAR-10017 not found (../shared/data)")
    pr = ds["particle_radius"]
    factor = T.default_downsample(pr / 2, pr, general_picker=True)
    names, images, _ = prepared(ds["train_paths"], factor)
    test_names, test_images, _ = prepared(ds["test_paths"], factor)
    test_names = ["t_" + n for n in test_names]  # train and test micrographs of the simulated set share names
    truth = data.to_downsampled(ds["truth"], factor)
    truth["image_name"] = "t_" + truth["image_name"].astype(str)
    labeled = data.to_downsampled(labeled_subset(ds["truth_train"], args.labels, args.seed), factor)
    cfg = T.TrainConfig(radius=pr / 2, pi=estimate_pi(ds["expected"], pr / 2 / factor, images[0].shape),
                        downsample=factor, nms_radius=pr, seed=args.seed, init="general_picker",
                        lr_decay=args.lr_decay, keep_bn_stats=args.keep_bn_stats)
    with tempfile.TemporaryDirectory() as tmp:
        history = T.train_picker(images + test_images, names + test_names, pd.concat([labeled, truth]), cfg,
                                 Path(tmp) / "m.pt", validation=test_names, progress=False, log=lambda m: None,
                                 init_state=pretrained_state("resnet8", 16)[0])
    print(f"{args.dataset} seed {args.seed} lr_decay={args.lr_decay} keep_bn_stats={args.keep_bn_stats}:",
          " ".join(f"{h['val_auprc']:.3f}" for h in history))


if __name__ == "__main__":
    main()
