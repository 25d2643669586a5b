"""fewlabel: reliable answers from microscopy data with very few hand labels.

Capabilities: ``fewlabel.pick`` (positive-unlabeled particle picking), ``fewlabel.classify2d``
(2D classification by metric learning) and ``fewlabel.voxel`` (semi-supervised 3D classification).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fewlabel")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
