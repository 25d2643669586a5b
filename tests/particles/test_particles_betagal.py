"""Real data: beta-galactosidase boxes from EMPIAR-10017 are centred on the (dark) particles."""

import numpy as np

from tests.conftest import shared_path


def test_betagal_boxes_are_centred_on_particles():
    from fewlabel.io.micrographs import read_micrograph
    from fewlabel.io.picks import read_picks
    from fewlabel.particles import extract_particles

    root = shared_path("empiar10017_betagal_micrographs")
    name = "Falcon_2012_06_12-14_33_35_0"
    picks = read_picks(root / "coords_groundtruth" / "derived_from_masks.tsv")
    picks = picks[picks["image_name"] == name].head(40)
    mic = read_micrograph(root / "micrographs" / f"{name}.jpg").image
    images, meta = extract_particles({name: mic}, picks, box=144, downsample=4)
    assert images.shape[1:] == (36, 36) and 30 <= len(images) <= 40
    avg = images.mean(0)
    yy, xx = np.mgrid[:36, :36] - 17.5
    r = np.sqrt(yy**2 + xx**2)
    # particles (108 px = 27 px after downsampling) are darker than the surrounding ice
    assert avg[r < 10].mean() < avg[(r > 15) & (r < 18)].mean() - 0.3
