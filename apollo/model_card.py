"""A summary of the configured generator: size, receptive field, latency, cost per second of audio."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from apollo.files import write_json
from apollo.models.apollo import Apollo
from apollo.params import ApolloConfig


def model_card(config: ApolloConfig) -> dict:
    model = Apollo(config).eval()
    audio = torch.zeros(1, 2, config.sr)  # one second of stereo
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(audio)
    past, future = config.receptive_frames
    return {
        "config": config.to_dict(),
        "parameters": model.num_parameters(),
        "gflop_per_second_stereo": round(counter.get_total_flops() / 1e9, 1),
        "receptive_field_frames": {"past": past, "future": future},
        "receptive_field_seconds": round((past + future + 1) * config.hop / config.sr, 3),
        "streaming_latency_samples": config.n_fft - 1 if config.causal else None,
    }


def write_model_card(config: ApolloConfig, out: str | Path) -> dict:
    card = model_card(config)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, card, indent=2)
    return card
