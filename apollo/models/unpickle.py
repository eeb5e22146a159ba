"""Reading community torch checkpoints without running their code.

Lightning ``.ckpt`` files pickle their ``hyper_parameters`` as foreign objects (an omegaconf ``DictConfig``, an
``argparse.Namespace``, a project's own config class), which torch's ``weights_only=True`` refuses. This module
reads torch's zip format with its own unpickler instead:

* tensors, storages and plain containers are built (the few torch and ``collections`` names torch's own
  writer uses, listed in ``ALLOWED``);
* every other global the pickle names becomes an inert stand-in (a :class:`Placeholder` subclass) that
  records its name, the arguments it was called with and the state it was given, and does nothing else. The module the pickle
  names is never imported, so nothing in the file runs: a pickle that would call ``os.system`` gets a
  placeholder called with its arguments.

Only torch's zip format (``torch.save`` since torch 1.6, every Lightning checkpoint) is read; the legacy
tar/pickle format is refused.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path

import torch

# (module, name) -> what the unpickler may build. Nothing else is ever resolved to real code.
ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
}
STORAGE_DTYPES = {  # torch's legacy typed storage names -> element type (how torch.save names a storage)
    "DoubleStorage": torch.float64, "FloatStorage": torch.float32, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}  # fmt: skip


class UnpickleError(ValueError):
    pass


class Placeholder:
    """Base of the stand-ins for globals the file names and we do not build: each records its origin, the
    arguments it was created with and the state it was given, and does nothing else. Stand-ins are types, so
    protocol-2 pickles (NEWOBJ: ``cls.__new__(cls, *args)``) of foreign objects load too."""

    origin = "?"

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        self.args, self.state = args, None
        return self

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):  # BUILD: kept as data, never applied to a real object
        self.state = state

    def __repr__(self) -> str:
        return f"<placeholder for {self.origin}>"


def _stand_in(module: str, name: str) -> type:
    return type(str(name)[:100] or "unnamed", (Placeholder,), {"origin": f"{module}.{name}", "__module__": __name__})


class _StorageType:
    """The `torch FloatStorage`-style global of a persistent id: only its element type is used."""

    def __init__(self, dtype: torch.dtype):
        self.dtype = dtype


class _Unpickler(pickle.Unpickler):
    def __init__(self, data, archive: zipfile.ZipFile, prefix: str):
        super().__init__(data)
        self.archive, self.prefix, self.storages, self.stand_ins = archive, prefix, {}, {}

    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED:
            return ALLOWED[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        key = (module, name)
        if key not in self.stand_ins:
            self.stand_ins[key] = _stand_in(module, name)
        return self.stand_ins[key]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise UnpickleError(f"unsupported persistent id {type(pid).__name__}")
        _, kind, key, _location, numel = pid
        if key not in self.storages:
            raw = self.archive.read(f"{self.prefix}data/{key}")
            itemsize = torch.empty((), dtype=kind.dtype).element_size()
            if len(raw) < numel * itemsize:
                raise UnpickleError(f"storage {key} holds {len(raw)} bytes, needs {numel * itemsize}")
            untyped = torch.UntypedStorage.from_buffer(raw[: numel * itemsize] or b"\0", dtype=torch.uint8)
            self.storages[key] = torch.storage.TypedStorage(wrap_storage=untyped, dtype=kind.dtype, _internal=True)
        return self.storages[key]


def load(path: str | Path):
    """The object a torch zip file holds, with tensors built and every other class an inert Placeholder."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise UnpickleError(f"not a torch zip file ({e})") from None
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise UnpickleError("not a torch zip file (no single <name>/data.pkl)")
        prefix = pickles[0][: -len("data.pkl")]
        try:
            with archive.open(pickles[0]) as data:
                return _Unpickler(data, archive, prefix).load()
        except UnpickleError:
            raise
        except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, RuntimeError, zipfile.BadZipFile) as e:
            raise UnpickleError(f"unreadable pickle ({type(e).__name__}: {e})") from None
