import json
import math
import tempfile

import pytest
import torch

from apollo.models.apollo import Apollo
from apollo.params import ApolloConfig
from tests.helpers.params import model_config
from apollo.models.convert import from_published, infer_published_config, to_published
from apollo.models.reference import ReferenceApollo
from tests.conftest import FIXTURES
from tests.helpers.params import tiny_model, tiny_reference_model


def test_oracle_reproduces_published_output(tiny_reference):
    state, x, y = tiny_reference
    oracle = ReferenceApollo(feature_dim=16, layer=2).eval()
    oracle.load_state_dict(state)
    with torch.no_grad():
        assert (oracle(x) - y).abs().max() <= 1e-4


def test_fast_model_reproduces_published_output(tiny_reference):
    state, x, y = tiny_reference
    config, ours = from_published(state)
    model = Apollo(config).eval()
    model.load_state_dict(ours)
    assert x.shape[-1] % config.hop != 0  # the fixture checks exact lengths
    with torch.no_grad():
        out = model(x)
    assert out.shape == y.shape
    assert (out - y).abs().max() <= 1e-4


def test_paper_size_matches_published_layout():
    schema = json.loads((FIXTURES / "apollo_paper_state_dict_schema.json").read_text())
    model = Apollo(model_config("paper"))
    assert model.num_parameters() == schema["num_parameters"] == 16_539_308
    published = to_published(model.config, model.state_dict())
    assert {k: list(v.shape) for k, v in published.items()} == schema["state_dict"]


def test_converter_round_trip_and_inference(tiny_reference):
    state, _, _ = tiny_reference
    config, ours = from_published(state)
    assert (config.feature_dim, config.layers, config.heads, len(config.widths)) == (16, 2, 8, 80)
    assert config.widths[:2] == (5, 5) and config.widths[-1] == 47
    back = to_published(config, ours)
    assert set(back) == set(state)
    for k in state:
        assert torch.allclose(back[k], state[k], atol=1e-6), k


def test_other_sizes_are_inferred():
    torch.manual_seed(0)
    ref = ReferenceApollo(feature_dim=32, layer=1).eval()
    config = infer_published_config(ref.state_dict())
    assert (config.feature_dim, config.layers) == (32, 1)
    model = Apollo(config).eval()
    model.load_state_dict(from_published(ref.state_dict())[1])
    x = torch.randn(1, 1, 5000) * 0.1
    with torch.no_grad():
        assert (model(x) - ref(x)).abs().max() < 1e-5


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_matches_oracle_for_any_channel_count_and_tiling(channels):
    oracle = tiny_reference_model(seed=channels)
    config, state = from_published(oracle.state_dict())
    model = Apollo(config).eval()
    model.load_state_dict(state)
    x = torch.randn(2, channels, 7000) * 0.2
    with torch.no_grad():
        expected = oracle(x)
        out = model(x)
        model.tile_rows = 37  # tiles smaller than a frame's bands and a band's frames
        tiled = model(x)
    assert out.shape == x.shape
    assert (out - expected).abs().max() < 1e-5
    assert (tiled - expected).abs().max() < 1e-5


def test_gradients_flow_and_match_inference_output():
    model = tiny_model()
    x = torch.randn(1, 2, 4410) * 0.2
    with torch.no_grad():
        expected = model(x)
    y = model(x)  # autograd path: no in-place work
    assert (y - expected).abs().max() < 1e-6
    y.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


def test_causal_output_ignores_the_future():
    model = tiny_model(causal=True)
    x = torch.randn(1, 1, 20000) * 0.2
    y = x.clone()
    y[..., 12000:] = 0
    with torch.no_grad():
        a, b = model(x), model(y)
    n_fft = model.config.n_fft
    assert (a - b)[..., : 12000 - n_fft].abs().max() == 0
    assert (a - b)[..., 12000:].abs().max() > 0


def test_config_round_trip_and_rejects_unknown_keys():
    config = model_config("paper", feature_dim=32, causal=True)
    assert ApolloConfig.from_dict(config.to_dict()) == config
    assert config.widths == model_config("paper", band_widths=config.widths).widths
    with pytest.raises(ValueError, match="unknown"):
        ApolloConfig.from_dict({"feature_dims": 3})


