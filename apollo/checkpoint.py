"""Generator checkpoints: our safetensors format, and the published formats read without flags.

Our format: a ``.safetensors`` file of the :class:`Apollo` state dict whose
metadata holds ``{"format": "apollo-restore", "config": <ApolloConfig JSON>}``.

Also read, architecture inferred from tensor shapes:
* a torch file ``{"model_name", "state_dict", "model_args"}`` (the released ``pytorch_model.bin``);
* a Lightning ``.ckpt`` whose ``state_dict`` keys carry an ``audio_model.`` prefix
  (the discriminator's keys beside them are ignored);
* a bare state dict in the published layout (torch or safetensors file).

Nothing is unpickled beyond tensors and plain containers: torch files are read
with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save

from apollo.errors import ApolloError
from apollo.files import atomic
from apollo.models import unpickle
from apollo.models.apollo import Apollo
from apollo.models.convert import from_published, is_published_layout
from apollo.params import ApolloConfig

FORMAT = "apollo-restore"
LIGHTNING_PREFIX = "audio_model."


class CheckpointError(ApolloError):
    """A checkpoint that is missing, unreadable or of an unknown layout."""


def save_generator(model: Apollo, path: str | os.PathLike) -> None:
    """Write atomically: a temporary name, renamed when complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    raw = save(state, metadata={"format": FORMAT, "config": json.dumps(model.config.to_dict())})
    with atomic(path) as tmp:
        Path(tmp).write_bytes(canonical_safetensors(raw))


def canonical_safetensors(raw: bytes) -> bytes:
    """The same safetensors file with its JSON header's keys sorted. safetensors writes the metadata map in
    a random order (a Rust HashMap), so equal weights and config gave files, and DVC hashes, that differed
    from run to run; the data offsets are absolute within the data section, so reordering the header is safe."""
    size = int.from_bytes(raw[:8], "little")
    header = json.dumps(json.loads(raw[8 : 8 + size]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # the format pads the header to 8-byte alignment
    return len(header).to_bytes(8, "little") + header + raw[8 + size :]


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 of a model's weights (names and bytes, in name order): equal on every rank of a run."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu") -> Apollo:
    config, state = read_checkpoint(path)
    try:
        model = Apollo(config)
    except ValueError as e:  # a config no generator can have (metadata edited by hand, another tool's)
        raise CheckpointError(f"{path}: its model config cannot be built ({e})") from None
    for name, tensor in model.state_dict().items():  # torch would list every mismatch in a many-line error
        if name in state and tuple(state[name].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{path}: tensor {name} has shape {tuple(state[name].shape)}, the model config "
                f"(feature_dim {config.feature_dim}, layers {config.layers}) needs {tuple(tensor.shape)}"
            )
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: weights do not match the inferred architecture "
            f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )
    check_weights(state, path)
    return model.to(device).eval()


def check_weights(state: dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """A damaged checkpoint (a NaN, a flipped exponent bit) would restore to NaN or huge peaks: refuse it here,
    for every reader (restore, evaluate)."""
    for name, tensor in state.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path}: weight {name} is not finite (NaN or Inf): a damaged checkpoint")
        if tensor.is_floating_point() and tensor.numel() and tensor.abs().max() > 1e6:
            raise CheckpointError(f"{path}: weight {name} reaches {tensor.abs().max().item():.3g}: a damaged checkpoint")


def read_checkpoint(path: str | os.PathLike) -> tuple[ApolloConfig, dict[str, torch.Tensor]]:
    """(config, state dict in our layout) from any supported checkpoint file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if _is_safetensors(path):
        return _read_safetensors(path)
    if not (zipfile.is_zipfile(path) or _looks_like_legacy_torch(path)):
        raise CheckpointError(f"{path}: not a checkpoint (neither a safetensors nor a torch file)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # foreign classes (a Lightning checkpoint's hyper_parameters): run none
        obj = _restricted_load(path, e)
    except Exception as e:  # corrupt zip, truncated file, ...
        raise CheckpointError(f"{path}: unreadable torch file ({type(e).__name__}: {e})") from None
    return _from_torch_object(path, obj)


def _restricted_load(path: Path, refused: Exception):
    """Tensors and containers only, every other class an inert stand-in (apollo.models.unpickle): never
    `weights_only=False`, never an import of a module the file names."""
    if not zipfile.is_zipfile(path):
        first = str(refused).strip().splitlines()[0] if str(refused).strip() else "unsupported content"
        raise CheckpointError(f"{path}: legacy torch file with non-tensor objects; refusing to unpickle ({first})")
    try:
        return unpickle.load(path)
    except unpickle.UnpickleError as e:
        raise CheckpointError(f"{path}: unreadable torch file ({e})") from None


def _is_safetensors(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and int.from_bytes(head[:8], "little") < 100_000_000 and head[8:9] == b"{"


def _looks_like_legacy_torch(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(1) == b"\x80"  # pickle protocol marker of torch's legacy format


def _read_safetensors(path: Path) -> tuple[ApolloConfig, dict[str, torch.Tensor]]:
    try:
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable safetensors file ({e})") from None
    if metadata.get("format") == FORMAT:
        try:
            return ApolloConfig.from_dict(json.loads(metadata["config"])), state
        except (KeyError, ValueError, TypeError) as e:
            raise CheckpointError(f"{path}: bad model config in metadata ({e})") from None
    return _from_state_dict(path, state, "a safetensors file")


def _from_torch_object(path: Path, obj) -> tuple[ApolloConfig, dict[str, torch.Tensor]]:
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        state = obj["state_dict"]
        if any(k.startswith(LIGHTNING_PREFIX) for k in state):
            generator = {k[len(LIGHTNING_PREFIX) :]: v for k, v in state.items() if k.startswith(LIGHTNING_PREFIX)}
            return _from_state_dict(path, generator, "a Lightning checkpoint")
        return _from_state_dict(path, state, "a torch checkpoint dict")
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return _from_state_dict(path, obj, "a bare state dict")
    return _unknown(path, obj)


def _from_state_dict(path: Path, state: dict, kind: str) -> tuple[ApolloConfig, dict[str, torch.Tensor]]:
    if is_published_layout(state):
        try:
            return from_published(state)
        except (KeyError, IndexError, ValueError) as e:
            raise CheckpointError(f"{path}: {kind} in the published Apollo layout, but incomplete ({e})") from None
    keys = sorted(state)[:4]
    raise CheckpointError(f"{path}: {kind} of unknown layout (first keys: {keys}); expected Apollo generator weights")


def _unknown(path: Path, obj) -> tuple[ApolloConfig, dict[str, torch.Tensor]]:
    if isinstance(obj, dict):
        found = f"a dict with keys {sorted(map(str, obj))[:6]}"
    else:
        found = f"a {type(obj).__name__}"
    raise CheckpointError(f"{path}: unknown checkpoint layout: found {found}")
