"""Mixed precision (accelerate's "bf16"/"fp16", i.e. torch.autocast) through the generator.

Eval mode with autograd off takes the in-place fast path (inference, validation);
training takes the autograd path. Both must run under autocast and agree.
"""

import warnings

import pytest
import torch

from apollo.models.apollo import Apollo

from tests.helpers.params import model_config


def small_model(causal: bool = False) -> Apollo:
    torch.manual_seed(0)
    return Apollo(model_config("paper", feature_dim=16, layers=1, causal=causal)).eval()


def cpu_autocast_supports(dtype: torch.dtype) -> bool:
    # torch warns and turns CPU autocast off for a dtype it does not support there
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with torch.autocast("cpu", dtype=dtype):
                return torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == dtype
        except RuntimeError:
            return False


def _skip_unsupported(dtype: torch.dtype) -> None:
    if not cpu_autocast_supports(dtype):
        pytest.skip(f"torch {torch.__version__} has no CPU autocast for {dtype}")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("tile_rows", [4096, 37])
def test_inference_under_autocast_matches_training_path(dtype, tile_rows):
    _skip_unsupported(dtype)
    model = small_model()
    model.tile_rows = tile_rows  # 37: tiles smaller than a frame's bands and a band's frames
    x = torch.randn(1, 2, 8000) * 0.2
    with torch.no_grad():
        full = model(x)
        with torch.autocast("cpu", dtype=dtype):
            fast = model(x)  # in-place fast path
    with torch.autocast("cpu", dtype=dtype):
        slow = model(x)  # autograd path
    assert fast.dtype == slow.dtype == torch.float32
    assert torch.isfinite(fast).all()
    # same ops, same casts: the two paths agree far inside reduced-precision rounding
    assert (fast - slow.detach()).abs().max() <= 1e-6 * full.abs().max()
    # and reduced precision stays close to the float32 model
    assert (fast - full).abs().max() <= 0.02 * full.abs().max()  # bf16: ~0.7%
    assert (fast - full).abs().max() > 0  # autocast really was applied


@pytest.mark.parametrize("causal", [False, True])
def test_backward_under_bf16_autocast(causal):
    model = small_model(causal=causal).train()
    x = torch.randn(2, 1, 6000) * 0.2
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(x)
        loss = y.square().mean()
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0
