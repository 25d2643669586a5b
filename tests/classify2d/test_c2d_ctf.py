"""CTF correction before classification: parameters from stack metadata, phase flipping."""

import numpy as np
import pandas as pd
import pytest

from fewlabel.classify2d.ctf import ctf_correct, ctf_params_from_metadata
from fewlabel.errors import InputError
from fewlabel.simulate.ctf import CTFParams, ctf_2d


def test_params_from_relion_columns_with_microscope_defaults():
    meta = pd.DataFrame({"rlnDefocusU": [12000.0, 20000.0], "rlnDefocusV": [11000.0, 19500.0],
                         "rlnDefocusAngle": [10.0, 95.0], "rlnVoltage": [200.0, 200.0]})
    ctfs = ctf_params_from_metadata(meta)
    assert [c.defocus_u for c in ctfs] == [12000.0, 20000.0]
    assert ctfs[1].defocus_v == 19500.0 and ctfs[1].astigmatism_angle == 95.0
    assert ctfs[0].voltage == 200.0 and ctfs[0].cs == CTFParams().cs  # missing columns: defaults


def test_params_absent_or_invalid():
    assert ctf_params_from_metadata(pd.DataFrame({"label": [0, 1]})) is None
    assert ctf_params_from_metadata(None) is None
    with pytest.raises(InputError, match="defocus_u"):
        ctf_params_from_metadata(pd.DataFrame({"defocus_u": [15000.0, np.nan]}))


def test_phase_flip_turns_a_ctf_modulated_image_into_its_abs_ctf_version():
    rng = np.random.default_rng(0)
    ft = np.fft.rfft2(rng.normal(size=(2, 32, 32)))
    ft[:, :, -1] = 0  # no Nyquist column: an astigmatic CTF is not Hermitian there
    obj = np.fft.irfft2(ft, s=(32, 32)).astype(np.float32)
    ctfs = [CTFParams(defocus_u=9000.0, defocus_v=8000.0, astigmatism_angle=30.0, bfactor=0.0),
            CTFParams(defocus_u=22000.0, defocus_v=22000.0, bfactor=0.0)]
    c = [ctf_2d((32, 32), 1.5, p, envelope=False) for p in ctfs]
    seen = np.stack([np.fft.irfft2(np.fft.rfft2(o) * ci, s=(32, 32)) for o, ci in zip(obj, c)])
    flipped = ctf_correct(seen, 1.5, ctfs, "flip")
    expected = np.stack([np.fft.irfft2(np.fft.rfft2(o) * np.abs(ci), s=(32, 32)) for o, ci in zip(obj, c)])
    np.testing.assert_allclose(flipped, expected, atol=1e-4)
    # transfer function seen in the data: CTF (negative on many rings) before, |CTF| (never negative) after
    def transfer(images):
        return (np.fft.rfft2(images)[:, :, :-1] / np.fft.rfft2(obj)[:, :, :-1]).real

    assert np.mean(transfer(seen) < -0.05) > 0.2
    assert transfer(flipped).min() > -1e-3
    assert np.array_equal(ctf_correct(seen, 1.5, None, "flip"), seen.astype(np.float32))


def test_bad_correction_requests_raise():
    x = np.zeros((2, 8, 8), np.float32)
    with pytest.raises(InputError):
        ctf_correct(x, 1.0, [CTFParams()], "flip")  # one CTF for two images
    with pytest.raises(InputError):
        ctf_correct(x, None, [CTFParams()] * 2, "flip")
    with pytest.raises(InputError):
        ctf_correct(x, 1.0, [CTFParams()] * 2, "wiener")
