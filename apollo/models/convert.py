"""Map between the published Apollo ``state_dict`` layout and ours, both ways.

The published layout (one module per band, ``BN.k`` / ``net.i`` / ``output.k``)
is only a checkpoint format here. Its architecture is inferred from tensor
shapes, so community variants of other sizes load too.
"""

from __future__ import annotations

import re

import torch

from apollo.models.apollo import rotary_tables, width_runs
from apollo.params import SR, ApolloConfig

# ours (relative to band_nets.i / seq_nets.i.j)  <->  published (relative to net.i.band_net / net.i.seq_net.blocks.j)
ROFORMER_KEYS = {
    "norm": "input_norm.weight",
    "qkv": "weight.weight",
    "out": "output.weight",
    "mlp_norm": "MLP.0.weight",
    "mlp_in": "MLP.1.weight",
    "mlp_out": "MLP_output.weight",
}
TCN_KEYS = {
    "dw_weight": "conv.0.weight",
    "dw_bias": "conv.0.bias",
    "norm": "conv.1.weight",
    "up_weight": "conv.2.weight",
    "up_bias": "conv.2.bias",
    "down_weight": "conv.4.weight",
    "down_bias": "conv.4.bias",
}
BAND_KEYS = {  # ours: encoder/decoder.<name>.<run>  <->  published: BN.k.* / output.k.*
    ("encoder", "norm"): ("BN", "0.weight"),
    ("encoder", "weight"): ("BN", "1.weight"),
    ("encoder", "bias"): ("BN", "1.bias"),
    ("decoder", "norm"): ("output", "0.weight"),
    ("decoder", "weight"): ("output", "1.weight"),
    ("decoder", "bias"): ("output", "1.bias"),
}


def is_published_layout(state: dict) -> bool:
    return "BN.0.0.weight" in state and "output.0.1.weight" in state


def _count(state: dict, pattern: str) -> int:
    found = {int(m.group(1)) for k in state if (m := re.match(pattern, k))}
    return max(found) + 1 if found else 0


def infer_published_config(state: dict, sr: int = SR) -> ApolloConfig:
    """Architecture from shapes: band widths from BN.k.0, feature_dim from BN.0.1, heads from the rotary table."""
    bands = _count(state, r"BN\.(\d+)\.0\.weight")
    widths = tuple((state[f"BN.{k}.0.weight"].shape[0] - 1) // 2 for k in range(bands))
    feature_dim = state["BN.0.1.weight"].shape[0]
    layers = _count(state, r"net\.(\d+)\.band_net\.")
    blocks = _count(state, r"net\.0\.seq_net\.blocks\.(\d+)\.")
    cos = state.get("net.0.band_net.cos_freq")
    head_dim = cos.shape[1] if cos is not None else feature_dim // 8
    n_fft = 2 * (sum(widths) - 1)
    return ApolloConfig(
        sr=sr,
        win_ms=n_fft * 1000 / sr,
        feature_dim=feature_dim,
        layers=layers,
        heads=feature_dim // head_dim,
        tcn_blocks=blocks,
        tcn_kernel=state["net.0.seq_net.blocks.0.conv.0.weight"].shape[-1],
        band_widths=widths,
        max_positions=cos.shape[0] if cos is not None else 100,
        causal=False,  # the published model: centred TCN, direct mapping
        residual=False,
        relative_output=False,
        cutoff_reference_hz=0.0,
        cutoff_reference_fraction=0.0,
        band_tilt=False,
        hole_gate_db=None,
        hole_level_db=0.0,
    )


def from_published(state: dict, sr: int = SR) -> tuple[ApolloConfig, dict]:
    """Published state dict -> (config, state dict of :class:`Apollo`)."""
    config = infer_published_config(state, sr)
    out: dict[str, torch.Tensor] = {}
    for (part, name), (prefix, suffix) in BAND_KEYS.items():
        band = 0
        for r, (_, n) in enumerate(width_runs(config.widths)):
            tensors = [state[f"{prefix}.{k}.{suffix}"] for k in range(band, band + n)]
            out[f"{part}.{name}.{r}"] = torch.stack([t.reshape(t.shape[0], -1).squeeze(-1) for t in tensors])
            band += n
    for i in range(config.layers):
        for ours, theirs in ROFORMER_KEYS.items():
            out[f"band_nets.{i}.{ours}"] = state[f"net.{i}.band_net.{theirs}"].squeeze(-1)
        for j in range(config.tcn_blocks):
            for ours, theirs in TCN_KEYS.items():
                t = state[f"net.{i}.seq_net.blocks.{j}.{theirs}"]
                out[f"seq_nets.{i}.{j}.{ours}"] = t.squeeze(1) if ours == "dw_weight" else t.squeeze(-1)
    return config, out


def to_published(config: ApolloConfig, state: dict) -> dict:
    """State dict of :class:`Apollo` -> the published layout (loadable by the published code)."""
    if config.residual or config.causal or config.relative_output or config.anchored:
        raise ValueError("a residual, causal, relative-output or cutoff-anchored model has no equivalent in the published code")
    out: dict[str, torch.Tensor] = {}
    for (part, name), (prefix, suffix) in BAND_KEYS.items():
        band = 0
        for r, (_, n) in enumerate(width_runs(config.widths)):
            for t in state[f"{part}.{name}.{r}"].unbind(0):
                out[f"{prefix}.{band}.{suffix}"] = t.unsqueeze(-1) if name == "weight" else t
                band += 1
    cos, sin = rotary_tables(config.feature_dim // config.heads, config.max_positions)
    for i in range(config.layers):
        for ours, theirs in ROFORMER_KEYS.items():
            t = state[f"band_nets.{i}.{ours}"]
            out[f"net.{i}.band_net.{theirs}"] = t.unsqueeze(-1) if t.dim() == 2 else t
        out[f"net.{i}.band_net.cos_freq"] = cos.clone()
        out[f"net.{i}.band_net.sin_freq"] = sin.clone()
        for j in range(config.tcn_blocks):
            for ours, theirs in TCN_KEYS.items():
                t = state[f"seq_nets.{i}.{j}.{ours}"]
                if ours == "dw_weight":
                    t = t.unsqueeze(1)
                elif t.dim() == 2:
                    t = t.unsqueeze(-1)
                out[f"net.{i}.seq_net.blocks.{j}.{theirs}"] = t
    return out