def test_residual_model_starts_as_identity_and_learns_a_correction():
    torch.manual_seed(0)
    model = Apollo(model_config("paper", feature_dim=16, layers=1, residual=True))
    x = torch.randn(2, 2, 8000) * 0.1
    out = model(x)
    assert (out - x).abs().max() < 1e-5  # STFT -> iSTFT round trip only
    out.square().mean().backward()
    # the zeroed value half of the heads gets a gradient, so training moves away from the identity
    assert model.decoder.weight[0].grad[:, :10].abs().sum() > 0
    with pytest.raises(ValueError, match="published"):
        to_published(model.config, model.state_dict())


def test_relative_output_is_silent_on_silence_and_follows_the_level():
    """With relative_output the heads' spectrum is scaled by each frame's level: digital silence stays silent
    (no hiss, no tones from the heads' biases) and a quieter copy gets a proportionally quieter correction."""
    torch.manual_seed(0)
    absolute = Apollo(model_config("paper", feature_dim=16, layers=1, residual=True)).eval()
    relative = Apollo(model_config("paper", feature_dim=16, layers=1, residual=True, relative_output=True)).eval()
    relative.load_state_dict(absolute.state_dict())
    for model in (absolute, relative):  # a trained-looking head: the zero-initialised value half made non-zero
        for weight, bias in zip(model.decoder.weight, model.decoder.bias):
            torch.nn.init.normal_(weight, std=0.02), torch.nn.init.normal_(bias, std=0.02)
    relative.load_state_dict(absolute.state_dict())
    silence = torch.zeros(1, 1, 8000)
    with torch.no_grad():
        assert absolute(silence).abs().max() > 1e-3  # the absolute heads' biases are heard in silence
        assert relative(silence).abs().max() < 1e-5
        x = torch.randn(1, 1, 8000) * 0.1
        loud, quiet = relative(x) - x, relative(0.01 * x) - 0.01 * x  # the corrections
    ratio = quiet.square().mean().sqrt() / loud.square().mean().sqrt()
    assert 0.003 < ratio < 0.03  # about 40 dB quieter, as the input


