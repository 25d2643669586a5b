"""Models: receptive field from the layers equals the measured one; whole-map scoring aligns."""

import pytest
import torch

from fewlabel.pick.models import MODELS, build_model, receptive_field, score_map


@pytest.mark.parametrize("name,expected", [("resnet8", 71), ("conv31", 31), ("conv63", 63), ("conv127", 127)])
@torch.no_grad()
def test_receptive_field_matches_perturbation(name, expected):
    torch.manual_seed(0)
    model = build_model(name, units=4).eval()
    rf = receptive_field(model)
    assert rf == expected == model.receptive_field
    size = 2 * rf + 10
    model = model.double()
    x = torch.randn(1, 1, size, size, dtype=torch.float64)
    base = model(x)[0]
    assert base.shape == (size - rf + 1, size - rf + 1)
    # perturb one input pixel; output (i, j) sees input rows i..i+rf-1, cols j..j+rf-1
    r, c = rf + 2, rf + 5
    x2 = x.clone()
    x2[0, 0, r, c] += 10.0
    changed = (model(x2)[0] - base).abs() > 1e-9
    rows, cols = torch.nonzero(changed, as_tuple=True)
    # every changed output lies in the window, and the window's extreme taps are reached:
    # the measured receptive field is exactly rf wide
    assert int(rows.min()) == r - rf + 1 and int(rows.max()) == r
    assert int(cols.min()) == c - rf + 1 and int(cols.max()) == c


@torch.no_grad()
def test_receptive_field_edges_exact():
    """A pixel exactly rf-1 away from an output's window corner changes it; rf away does not."""
    torch.manual_seed(1)
    model = build_model("conv31", units=4).eval().double()
    rf = model.receptive_field
    x = torch.randn(1, 1, rf, rf, dtype=torch.float64)
    base = model(x)[0, 0, 0]
    assert model(x).shape[-2:] == (1, 1)
    x2 = x.clone()
    x2[0, 0, 0, rf // 2] += 10.0  # top row of the window is inside the field
    assert abs(float(model(x2)[0, 0, 0] - base)) > 1e-9
    big = torch.randn(1, 1, rf + 1, rf, dtype=torch.float64)
    out = model(big)[0, :, 0]  # two outputs stacked vertically
    big2 = big.clone()
    big2[0, 0, rf, rf // 2] += 10.0  # last row: outside the first output's window
    out2 = model(big2)[0, :, 0]
    assert abs(float(out2[0] - out[0])) < 1e-12 and abs(float(out2[1] - out[1])) > 1e-9


@pytest.mark.parametrize("name", MODELS)
def test_score_map_aligned_with_input(name):
    torch.manual_seed(0)
    model = build_model(name, units=4)
    img = torch.randn(2, 40, 52)
    s = score_map(model, img)
    assert s.shape == (2, 40, 52)
    assert model.training  # restored
    # translation equivariance away from edges: shifting the image shifts the map
    shifted = torch.roll(img, shifts=(3, 5), dims=(1, 2))
    s2 = score_map(model, shifted)
    rf = model.receptive_field
    if rf < 30:
        p = rf // 2 + 6
        assert torch.allclose(s2[:, p:-p, p:-p], torch.roll(s, (3, 5), (1, 2))[:, p:-p, p:-p], atol=1e-5)


def test_score_map_single_image_and_decoder_shape():
    model = build_model("conv31", units=4, autoencoder=True)
    assert score_map(model, torch.randn(33, 35)).shape == (33, 35)
    rf = model.receptive_field
    x = torch.randn(2, 1, rf + 9, rf + 9)
    logits, h = model(x, return_features=True)
    assert logits.shape == (2, 10, 10)
    assert model.decoder(h).shape == x.shape


@pytest.mark.parametrize("name", ["resnet8", "conv31"])
def test_tta_score_map_is_equivariant_and_aligned(name):
    """Averaging over the 8 square symmetries: rotating or mirroring the input rotates or mirrors the map
    exactly (each view's map lands back on its own pixels), on a non-square batch."""
    torch.manual_seed(0)
    model = build_model(name, units=4).eval()
    img = torch.randn(2, 37, 46, dtype=torch.float64)
    model = model.double()
    s = score_map(model, img, tta=True)
    assert s.shape == (2, 37, 46)
    assert torch.allclose(score_map(model, torch.rot90(img, 1, (1, 2)), tta=True), torch.rot90(s, 1, (1, 2)),
                          atol=1e-10)
    assert torch.allclose(score_map(model, torch.flip(img, (1,)), tta=True), torch.flip(s, (1,)), atol=1e-10)
    plain = score_map(model, img)
    assert not torch.allclose(plain, s)  # a random net is not symmetric: the average is a different map
    # equivariance alone would also hold with every view's map shifted the same way in its own frame;
    # alignment: the average is the mean of the 8 views, each mapped back by the inverse transform
    def view(k: int, mirror: bool) -> torch.Tensor:
        v = torch.rot90(img, k, (1, 2))
        m = score_map(model, v.flip(2) if mirror else v)
        return torch.rot90(m.flip(2) if mirror else m, -k, (1, 2))

    assert torch.allclose(torch.stack([view(k, f) for k in range(4) for f in (False, True)]).mean(0), s,
                          atol=1e-10)
