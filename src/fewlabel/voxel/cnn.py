"""End-to-end semi-supervised 3D CNN for voxel grids (beyond the featurize + SVM reference).

A small VoxNet-style network (``arch``: ``strided``, default, or the original ``voxnet``) is
trained on the labeled grids with random symmetry augmentation (an element of the data set's
symmetry group ``axes``: 90-degree rotations/flips, or for upright data such as ModelNet10 ``up``:
one of ``up_views`` rotations about the up axis and a mirror flip, as in VoxNet; plus a shift of
up to ``shift`` voxels), label smoothing, AdamW and a
cosine learning rate; ``class_balance`` > 0 draws rare classes more often (per-grid weight
count^-class_balance; 1 = every class equally often), for training sets far more skewed than
the data to classify. Unlabeled grids are used in one of two ways (``semi``):

- ``fixmatch``: the prediction for a weakly augmented grid, when confident (max probability >=
  ``threshold``), becomes the target for a strongly augmented copy (another rotation, a larger
  shift, 10% voxel dropout), in every step;
- ``self-training``: a teacher trained on the labeled grids labels the unlabeled ones (averaged
  over the test-time views); those with confidence >= ``threshold`` join the labeled grids to
  train a fresh student. Two plain supervised runs: cheaper per step than FixMatch on a CPU.
  ``teacher_epochs`` (default ``epochs``) trains the teacher longer or shorter than the student
  (a teacher on few labels runs ``min_steps_per_epoch`` steps per epoch, cheap next to the student);
  ``rounds`` > 1 repeats it (the student becomes the next teacher); ``student_strong`` trains the
  student on strongly augmented grids (noisy student: larger shift, 10% voxel dropout); a
  ``prior`` (class probabilities of the unlabeled grids from another model, e.g. the ensemble's
  k-means + SVM, passed to ``fit``) is mixed into the teacher's as ``prior_weight`` * prior +
  (1 - prior_weight) * teacher before thresholding. ``pseudo_select`` picks the pseudo-labeled grids:
  ``threshold`` (every grid with confidence >= ``threshold``) or ``class`` (as many grids in all, but
  shared out in proportion to the labeled class frequencies, the most confident of each predicted class:
  easy, frequent classes no longer crowd out the rare and confusable ones; see :func:`select_pseudo_labels`).
  ``teacher_cache`` (a file path) saves the trained teacher there, or loads it instead of training when
  the file holds a teacher of the same labeled grids and teacher settings (fingerprint checked): student
  settings can then be compared without training the same teacher again.

``ema`` (e.g. 0.999, off by default) predicts with an exponential moving average of the weights (Polyak
averaging, bias-corrected: :class:`~fewlabel.voxel.nets.WeightEMA`, one update per optimizer step) instead of
the last (or best) live weights: validation, the kept epoch, predictions and the saved model all use the
average, whose batch-norm statistics are recomputed in one pass over the run's training grids (the live
network's belong to other weights). In self-training only the student is averaged, so a cached teacher
stays valid (``ema`` is not part of its fingerprint); FixMatch's pseudo-labels still come from the live network.

Student options of self-training (all off by default; none is part of the teacher's fingerprint, so a cached
teacher stays valid): ``student_width`` builds the student with that width instead of ``width`` (a student larger
than its teacher, as in noisy-student training); ``mixup`` (a Beta(alpha, alpha) parameter, e.g. 0.4) mixes each
student batch (labeled and pseudo-labeled grids alike) with a shuffled copy of itself, grids and (smoothed) targets
alike, with lam = max(lam, 1 - lam) so the original grid dominates, as in MixMatch
(:func:`~fewlabel.voxel.nets.mix_batch`);
``soft_pseudo`` (a temperature, e.g. 0.5) gives EVERY unlabeled grid to the student, with the teacher's probabilities
sharpened by that temperature as its target (:func:`~fewlabel.voxel.nets.sharpen`) and the teacher's confidence (top
probability) as its loss weight, instead of confident grids with hard labels (``threshold`` and ``pseudo_select`` are
then unused; the class-balanced draw counts a grid in its most probable class); with ``soft_keep="select"`` the soft
targets go only to the grids that ``threshold`` and ``pseudo_select`` pick (distillation on the confident grids).

``members`` > 1 trains that many networks the same way with seeds ``seed``, ``seed + 1``, ... and predicts with
the mean of their probabilities (a deep ensemble, :class:`~fewlabel.voxel.nets.ProbabilityAverage`); member 0 is
the network a single-member fit trains. In self-training the members are the students of one teacher (so a cached
teacher stays valid), in the last round only. Fit and prediction cost ``members`` times as much.
``teacher_members`` does the same for the self-training teacher: its pseudo-labels come from the mean probabilities
of that many teachers (seeds ``seed``, ``seed + 1``, ...).

``init="autoencoder"`` (strided network only) first trains the convolutional trunk as an autoencoder
(a small transposed-conv decoder, occupancy BCE) on the labeled + unlabeled grids for ``init_epochs``
epochs, with the training augmentation, and starts every network of the fit (teacher, student) from it.

CPU-efficient training: a stratified ``val_fraction`` of the labeled grids is held out, the
validation accuracy is measured after every epoch, the best weights are kept and training stops
after ``patience`` epochs without improvement (so ``epochs`` is an upper bound). At prediction
time the class probabilities are averaged over the symmetry group (test-time augmentation,
``tta``: ``True``, ``False`` or ``"auto"``: on unless the validation split scores the single view
higher; ``axes="up"`` averages over ``up_views`` rotations times 2 mirrors).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from fewlabel.errors import InputError
from fewlabel.voxel.grids import check_grids, check_labels


def validation_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, validation) indices; no validation when a class has fewer than 2 grids."""
    counts = np.bincount(np.unique(y, return_inverse=True)[1])
    n_val = int(round(fraction * len(y)))
    if fraction <= 0 or counts.min() < 2 or n_val < len(counts):
        return np.arange(len(y)), np.arange(0)
    from sklearn.model_selection import train_test_split

    tr, va = train_test_split(np.arange(len(y)), test_size=n_val, stratify=y, random_state=seed)
    return np.sort(tr), np.sort(va)


