"""Settings for tests, from the project's params.yaml (the only place values are written) with changes."""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import torch

from apollo import config
from apollo.models.apollo import Apollo
from apollo.models.reference import ReferenceApollo
from apollo.params import ApolloConfig

project_params = lru_cache(maxsize=None)(config.project_params)  # params.yaml, profiles layered on it


def section(name: str, **changes):
    """A params.yaml section (e.g. "train", or "sad.detection") with some values changed."""
    value = project_params()
    for part in name.split("."):
        value = getattr(value, part)
    return dataclasses.replace(value, **changes)


def model_config(profile: str | None = None, **changes) -> ApolloConfig:
    """params.yaml's generator (or a profile's, e.g. "paper") with some values changed."""
    return dataclasses.replace(project_params(*([profile] if profile else [])).model, **changes)


def tiny_model(causal: bool = False, seed: int = 0, **changes) -> Apollo:
    """The paper's generator (8 heads, direct mapping) at feature_dim 16 and 2 blocks, seeded, in eval mode."""
    torch.manual_seed(seed)
    return Apollo(model_config("paper", feature_dim=16, layers=2, causal=causal, **changes)).eval()


def tiny_reference_model(seed: int = 0) -> ReferenceApollo:
    torch.manual_seed(seed)
    return ReferenceApollo(feature_dim=16, layer=2).eval()
