import torch

from apollo.models.discriminator import DEFAULT_WINDOWS, MultiResolutionDiscriminator, STFTDiscriminator


def test_default_has_seven_resolutions_and_table_one_layout():
    d = MultiResolutionDiscriminator()
    assert [x.win for x in d.discriminators] == list(DEFAULT_WINDOWS) == [32, 64, 128, 256, 512, 1024, 2048]
    one = d.discriminators[3]
    assert [c.out_channels for c in one.convs] == [8, 16, 32, 64, 128, 256]
    assert [c.stride for c in one.convs] == [(1, 1), (2, 2), (1, 1), (2, 2), (1, 1), (2, 2)]
    assert all(c.kernel_size == (3, 3) and hasattr(c, "parametrizations") for c in one.convs)  # spectral norm
    assert one.logits.out_channels == 1


def test_outputs_and_shapes():
    d = STFTDiscriminator(window=256).eval()
    x = torch.randn(3, 8192)
    logits, hidden = d(x)
    freq, frames = 256 // 2 + 1, 8192 // 64 + 1
    assert len(hidden) == 6
    assert hidden[0].shape == (3, 8, freq, frames)
    halve3 = lambda n: -(-(-(-(-(-n // 2)) // 2)) // 2)  # noqa: E731 -- ceil(n/2) three times
    assert hidden[-1].shape[1:] == (256, halve3(freq), halve3(frames))
    assert logits.shape == (3, 1) + hidden[-1].shape[2:]


def test_input_is_power_normalised():
    d = STFTDiscriminator(window=128).eval()
    x = torch.randn(2, 4096)
    assert torch.allclose(d(x)[0], d(10 * x)[0], atol=1e-4)


def test_channels_judged_independently():
    d = MultiResolutionDiscriminator(windows=(64,)).eval()
    x = torch.randn(2, 3, 2048)
    logits, _ = d(x)[0]
    assert logits.shape[0] == 6
    alone, _ = d(x[1:2, 2:3])[0]
    assert torch.allclose(logits[5:6], alone, atol=1e-5)