def labeled_order(y: np.ndarray, m: int, class_balance: float, rng: np.random.Generator) -> np.ndarray:
    """``m`` labeled-grid indices for one epoch: shuffled passes, or weighted draws (count^-class_balance)."""
    if class_balance > 0:  # rare classes more often; 1 = every class equally often
        w = np.bincount(y).astype(float)[y] ** -float(class_balance)
        return rng.choice(len(y), size=m, p=w / w.sum())
    return np.concatenate([rng.permutation(len(y)) for _ in range(math.ceil(m / len(y)))])[:m]


PSEUDO_SELECT = ("threshold", "class")


def select_pseudo_labels(probs: np.ndarray, threshold: float, mode: str = "threshold",
                         class_freq: np.ndarray | None = None) -> np.ndarray:
    """Indices of the unlabeled grids to pseudo-label, from their (n, classes) probabilities.

    ``threshold``: every grid whose top probability is >= ``threshold``. ``class``: the same number
    K of grids, but class c (by argmax) gets round(K * class_freq[c]) of them, its most confident
    ones (fewer when fewer grids are predicted as c), so the pseudo-labels follow the labeled class
    frequencies instead of piling up in the classes the teacher is surest of."""
    if mode not in PSEUDO_SELECT:
        raise InputError(None, f"unknown pseudo-label selection {mode!r} (use {', '.join(PSEUDO_SELECT)})")
    conf, pred = probs.max(1), probs.argmax(1)
    keep = np.flatnonzero(conf >= threshold)
    if mode == "threshold" or not len(keep):
        return keep
    freq = np.asarray(class_freq, dtype=np.float64)
    if freq.shape != (probs.shape[1],) or freq.sum() <= 0:
        raise InputError(None, f"class_freq must be {probs.shape[1]} non-negative frequencies")
    quota = np.round(len(keep) * freq / freq.sum()).astype(int)
    out = []
    for c in range(probs.shape[1]):
        idx = np.flatnonzero(pred == c)
        out.append(idx[np.argsort(-conf[idx], kind="stable")[:quota[c]]])
    return np.sort(np.concatenate(out))


