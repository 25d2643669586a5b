"""Fully convolutional particle scorers with a known receptive field.

Every layer has stride 1 and no padding ("valid" convolutions), so a crop of size
``receptive_field + T - 1`` gives a ``T x T`` map of scores, one per crop pixel that lies at
least ``(rf - 1) / 2`` from the crop edge. Scoring a whole micrograph is one forward pass of
the zero-padded image (:func:`score_map`), and score ``[i, j]`` belongs to input pixel
``[i, j]``. Training uses the same dense maps on tiles, which is far cheaper than one crop per
scored pixel.

Models: ``resnet8`` (default, receptive field 71 px), ``conv31``, ``conv63``, ``conv127``
(plain dilated conv nets). All use batch norm and an optional dropout before the classifier,
and can carry a decoder for the hybrid classifier + autoencoder objective.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

MODELS = ("resnet8", "conv31", "conv63", "conv127")


def _center_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop the last two dimensions of ``x`` to ``size`` around the centre."""
    dh = (x.shape[-2] - size[0]) // 2
    dw = (x.shape[-1] - size[1]) // 2
    return x[..., dh:dh + size[0], dw:dw + size[1]]


class ConvBNReLU(nn.Sequential):
    """Valid convolution (optionally dilated), batch norm, ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int = 1):
        super().__init__(nn.Conv2d(cin, cout, kernel, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ResBlock(nn.Module):
    """Two dilated 3x3 valid convolutions plus the centre-cropped identity."""

    def __init__(self, units: int, dilation: int):
        super().__init__()
        self.conv1 = ConvBNReLU(units, units, 3, dilation)
        self.conv2 = nn.Conv2d(units, units, 3, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(units)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(self.conv1(x)))
        return F.relu(y + _center_crop(x, y.shape[-2:]))


def _features(name: str, units: int) -> nn.Sequential:
    """The feature trunk of model ``name`` (all stride 1, no padding)."""
    if name == "resnet8":
        # 6 + 8 + 16 + 32 + 8 = 70 -> receptive field 71
        return nn.Sequential(ConvBNReLU(1, units, 7), ResBlock(units, 2), ResBlock(units, 4),
                             ResBlock(units, 8), ConvBNReLU(units, units, 5, dilation=2))
    dilations = {"conv31": (2, 4), "conv63": (2, 4, 8), "conv127": (2, 4, 8, 16)}
    if name not in dilations:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    layers: list[nn.Module] = [ConvBNReLU(1, units, 7)]  # +6
    for d in dilations[name]:  # each 5x5 layer adds 4 * d
        layers.append(ConvBNReLU(units, units, 5, dilation=d))
    return nn.Sequential(*layers)


class Decoder(nn.Module):
    """Reconstructs, from each feature vector, the input window it sees (hybrid autoencoder).

    A transposed convolution with kernel = receptive field paints every position's window, so
    a ``T x T`` feature map decodes to exactly the ``(T + rf - 1)`` input tile.
    """

    def __init__(self, units: int, rf: int, hidden: int = 8):
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(units, hidden, 1), nn.ReLU(inplace=True))
        self.paint = nn.ConvTranspose2d(hidden, 1, rf)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.paint(self.reduce(h))


class Picker(nn.Module):
    """Feature trunk + 1x1 classifier (+ optional decoder). ``forward`` returns logits ``[B, H', W']``."""

    def __init__(self, name: str = "resnet8", units: int = 16, dropout: float = 0.0,
                 autoencoder: bool = False):
        super().__init__()
        self.name = name
        self.features = _features(name, units)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Conv2d(units, 1, 1)
        self.receptive_field = receptive_field(self.features)
        self.decoder = Decoder(units, self.receptive_field) if autoencoder else None

    def forward(self, x: torch.Tensor, return_features: bool = False):
        h = self.features(x)
        logits = self.classifier(self.dropout(h))[:, 0]
        return (logits, h) if return_features else logits


def receptive_field(module: nn.Module) -> int:
    """Receptive field (pixels) of a stack of stride-1 convolutions/poolings, from its layers.

    Each layer of kernel ``k`` and dilation ``d`` on the main path widens it by ``(k - 1) * d``.
    Identity shortcuts add nothing, so summing over every layer of the trunk is exact.
    """
    if isinstance(module, Picker):
        module = module.features
    rf = 1
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k = m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size,) * 2
            d = m.dilation if isinstance(m.dilation, tuple) else (m.dilation,) * 2
            s = m.stride if isinstance(m.stride, tuple) else (m.stride,) * 2
            if tuple(s) != (1, 1):
                raise ValueError("receptive_field assumes stride-1 layers")
            if k[0] != k[1] or d[0] != d[1]:
                raise ValueError("receptive_field assumes square kernels")
            rf += (k[0] - 1) * d[0]
    return rf


def build_model(name: str = "resnet8", units: int = 16, dropout: float = 0.0,
                autoencoder: bool = False) -> Picker:
    """Build a picker by name (``resnet8``, ``conv31``, ``conv63``, ``conv127``)."""
    return Picker(name, units=units, dropout=dropout, autoencoder=autoencoder)


def model_config(model: Picker) -> dict[str, Any]:
    """The arguments that rebuild ``model`` with :func:`build_model`."""
    dropout = model.dropout.p if isinstance(model.dropout, nn.Dropout2d) else 0.0
    return {"name": model.name, "units": model.classifier.in_channels, "dropout": dropout,
            "autoencoder": model.decoder is not None, "receptive_field": model.receptive_field}


def pad_for_scoring(x: torch.Tensor, rf: int) -> torch.Tensor:
    """Zero-pad ``[B, 1, H, W]`` images so a valid forward pass returns ``[B, H, W]`` scores.

    Zero is the mean of a normalized micrograph, so edge pixels see a neutral surround.
    """
    p = (rf - 1) // 2
    return F.pad(x, (p, p, p, p))


#: orientations :func:`score_map` averages with ``tta=True``: the 8 symmetries of the square (4 rotations by 90
#: degrees, each also mirrored). Particles have no preferred in-plane orientation, so every view is an equally
#: valid look at the micrograph; averaging them removes orientation-specific noise from the score map. Measured
#: on the shipped general picker (benchmarks/results/bench_pick_pretrained.md, rows marked tta): test AUPRC
#: EMPIAR-10017 0.722 -> 0.734, unseen simulated 4E43 0.782 -> 0.787, at 8x the scoring time.
TTA_VIEWS = tuple((k, flip) for k in range(4) for flip in (False, True))


@torch.no_grad()
def score_map(model: Picker, images: torch.Tensor, tta: bool = False) -> torch.Tensor:
    """Logit score of every pixel of ``images`` ``[B, H, W]`` (or ``[H, W]``), in one forward pass
    (``tta``: the mean logit over the 8 :data:`TTA_VIEWS`, one pass each).

    Every layer is stride 1 with symmetric padding, so each view's map maps back onto the
    original pixels exactly.
    """
    squeeze = images.dim() == 2
    x = images[None] if squeeze else images
    was_training = model.training
    model.eval()
    if tta:
        out = 0
        for k, flip in TTA_VIEWS:
            v = torch.rot90(x, k, (-2, -1))
            v = torch.flip(v, (-1,)) if flip else v
            s = model(pad_for_scoring(v[:, None], model.receptive_field))
            s = torch.flip(s, (-1,)) if flip else s
            out = out + torch.rot90(s, -k, (-2, -1))
        out = out / len(TTA_VIEWS)
    else:
        out = model(pad_for_scoring(x[:, None], model.receptive_field))
    model.train(was_training)
    return out[0] if squeeze else out