def _lowpassed(seconds: float = 1.0, cut_hz: float = 11000.0, seed: int = 0, top_gain: float = 1.0) -> torch.Tensor:
    """(1, 1, L) white noise with nothing above cut_hz (an MP3-like cutoff), its top 2 kHz scaled by top_gain."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 1, int(44100 * seconds), generator=g) * 0.1
    spec = torch.fft.rfft(x)
    hz = torch.fft.rfftfreq(x.shape[-1], 1 / 44100)
    spec = spec * (hz < cut_hz) * torch.where(hz > cut_hz - 2000, top_gain, 1.0)
    return torch.fft.irfft(spec, n=x.shape[-1])


# the anchor's reading: a fixed 2 kHz under the cutoff (these tests' levels are laid out for it), or none
FIXED_2K = dict(cutoff_reference_hz=2000.0, cutoff_reference_fraction=0.0)
UNANCHORED = dict(cutoff_reference_hz=0.0, cutoff_reference_fraction=0.0)


def _anchored(seed: int = 0) -> Apollo:
    torch.manual_seed(seed)
    # no learned tilt: these tests are about the anchoring (test_band_tilt_... adds one)
    model = Apollo(model_config(feature_dim=16, layers=1, **FIXED_2K, band_tilt=False)).eval()
    for weight, bias in zip(model.decoder.weight, model.decoder.bias):  # trained-looking heads, not the identity
        torch.nn.init.normal_(weight, std=0.05), torch.nn.init.normal_(bias, std=0.05)
    return model


def _band_db(audio: torch.Tensor, lo_hz: float, hi_hz: float) -> float:
    spec = torch.fft.rfft(audio.flatten())
    hz = torch.fft.rfftfreq(audio.shape[-1], 1 / 44100)
    return float(10 * torch.log10(spec.abs().square()[(hz >= lo_hz) & (hz < hi_hz)].mean()))


def test_anchored_model_keeps_the_passband_and_finds_the_cutoff():
    """A cutoff-anchored model finds the codec cutoff in its input: below it the STFT bins are the input's
    own, whatever the heads do; above it the band is generated; an input with no cutoff comes back as it is."""
    from apollo.models.apollo import find_cutoff

    model, x = _anchored(), _lowpassed()
    with torch.no_grad():
        found = find_cutoff(model.stft(x[0]), 44100)
        out = model(x)
        full = torch.randn(1, 1, 44100) * 0.1  # white noise to 22 kHz: nothing was cut
        untouched = model(full)
    assert abs(float(found[0]) * 44100 / model.config.n_fft - 11000) <= 150
    # the input's own bins below the cutoff (what leaks back through the inverse STFT's overlap-add from
    # the new band is 70 dB down)
    assert _band_db(out - x, 2000, 9000) < _band_db(x, 2000, 9000) - 60
    assert _band_db(out, 12000, 20000) > _band_db(x, 12000, 20000) + 40  # a band was made above the cutoff
    assert (untouched - full).abs().max() < 1e-5


def test_the_cutoff_of_a_crop_that_cuts_into_loud_music():
    """A training crop starts and ends mid-note: a loud bass (500 Hz, at its steepest at both ends) over a
    quiet band cut at 6 kHz. The centred STFT's reflect padding turns each end into a broadband kink; read
    with the frames that reach into the padding, the long-term spectrum showed no cut at all."""
    model = _anchored()
    t = torch.arange(22050) / 44100  # 0.5 s, the default crop
    x = _lowpassed(0.5, cut_hz=6000.0, seed=1) * 0.1 + torch.sin(2 * torch.pi * 500.0 * t)[None, None]
    found = float(model.cutoff_bins(x)[0]) * model.config.bin_hz
    assert abs(found - 6000) <= 200


def test_anchored_band_follows_the_brightness_below_the_cutoff():
    """The same music with its top 2 kHz below the cutoff 20 dB quieter (a darker recording): the heads'
    reference, the level just below the cutoff, is 20 dB lower, and even untrained heads give a much quieter
    band; an unanchored relative model scales from the whole frame, which barely changes."""
    from apollo.models.apollo import find_cutoff, passband_top_level

    anchored = _anchored()
    relative = Apollo(model_config(feature_dim=16, layers=1, **UNANCHORED)).eval()
    relative.load_state_dict(anchored.state_dict())
    bright, dark = _lowpassed(), _lowpassed(top_gain=0.1)
    drops = {}
    with torch.no_grad():
        for name, model in (("anchored", anchored), ("relative", relative)):
            hi_bright = _band_db(model(bright, keep_passband=True), 12000, 20000)
            hi_dark = _band_db(model(dark, keep_passband=True), 12000, 20000)
            drops[name] = hi_bright - hi_dark
        spec_b, spec_d = anchored.stft(bright[0]), anchored.stft(dark[0])
        cut = find_cutoff(spec_b, 44100)
        width = round(2000 * anchored.config.n_fft / 44100)
        ref_b, ref_d = (passband_top_level(s, cut, width).square().mean() for s in (spec_b, spec_d))
    assert abs(10 * torch.log10(ref_b / ref_d) - 20) < 1.5  # the window spreads the edges a little
    assert drops["anchored"] > drops["relative"] + 6, drops  # 10 dB against 0.9 with these weights


def test_the_anchor_reads_a_stretch_in_proportion_to_the_cutoff():
    """With `cutoff_reference_fraction` (the default), the level is read over that share of each item's
    cutoff: music 20 dB louder at 7.8-8.8 kHz under an 11 kHz cut (inside a 0.3 x 11 = 3.3 kHz reading, outside
    a 2 kHz one) makes the proportional model's band ~14 dB louder and the fixed reading's barely so; a
    lower cut reads a narrower stretch, and a checkpoint without the field reads as a fixed width."""
    from apollo.models.apollo import reference_bins

    torch.manual_seed(0)
    proportional = Apollo(model_config(feature_dim=16, layers=1, band_tilt=False)).eval()
    fixed = Apollo(model_config(feature_dim=16, layers=1, **FIXED_2K, band_tilt=False)).eval()
    fixed.load_state_dict(proportional.state_dict())
    assert proportional.config.cutoff_reference_fraction == pytest.approx(0.3)
    bin_hz = proportional.config.bin_hz
    assert reference_bins(proportional.config, torch.tensor([400, 800])).tolist() == [120, 240]
    assert reference_bins(fixed.config, torch.tensor([400, 800])).tolist() == [round(2000 / bin_hz)] * 2
    x = _lowpassed()
    spec = torch.fft.rfft(x)
    hz = torch.fft.rfftfreq(x.shape[-1], 1 / 44100)
    louder = torch.fft.irfft(spec * torch.where((hz >= 7800) & (hz < 8800), 10.0, 1.0), n=x.shape[-1])
    rises = {}
    with torch.no_grad():
        for name, model in (("proportional", proportional), ("fixed", fixed)):
            rises[name] = _band_db(model(louder), 12000, 20000) - _band_db(model(x), 12000, 20000)
    assert rises["proportional"] > rises["fixed"] + 10, rises
    old = {k: v for k, v in fixed.config.to_dict().items() if k != "cutoff_reference_fraction"}
    assert ApolloConfig.from_dict(old) == fixed.config


def test_a_given_cutoff_is_used_and_one_is_needed_to_keep_the_passband():
    model, x = _anchored(), _lowpassed()
    with torch.no_grad():
        lower = model(x, cutoff=int(8000 * model.config.n_fft / 44100))  # the caller knows better: 8 kHz
        spec = model.stft(x[0])
        with pytest.raises(ValueError, match="cutoff"):
            model.restore_spectrum(spec)
        found = model(x)
    # above the given cutoff the band is the model's (with these heads, 20 dB below the input's), below it,
    # and with the cutoff found at 11 kHz also in 8.5-10.5 kHz, the input's own (70 dB down)
    assert _band_db(lower - x, 8500, 10500) > _band_db(x, 8500, 10500) - 30
    assert _band_db(lower - x, 2000, 7000) < _band_db(x, 2000, 7000) - 60
    assert _band_db(found - x, 8500, 10500) < _band_db(x, 8500, 10500) - 60


def test_an_untrained_anchored_model_gets_a_gradient_from_the_spectral_losses():
    """A band that starts at exactly zero gets little gradient from |X| or log|X|^2: an anchored model's heads
    start as a flat continuation of the level below the cutoff, so the losses reach them;
    a residual unanchored model starts as the identity."""
    from apollo.losses import spectral_losses

    x, target = _lowpassed(), torch.randn(1, 1, 44100) * 0.1
    grads, levels = {}, {}
    for anchored in (2000.0, 0.0):
        torch.manual_seed(0)
        model = Apollo(model_config(feature_dim=16, layers=1, cutoff_reference_hz=anchored, cutoff_reference_fraction=0.0))
        out = model(x, keep_passband=True)
        linear, log = spectral_losses(target, out, (512,))
        (linear + log).backward()
        grads[anchored] = sum(float(w.grad.abs().sum()) for w in model.decoder.weight)
        levels[anchored] = _band_db(out.detach(), 12000, 20000) - _band_db(x, 9000, 11000)
    assert levels[2000.0] > -20 and levels[0.0] < -100, levels
    # what reaches the identity's heads leaks through the loss's other STFT resolution only
    assert grads[2000.0] > 3 * grads[0.0], grads  # 6.6x here


def test_band_tilt_scales_each_quarter_octave_above_the_cutoff():
    """With `band_tilt`, the made band is the anchored heads' band times a learned gain per quarter octave
    above the cutoff: a tilt of -20 dB on the octave from 11 to 22 kHz leaves the passband as it is and makes
    that octave 20 dB quieter; its checkpoint keeps the tilt, and one without the field reads as off."""
    from apollo.checkpoint import load_generator, save_generator
    from apollo.models.apollo import TILT_SCALE, TILT_STEPS_PER_OCTAVE
    from apollo.params import ApolloConfig

    x = _lowpassed()
    flat = _anchored()
    tilted = Apollo(model_config(feature_dim=16, layers=1, **FIXED_2K, band_tilt=True)).eval()
    tilted.load_state_dict(flat.state_dict() | {"tilt": tilted.tilt.detach()})
    with torch.no_grad():
        tilted.tilt[:TILT_STEPS_PER_OCTAVE] = -20 / 20 * math.log(10) / TILT_SCALE  # the first octave: -20 dB
        a, b = flat(x), tilted(x)
    assert abs(_band_db(b, 2000, 10000) - _band_db(a, 2000, 10000)) < 0.01
    assert _band_db(b, 12500, 20500) - _band_db(a, 12500, 20500) == pytest.approx(-20, abs=1.0)
    with tempfile.TemporaryDirectory() as tmp:
        save_generator(tilted, f"{tmp}/g.safetensors")
        again = load_generator(f"{tmp}/g.safetensors", "cpu").eval()
        assert torch.equal(again.tilt, tilted.tilt)
    old = {k: v for k, v in tilted.config.to_dict().items() if k != "band_tilt"}
    assert ApolloConfig.from_dict(old).band_tilt is False


def test_hole_fill_fills_only_the_bands_the_codec_zeroed():
    """Bins 120 dB under their frame become noise at hole_level_db re the frame's mean passband power, with a
    phase that changes from frame to frame; the music's bins, a hole above the cutoff and an item with no
    cutoff are left as they are; a chunk that starts at frame 20 draws the whole item's phases."""
    from apollo.models.apollo import fill_holes, hole_phases

    spec = torch.randn(2, 441, 50, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
    spec[:, 100:110] *= 1e-6  # zeroed below the cutoff
    spec[:, 350:360] *= 1e-6  # and above it
    cutoff, phases = torch.tensor([300, 441]), hole_phases(441)
    out = fill_holes(spec, cutoff, phases, -80.0, -60.0)
    mean = spec[0, :300].abs().square().mean(0)  # (T,)
    level_db = 10 * torch.log10(out[0, 100:110].abs().square() / mean)
    assert level_db.sub(-60).abs().max() < 0.01
    assert out[0, 105].angle().diff().abs().mean() > 1  # noise, not a steady tone
    kept = torch.ones(441, dtype=torch.bool)
    kept[100:110] = False
    assert torch.equal(out[0, kept], spec[0, kept])
    assert torch.equal(out[1], spec[1])
    chunk = fill_holes(spec[..., 20:], cutoff, phases, -80.0, -60.0, first_frame=20)
    assert torch.allclose(chunk, out[..., 20:], atol=1e-6)
    old = {k: v for k, v in model_config().to_dict().items() if not k.startswith("hole_")}
    assert ApolloConfig.from_dict(old).hole_gate_db is None  # checkpoints from before the fill: off


def test_the_anchor_reads_the_filled_passband():
    """Frames whose top 2 kHz under the cutoff the encoder zeroed: their anchor is the hole fill's level
    (60 dB under the frame's mean), not the zeros', so their band is ~60 dB under the other frames' (the
    heads see the same input there); with no fill they were 89 dB under: the zeros' level, floored by the
    anchor's epsilon."""
    gaps = {}
    for gate in (-80.0, None):
        torch.manual_seed(0)
        model = Apollo(model_config(feature_dim=16, layers=1, **FIXED_2K, hole_gate_db=gate,
                                    hole_level_db=-60.0)).eval()  # fmt: skip
        bins = model.config.n_fft // 2 + 1
        cut, width = round(11000 / model.config.bin_hz), round(2000 / model.config.bin_hz)
        spec = torch.randn(1, bins, 60, dtype=torch.complex64, generator=torch.Generator().manual_seed(0)) * 10
        spec[:, cut:] = 0  # the codec's cutoff at 11 kHz
        spec[:, cut - width : cut, 20:40] *= 1e-7  # frames 20-39: the bands under it zeroed
        with torch.no_grad():
            band = model.restore_spectrum(spec, cutoff=torch.tensor([cut]))[0, cut:].abs().square().mean(0)  # (T,)
        others = torch.cat([band[:20], band[40:]])
        gaps[gate] = float(10 * torch.log10(others.mean() / band[20:40].mean()))
    assert 50 < gaps[-80.0] < 70, gaps
    assert gaps[None] > 80, gaps  # the zeros, floored by the anchor's epsilon
