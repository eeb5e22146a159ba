import pytest
import torch

from apollo.models.streaming import StreamingApollo
from tests.helpers.audio import holed_noise
from tests.helpers.params import tiny_model


@pytest.mark.parametrize("sizes", [[1000], [1, 7, 441, 882, 3000, 10001], [60000]])
def test_stream_equals_offline_causal(sizes):
    model = tiny_model(causal=True)
    x = torch.randn(2, 30001) * 0.3
    with torch.no_grad():
        expected = model(x[None])[0]
    stream = StreamingApollo(model, channels=2)
    outs, pos, i, worst = [], 0, 0, 0
    while pos < x.shape[1]:
        n = sizes[i % len(sizes)]
        i += 1
        outs.append(stream.process(x[:, pos : pos + n]))
        pos = min(pos + n, x.shape[1])
        worst = max(worst, pos - sum(o.shape[1] for o in outs))
    outs.append(stream.flush())
    out = torch.cat(outs, 1)
    assert out.shape == x.shape
    assert (out - expected).abs().max() <= 1e-5
    assert worst <= stream.latency_samples < model.config.n_fft  # within one window


def test_stream_can_be_reused_after_flush():
    model = tiny_model(causal=True)
    stream = StreamingApollo(model, channels=1)
    x = torch.randn(1, 5000) * 0.3
    first = torch.cat([stream.process(x), stream.flush()], 1)
    second = torch.cat([stream.process(x), stream.flush()], 1)
    assert torch.equal(first, second)


def test_streaming_rejects_non_causal_and_too_short():
    with pytest.raises(ValueError, match="causal"):
        StreamingApollo(tiny_model(causal=False), channels=1)
    stream = StreamingApollo(tiny_model(causal=True), channels=1)
    stream.process(torch.zeros(1, 100))
    with pytest.raises(ValueError, match="more than"):
        stream.flush()


def test_an_anchored_model_streams_with_the_cutoff_given():
    """A stream has no long-term spectrum to find the cutoff in: the caller gives it, and the stream then
    equals the offline model given the same cutoff, the codec's holes filled and the band tilted alike."""
    model = tiny_model(causal=True, cutoff_reference_hz=2000.0, hole_gate_db=-80.0, hole_level_db=-60.0, band_tilt=True)
    with torch.no_grad():
        model.tilt.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))  # a trained-looking tilt
    with pytest.raises(ValueError, match="cutoff"):
        StreamingApollo(model, channels=1)
    x = torch.from_numpy(holed_noise(20000 / 44100).T) * 3
    with torch.no_grad():
        expected = model(x[None], cutoff=200)[0]
        assert not torch.allclose(expected, tiny_model(causal=True, cutoff_reference_hz=2000.0)(x[None], cutoff=200)[0])
    stream = StreamingApollo(model, channels=1, cutoff=200)
    out = torch.cat([stream.process(x[:, :7000]), stream.process(x[:, 7000:]), stream.flush()], 1)
    assert (out - expected).abs().max() <= 1e-5
