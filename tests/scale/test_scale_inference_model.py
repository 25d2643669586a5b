"""extract.inference_model: batch norm folded into the convolutions, same scores, never a wrong fold."""

import pytest
import torch
from torch import nn

from fewlabel.pick.extract import inference_model
from fewlabel.pick.models import build_model, score_map


def _with_batch_norm_statistics(model: nn.Module) -> nn.Module:
    """Give every batch norm non-trivial running statistics and affine parameters (seeded)."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) - 0.5)
    return model.eval()


@pytest.mark.parametrize("name", ["resnet8", "conv31"])
def test_folded_model_scores_like_the_original(name):
    torch.manual_seed(0)
    model = _with_batch_norm_statistics(build_model(name, units=4, autoencoder=True))
    fast = inference_model(model)
    assert fast is not model and not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched
    x = torch.randn(2, 90, 75, generator=torch.Generator().manual_seed(1))
    want, got = score_map(model, x), score_map(fast, x)
    assert got.shape == want.shape == (2, 90, 75)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert inference_model(fast) is fast  # folding twice is a no-op


class _NormAfterShift(nn.Module):
    """Conv registered before its batch norm, but a shift sits between them: folding would be wrong."""

    receptive_field = 3

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, bias=False)
        self.bn = nn.BatchNorm2d(2)

    def forward(self, x):
        return self.bn(self.conv(x) + 1.0).mean(dim=1)


def test_a_fold_that_changes_the_scores_is_refused():
    model = _with_batch_norm_statistics(_NormAfterShift())
    assert inference_model(model) is model