class SemiSupervisedCNN(ClassifierMixin, BaseEstimator):
    """3D CNN classifier; ``fit(X, y, X_unlabeled=None)``, ``predict``, ``predict_proba``."""

    def __init__(self, epochs: int = 30, batch_size: int = 32, lr: float = 1e-3, width: int = 16,
                 arch: str = "strided", label_smoothing: float = 0.1, class_balance: float = 0.0,
                 unlabeled_ratio: int = 1, threshold: float = 0.9, lambda_u: float = 1.0,
                 min_steps_per_epoch: int = 20, axes: str = "z", shift: int = 2, tta: bool | str = "auto",
                 up_views: int = 12, jitter: float = 0.0,
                 semi: str = "fixmatch", rounds: int = 1, student_strong: bool = False, teacher_epochs: int | None = None,
                 pseudo_select: str = "threshold", teacher_cache: str | None = None,
                 init: str = "none", init_epochs: int = 10, ema: float | None = None,
                 student_width: int | None = None, mixup: float = 0.0, soft_pseudo: float | None = None,
                 soft_keep: str = "all", members: int = 1, teacher_members: int = 1,
                 val_fraction: float = 0.1, patience: int = 8, seed: int = 0, device: str = "cpu",
                 checkpoint: str | None = None, resume: bool = False):
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.width = width
        self.arch = arch
        self.label_smoothing = label_smoothing
        self.class_balance = class_balance
        self.unlabeled_ratio = unlabeled_ratio
        self.threshold = threshold
        self.lambda_u = lambda_u
        self.min_steps_per_epoch = min_steps_per_epoch
        self.axes = axes
        self.shift = shift
        self.tta = tta
        self.up_views = up_views
        self.jitter = jitter
        self.semi = semi
        self.rounds = rounds
        self.student_strong = student_strong
        self.teacher_epochs = teacher_epochs
        self.pseudo_select = pseudo_select
        self.teacher_cache = teacher_cache
        self.init = init
        self.init_epochs = init_epochs
        self.ema = ema
        self.student_width = student_width
        self.mixup = mixup
        self.soft_pseudo = soft_pseudo
        self.soft_keep = soft_keep
        self.members = members
        self.teacher_members = teacher_members
        self.val_fraction = val_fraction
        self.patience = patience
        self.seed = seed
        self.device = device
        self.checkpoint = checkpoint
        self.resume = resume

    def config(self) -> dict:
        """Hyperparameters and fitted shape, saved beside the weights."""
        return {"method": "cnn", "params": {k: v for k, v in self.get_params().items()
                                            if k not in ("checkpoint", "resume", "device", "teacher_cache")},
                "grid_size": getattr(self, "grid_size_", None), "tta_chosen": getattr(self, "tta_", None),
                "net_width": getattr(self, "net_width_", None),
                "classes": None if not hasattr(self, "classes_") else [int(c) for c in self.classes_]}

    def _build(self, width: int | None = None):
        """A fresh network of ``width`` (default ``self.width``), from the pretrained trunk when there is one."""
        import torch

        from fewlabel.voxel.nets import ARCHS

        if self.arch not in ARCHS:
            raise InputError(None, f"unknown CNN architecture {self.arch!r} (use {', '.join(ARCHS)})")
        net = ARCHS[self.arch](self.grid_size_, len(self.classes_), int(self.width if width is None else width))
        if getattr(self, "trunk_state_", None) is not None:
            net.features.load_state_dict(self.trunk_state_)
        return net.to(memory_format=torch.channels_last_3d)  # faster 3D convs on CPU (oneDNN)

    def _build_members(self, n: int, width: int):
        """One network (``n`` = 1) or a :class:`~fewlabel.voxel.nets.ProbabilityAverage` of ``n``, to load weights into."""
        if n == 1:
            return self._build(width)
        from fewlabel.voxel.nets import ProbabilityAverage

        return ProbabilityAverage([self._build(width) for _ in range(n)])

    def _val_accuracy(self, X, y_idx, model=None) -> float:
        """Accuracy of ``model`` (default the live one) on held-out labeled grids (single view: cheap, and
        consistent across epochs)."""
        import torch

        from fewlabel.voxel.nets import batches, to_tensor

        model = self.model_ if model is None else model
        model.eval()
        with torch.no_grad():
            pred = np.concatenate([model(to_tensor(X[idx], self.device)).argmax(1).cpu().numpy()
                                   for idx in batches(len(X), 128)])
        return float(np.mean(pred == y_idx))

    def fit(self, X, y, X_unlabeled=None, prior=None, prior_weight: float = 0.5):
        """Train on labeled ``X, y`` (class labels) and optional unlabeled grids (see module docstring).

        ``prior``: (len(X_unlabeled), n_classes) probabilities from another model, mixed into the
        self-training teacher's pseudo-labels with ``prior_weight``."""
        X = check_grids(X)
        y = check_labels(y, len(X))
        if X_unlabeled is not None and len(X_unlabeled):
            X_unlabeled = check_grids(X_unlabeled, n=X.shape[1])
        else:
            X_unlabeled = None
        if self.semi not in ("fixmatch", "self-training"):
            raise InputError(None, f"unknown semi-supervised mode {self.semi!r} (use fixmatch, self-training)")
        if self.axes not in AXES:
            raise InputError(None, f"unknown symmetry {self.axes!r} (use {', '.join(AXES)})")
        if self.tta not in (True, False, "auto"):
            raise InputError(None, f"tta must be true, false or auto, got {self.tta!r}")
        if int(self.up_views) < 1:
            raise InputError(None, f"up_views must be >= 1, got {self.up_views}")
        if int(self.rounds) < 1:
            raise InputError(None, f"rounds must be >= 1, got {self.rounds}")
        if self.init not in ("none", "autoencoder"):
            raise InputError(None, f"unknown initialisation {self.init!r} (use none, autoencoder)")
        if self.init == "autoencoder" and self.arch != "strided":
            raise InputError(None, "init=autoencoder needs the strided network")
        if self.pseudo_select not in PSEUDO_SELECT:
            raise InputError(None, f"unknown pseudo-label selection {self.pseudo_select!r} "
                                   f"(use {', '.join(PSEUDO_SELECT)})")
        if self.ema is not None and not 0 < float(self.ema) < 1:
            raise InputError(None, f"ema must be in (0, 1) or None, got {self.ema}")
        if self.student_width is not None and int(self.student_width) < 1:
            raise InputError(None, f"student_width must be >= 1 or None, got {self.student_width}")
        if self.student_width is not None and self.init != "none" and int(self.student_width) != int(self.width):
            raise InputError(None, "student_width needs init=none (the pretrained trunk has the teacher's width)")
        if not float(self.mixup) >= 0:
            raise InputError(None, f"mixup must be >= 0 (0 = off), got {self.mixup}")
        if self.soft_pseudo is not None and not float(self.soft_pseudo) > 0:
            raise InputError(None, f"soft_pseudo must be a temperature > 0 or None, got {self.soft_pseudo}")
        if self.soft_keep not in ("all", "select"):
            raise InputError(None, f"unknown soft_keep {self.soft_keep!r} (use all, select)")
        if int(self.members) < 1 or int(self.teacher_members) < 1:
            raise InputError(None, f"members and teacher_members must be >= 1, got {self.members}, "
                                   f"{self.teacher_members}")
        self.grid_size_ = X.shape[1]
        self.__dict__.pop("tta_", None)  # chosen again after this fit
        self.classes_, y_all = np.unique(y, return_inverse=True)
        tr, va = validation_split(y_all, self.val_fraction, self.seed)
        Xtr, y_idx = X[tr], y_all[tr]
        Xva, yva = (X[va], y_all[va]) if len(va) else (None, None)
        self.trunk_state_ = None
        if self.init == "autoencoder":
            self.trunk_state_ = self._pretrain_trunk(Xtr if X_unlabeled is None else np.concatenate(
                [Xtr, X_unlabeled.astype(Xtr.dtype, copy=False)]))
        use_unlabeled = X_unlabeled is not None and self.lambda_u > 0
        if not (use_unlabeled and self.semi == "self-training"):
            self._train_members(Xtr, y_idx, Xva, yva, X_unlabeled if use_unlabeled else None, self.checkpoint,
                                ema=self.ema)
            return self._choose_tta(Xva, yva)
        # self-training: a teacher on the labeled grids pseudo-labels the confident unlabeled grids
        # (probabilities averaged over the test-time views); a fresh student trains on both.
        if prior is not None:
            prior = np.asarray(prior, dtype=np.float64)
            if prior.shape != (len(X_unlabeled), len(self.classes_)):
                raise InputError(None, f"prior must be (unlabeled grids, classes) = "
                                       f"{(len(X_unlabeled), len(self.classes_))}, got {prior.shape}")
        teacher_ck = None if self.checkpoint is None else str(self.checkpoint) + ".teacher"
        key = self._teacher_key(Xtr, y_idx)
        if not self._load_teacher(key):
            print(f"self-training: teacher on {len(Xtr)} labeled grids", flush=True)
            self._train_members(Xtr, y_idx, Xva, yva, None, teacher_ck, count=self.teacher_members,
                                epochs=self.teacher_epochs)
            if self.teacher_cache is not None:
                from fewlabel.checkpoint import save_checkpoint

                save_checkpoint(self.teacher_cache, "voxel", {**self.config(), "teacher_key": key},
                                self.model_.state_dict())
        self.pseudo_labeled_, self.pseudo_counts_ = [], []
        freq = np.bincount(y_idx, minlength=len(self.classes_))
        n_classes = len(self.classes_)
        for r in range(int(self.rounds)):
            probs = self._proba(X_unlabeled)
            if prior is not None:
                probs = prior_weight * prior + (1 - prior_weight) * probs
            pseudo = probs.argmax(1)
            soft = None
            if self.soft_pseudo is not None:  # every unlabeled grid, sharpened teacher probabilities, confidence weight
                from fewlabel.voxel.nets import sharpen

                keep = (np.arange(len(X_unlabeled)) if self.soft_keep == "all"
                        else select_pseudo_labels(probs, self.threshold, self.pseudo_select, freq))
                soft = (np.concatenate([np.eye(n_classes)[y_idx], sharpen(probs[keep], float(self.soft_pseudo))]),
                        np.concatenate([np.ones(len(y_idx)), probs[keep].max(1)]))
                how = (f"soft targets at temperature {self.soft_pseudo}, weighted by confidence"
                       + ("" if self.soft_keep == "all" else f", confidence >= {self.threshold}"))
            else:
                keep = select_pseudo_labels(probs, self.threshold, self.pseudo_select, freq)
                how = (f"confidence >= {self.threshold}" if self.pseudo_select == "threshold"
                       else f"as many as confidence >= {self.threshold}, shared by labeled class frequency")
            self.pseudo_labeled_.append(int(len(keep)))
            self.pseudo_counts_.append(np.bincount(pseudo[keep], minlength=n_classes).tolist())
            print(f"self-training round {r + 1}/{self.rounds}: {len(keep)} of {len(X_unlabeled)} unlabeled grids "
                  f"pseudo-labeled ({how}{', with the prior' if prior is not None else ''}); per class "
                  f"{self.pseudo_counts_[-1]}; student on {len(Xtr) + len(keep)} grids", flush=True)
            ck = self.checkpoint if r == int(self.rounds) - 1 or self.checkpoint is None \
                else f"{self.checkpoint}.round{r + 1}"
            train = self._train_members if r == int(self.rounds) - 1 else self._train
            train(np.concatenate([Xtr, X_unlabeled[keep].astype(Xtr.dtype, copy=False)]),
                  np.concatenate([y_idx, pseudo[keep]]), Xva, yva, None, ck, noisy=self.student_strong,
                  ema=self.ema, width=self.student_width, mixup=float(self.mixup), soft=soft)
        if len(self.pseudo_labeled_) == 1:
            self.pseudo_labeled_, self.pseudo_counts_ = self.pseudo_labeled_[0], self.pseudo_counts_[0]
        return self._choose_tta(Xva, yva)

    def _pretrain_trunk(self, X) -> dict:
        """Train the trunk as an autoencoder on ``X`` (augmented as in training); return its weights."""
        import torch
        from tqdm import tqdm

        from fewlabel.voxel.nets import TrunkAE, augment, batches, reconstruction_loss, to_tensor

        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        ae = TrunkAE(self._build().features[:-2], self.grid_size_, self.width).to(self.device)
        opt = torch.optim.AdamW(ae.parameters(), lr=self.lr, weight_decay=1e-4)
        loss_fn = reconstruction_loss(binary=True)
        print(f"initialising the CNN trunk: autoencoder on {len(X)} grids, {self.init_epochs} epochs", flush=True)
        for epoch in range(int(self.init_epochs)):
            ae.train()
            total = 0.0
            order = list(batches(len(X), self.batch_size, rng))
            for idx in tqdm(order, desc=f"trunk autoencoder epoch {epoch + 1}/{self.init_epochs}", leave=False,
                            disable=None):
                x = augment(to_tensor(X[np.sort(idx)]), gen, axes=self.axes, shift=self.shift,
                            up_views=self.up_views, jitter=self.jitter).to(self.device)
                loss = loss_fn(ae(x), (x > 0.5).float())
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach())
            print(f"trunk autoencoder epoch {epoch + 1}/{self.init_epochs}: loss {total / len(order):.4f}", flush=True)
        self.init_history_ = total / max(len(order), 1) if int(self.init_epochs) else None
        trunk = ae.trunk.to("cpu")
        # the pooling and flatten layers have no weights: the state dict fits the classifier's features
        return {k: v.detach().clone() for k, v in trunk.state_dict().items()}

    def _teacher_key(self, Xtr, y_idx) -> str:
        """Fingerprint of what the teacher depends on: its labeled grids and every setting but the student's."""
        import hashlib
        import json

        student_only = ("student_strong", "rounds", "pseudo_select", "threshold", "checkpoint", "resume",
                        "device", "teacher_cache", "tta", "epochs", "teacher_epochs", "ema", "student_width",
                        "mixup", "soft_pseudo", "soft_keep", "members")
        params = {k: v for k, v in self.get_params().items() if k not in student_only}
        params["teacher_epochs"] = int(self.epochs if self.teacher_epochs is None else self.teacher_epochs)
        h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
        for a in (np.ascontiguousarray(Xtr), np.ascontiguousarray(y_idx), self.classes_):
            h.update(str(a.dtype).encode() + str(a.shape).encode())
            h.update(a.tobytes())
        return h.hexdigest()

    def _load_teacher(self, key: str) -> bool:
        """Load the cached teacher into ``model_`` when ``teacher_cache`` holds one with this fingerprint."""
        if self.teacher_cache is None or not Path(self.teacher_cache).is_file():
            return False
        from fewlabel.checkpoint import load_checkpoint

        payload = load_checkpoint(self.teacher_cache, "voxel")
        if payload["config"].get("teacher_key") != key:
            print(f"self-training: {self.teacher_cache} is a teacher of other grids or settings; training a new one",
                  flush=True)
            return False
        self.model_ = self._build_members(int(self.teacher_members), int(self.width))
        self.model_.load_state_dict(payload["state_dict"])
        self.model_.eval()
        self.net_width_ = int(self.width)
        print(f"self-training: teacher loaded from {self.teacher_cache}", flush=True)
        return True

    def _choose_tta(self, Xva, yva) -> "SemiSupervisedCNN":
        """Validation accuracy with one view and with the test-time views; ``tta="auto"`` keeps the better."""
        self.tta_ = self.tta is not False
        self.tta_validation_ = None
        if Xva is None or self.tta is False:
            return self
        single = float(np.mean(self._proba(Xva, views=False).argmax(1) == yva))
        views = float(np.mean(self._proba(Xva, views=True).argmax(1) == yva))
        self.tta_validation_ = {"single": single, "tta": views}
        if self.tta == "auto":
            self.tta_ = views >= single
        print(f"validation accuracy: single view {100 * single:.1f}%, averaged over "
              f"{len(_symmetries(None, self.axes, self.up_views, self.jitter))} views {100 * views:.1f}% -> test-time "
              f"averaging {'on' if self.tta_ else 'off'}", flush=True)
        return self

    def _train_members(self, Xtr, y_idx, Xva, yva, X_unlabeled, checkpoint, count: int | None = None, **options):
        """``_train`` once per member (``count``, default ``members``; seeds ``seed``, ``seed + 1``, ...); ``model_``
        becomes their average. Member k > 0 checkpoints to ``CHECKPOINT.member<k>``, so a resumed fit resumes every
        member."""
        from fewlabel.voxel.nets import ProbabilityAverage

        n = int(self.members if count is None else count)
        if n == 1:
            return self._train(Xtr, y_idx, Xva, yva, X_unlabeled, checkpoint, **options)
        nets, best_epochs = [], []
        for k in range(n):
            print(f"ensemble member {k + 1}/{n} (seed {int(self.seed) + k})", flush=True)
            ck = checkpoint if k == 0 or checkpoint is None else f"{checkpoint}.member{k}"
            self._train(Xtr, y_idx, Xva, yva, X_unlabeled, ck, seed=int(self.seed) + k, **options)
            nets.append(self.model_)
            best_epochs.append(self.best_epoch_)
        self.model_ = ProbabilityAverage(nets).eval()
        self.best_epoch_ = best_epochs
        return self

    def _train(self, Xtr, y_idx, Xva, yva, X_unlabeled, checkpoint, noisy: bool = False, epochs: int | None = None,
               ema: float | None = None, width: int | None = None, mixup: float = 0.0, soft=None,
               seed: int | None = None):
        """One training run (FixMatch when ``X_unlabeled`` is given); keeps the best validation epoch.
        ``noisy``: the training grids get the strong augmentation (noisy student); ``epochs``: default ``self.epochs``;
        ``ema``: validate and keep the moving average of the weights with this decay (see the module docstring);
        ``width``: the network's width (default ``self.width``); ``mixup``: Beta parameter of batch mixup (0 = off);
        ``soft``: (targets (n, classes), weights (n,)) for the n training grids instead of the hard ``y_idx`` (which
        then only serves the class-balanced draw); ``seed``: default ``self.seed``. ``mixup`` and ``soft`` need
        ``X_unlabeled=None``."""
        import torch
        from torch import nn
        from tqdm import tqdm

        from fewlabel.checkpoint import load_checkpoint, save_checkpoint
        from fewlabel.voxel.nets import (WeightEMA, augment, mix_batch, recompute_batch_norm, soft_cross_entropy,
                                         to_tensor)

        seed = int(self.seed if seed is None else seed)
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        rng = np.random.default_rng(seed)
        dev = self.device
        self.model_ = self._build(width).to(dev)
        self.net_width_ = int(self.width if width is None else width)
        opt = torch.optim.AdamW(self.model_.parameters(), lr=self.lr, weight_decay=1e-4)
        avg = None if ema is None else WeightEMA(self.model_, ema)
        steps = max(self.min_steps_per_epoch, math.ceil(len(Xtr) / self.batch_size))
        n_epochs = int(self.epochs if epochs is None else epochs)
        total = steps * n_epochs
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
        ce = nn.CrossEntropyLoss(label_smoothing=self.label_smoothing)
        start, self.history_ = 0, []
        best = {"score": -1.0, "epoch": 0, "state": None}
        ck = None if checkpoint is None else Path(checkpoint)
        if self.resume and ck is not None and ck.is_file():
            payload = load_checkpoint(ck, "voxel")
            self.model_.load_state_dict(payload["state_dict"])
            ts = payload["training_state"]
            if ts:
                opt.load_state_dict(ts["optimizer"])
                sched.load_state_dict(ts["scheduler"])
                start, self.history_ = int(ts["epoch"]), list(ts["history"])
                best = ts.get("best", best)
                if avg is not None and ts.get("ema"):
                    avg.load(ts["ema"])
                gen.manual_seed(seed + start)
                rng = np.random.default_rng(seed + start)
                print(f"resuming CNN training at epoch {start + 1}")
        yt = torch.from_numpy(y_idx.astype(np.int64))
        n_classes = len(self.classes_)
        target_mode = soft is not None or mixup > 0
        if target_mode:
            if X_unlabeled is not None:
                raise InputError(None, "mixup and soft pseudo-labels apply to supervised runs (the student), "
                                       "not FixMatch")
            tt = torch.from_numpy(np.asarray(soft[0] if soft is not None else np.eye(n_classes)[y_idx], np.float32))
            wt = torch.from_numpy(np.asarray(soft[1] if soft is not None else np.ones(len(y_idx)), np.float32))
        bu = self.batch_size * self.unlabeled_ratio
        for epoch in range(start, n_epochs):
            if Xva is not None and epoch - best["epoch"] >= self.patience:
                print(f"early stop after epoch {epoch}: best validation accuracy "
                      f"{100 * best['score']:.1f}% at epoch {best['epoch']}")
                break
            self.model_.train()
            lab_order = labeled_order(y_idx, steps * self.batch_size, self.class_balance, rng)
            sums = {"loss": 0.0, "sup": 0.0, "unsup": 0.0, "mask": 0.0}
            for step in tqdm(range(steps), desc=f"cnn epoch {epoch + 1}/{n_epochs}", leave=False, disable=None):
                idx = np.sort(lab_order[step * self.batch_size:(step + 1) * self.batch_size])
                xl = augment(to_tensor(Xtr[idx]), gen, strong=noisy, axes=self.axes, shift=self.shift,
                             up_views=self.up_views, jitter=self.jitter).to(dev)
                yl = yt[idx].to(dev)
                loss_u = torch.zeros((), device=dev)
                mask_rate = 0.0
                if X_unlabeled is not None and self.lambda_u > 0:
                    uidx = np.sort(rng.choice(len(X_unlabeled), size=min(bu, len(X_unlabeled)), replace=False))
                    xu = to_tensor(X_unlabeled[uidx])
                    with torch.no_grad():
                        self.model_.eval()
                        weak = augment(xu, gen, axes=self.axes, up_views=self.up_views, jitter=self.jitter)
                        probs = torch.softmax(self.model_(weak.to(dev)), 1)
                        self.model_.train()
                    conf, pseudo = probs.max(1)
                    mask = (conf >= self.threshold).float()
                    mask_rate = float(mask.mean())
                    strong = augment(xu, gen, strong=True, axes=self.axes, shift=self.shift,
                                     up_views=self.up_views, jitter=self.jitter).to(dev)
                    logits = self.model_(torch.cat([xl, strong]))
                    loss_s = ce(logits[: len(idx)], yl)
                    per = nn.functional.cross_entropy(logits[len(idx):], pseudo, reduction="none")
                    loss_u = (per * mask).mean()
                elif target_mode:  # soft / mixed targets: label smoothing, then per-grid weights
                    t, w = tt[idx].to(dev), wt[idx].to(dev)
                    t = t * (1 - self.label_smoothing) + self.label_smoothing / n_classes
                    if mixup > 0:
                        lam = float(rng.beta(mixup, mixup))
                        xl, t, w = mix_batch(xl, t, w, max(lam, 1 - lam), torch.randperm(len(idx), generator=gen))
                    loss_s = soft_cross_entropy(self.model_(xl), t, w)
                else:
                    loss_s = ce(self.model_(xl), yl)
                ramp = min(1.0, (epoch * steps + step + 1) / max(1, total // 5))  # warm up the unlabeled term
                loss = loss_s + self.lambda_u * ramp * loss_u
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                if avg is not None:
                    avg.update(self.model_)
                sums["loss"] += float(loss.detach())
                sums["sup"] += float(loss_s.detach())
                sums["unsup"] += float(loss_u.detach())
                sums["mask"] += mask_rate
            record = {k: v / steps for k, v in sums.items()}
            if Xva is not None:
                kept = self.model_ if avg is None else recompute_batch_norm(avg.model, Xtr, device=dev)
                record["val_acc"] = self._val_accuracy(Xva, yva, kept)
                if avg is not None:
                    record["val_acc_live"] = self._val_accuracy(Xva, yva)
                if record["val_acc"] > best["score"]:
                    best = {"score": record["val_acc"], "epoch": epoch + 1,
                            "state": copy.deepcopy(kept.state_dict())}
            self.history_.append(record)
            print(f"cnn epoch {epoch + 1}/{n_epochs}: loss {record['loss']:.3f}, pseudo-label rate "
                  f"{record['mask']:.2f}" + (f", validation accuracy {100 * record['val_acc']:.1f}%"
                                             if Xva is not None else ""), flush=True)
            if ck is not None:
                save_checkpoint(ck, "voxel", self.config(), self.model_.state_dict(),
                                {"epoch": epoch + 1, "optimizer": opt.state_dict(),
                                 "scheduler": sched.state_dict(), "history": self.history_, "best": best,
                                 "ema": None if avg is None else avg.state()})
        if best["state"] is not None:
            self.model_.load_state_dict(best["state"])
        elif avg is not None:  # no validation: the average of the whole run, with its own statistics
            self.model_.load_state_dict(recompute_batch_norm(avg.model, Xtr, device=dev).state_dict())
        self.best_epoch_ = best["epoch"] if best["state"] is not None else len(self.history_)
        self.model_.to("cpu").eval()
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, averaged over the test-time views when ``tta``."""
        if not hasattr(self, "model_"):
            raise InputError(None, "the CNN is not fitted")
        return self._proba(check_grids(X, n=self.grid_size_))

    def _proba(self, X, views: bool | None = None) -> np.ndarray:
        """Softmax averaged over the test-time views (``views``: default the fitted/chosen ``tta``)."""
        import torch

        from fewlabel.voxel.nets import batches, to_tensor

        if views is None:
            views = getattr(self, "tta_", self.tta is not False)
        self.model_.eval()
        out = []
        with torch.no_grad():
            for idx in batches(len(X), 128):
                x = to_tensor(X[idx])
                xs = _symmetries(x, self.axes, self.up_views, self.jitter) if views else [x]
                out.append(torch.stack([torch.softmax(self.model_(v), 1) for v in xs]).mean(0).numpy())
        return np.concatenate(out)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]

    @classmethod
    def from_state(cls, config: dict, state_dict: dict) -> "SemiSupervisedCNN":
        """Rebuild a fitted CNN from its checkpoint config and weights."""
        params = dict(config["params"])
        params.setdefault("arch", "voxnet")  # models saved before the strided network existed
        params.setdefault("label_smoothing", 0.0)
        est = cls(**params)
        est.grid_size_ = int(config["grid_size"])
        est.classes_ = np.asarray(config["classes"], dtype=np.int64)
        if config.get("tta_chosen") is not None:
            est.tta_ = bool(config["tta_chosen"])
        est.net_width_ = int(config.get("net_width") or est.width)  # a wider student: its own width
        est.model_ = est._build_members(int(params.get("members", 1)), est.net_width_)
        est.model_.load_state_dict(state_dict)
        est.model_.eval()
        return est


AXES = ("z", "up", "all", "mirror")


def _symmetries(x, axes: str, up_views: int = 12, jitter: float = 0.0):
    """The views averaged at test time: 8 rotations/flips about z, ``up_views`` rotations about the up
    axis times an x mirror (``up``), x/y mirrors, or 4 flips (``all``); with ``jitter`` (z, mirror)
    each also turned by -jitter/2 and +jitter/2 about the up axis. ``x=None`` gives a list of the
    right length (for messages)."""
    if jitter > 0 and axes in ("z", "mirror"):
        if x is None:
            return [None] * 3 * len(_symmetries(None, axes))
        from fewlabel.voxel.nets import rotate_up

        binary = bool(((x == 0) | (x == 1)).all())
        return [v for a in (0.0, -jitter / 2, jitter / 2)
                for v in _symmetries(x if a == 0 else rotate_up(x, a, binary=binary), axes)]
    if x is None:
        return [None] * {"z": 8, "up": 2 * up_views, "mirror": 4}.get(axes, 4)
    if axes == "up":
        from fewlabel.voxel.nets import rotate_up, up_angles

        binary = bool(((x == 0) | (x == 1)).all())
        views = []
        for angle in up_angles(up_views):
            r = x if angle == 0 else rotate_up(x, angle, binary=binary)
            views += [r, r.flip(2)]
        return views
    if axes == "mirror":
        return [x, x.flip(2), x.flip(3), x.flip(2).flip(3)]
    if axes != "z":
        return [x, x.flip(2), x.flip(3), x.flip(4)]
    views = []
    for k in range(4):
        r = x.rot90(k, dims=(2, 3))
        views += [r, r.flip(2)]
    return views
