"""Checkpoints from the Hugging Face hub: ``hf://OWNER/REPO/FILE[@REVISION]``.

Resolved through ``huggingface_hub`` (its cache, ``HF_HOME``, ``HF_HUB_OFFLINE``, ``HF_ENDPOINT``, revisions),
so a file downloaded once is reused offline. E.g. the published weights: ``hf://JusperLee/Apollo/pytorch_model.bin``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from apollo.errors import ApolloError

PREFIX = "hf://"


class HubError(ApolloError):
    pass


def is_hub(spec: str | Path | None) -> bool:
    return spec is not None and str(spec).startswith(PREFIX)


def parse(spec: str) -> tuple[str, str, str | None]:
    """(repo id, file in the repo, revision or None) of ``hf://OWNER/REPO/FILE[@REVISION]``."""
    body, at, revision = spec[len(PREFIX) :].partition("@")
    parts = body.split("/")
    if len(parts) < 3 or not all(parts) or (at and not revision):
        raise HubError(f"{spec}: a hub checkpoint is hf://OWNER/REPO/FILE[@REVISION]")
    return "/".join(parts[:2]), "/".join(parts[2:]), revision or None


def resolve(spec: str) -> Path:
    """The local path of a hub file (downloaded into the hub cache unless there already); prints what it
    resolved to stderr."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)  # fmt: skip

    repo, filename, revision = parse(spec)
    try:
        path = Path(hf_hub_download(repo, filename, revision=revision))
    except LocalEntryNotFoundError:
        raise HubError(f"{spec}: not in the hub cache and the hub is not reachable (offline, or HF_HUB_OFFLINE=1)") from None
    except RepositoryNotFoundError:
        raise HubError(f"{spec}: no such repository on the hub (or it is private)") from None
    except RevisionNotFoundError:
        raise HubError(f"{spec}: no revision {revision!r} in {repo}") from None
    except EntryNotFoundError:
        raise HubError(f"{spec}: no file {filename!r} in {repo}") from None
    except (HfHubHTTPError, OSError, ValueError) as e:
        raise HubError(f"{spec}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    commit = path.parent.name if path.parent.parent.name == "snapshots" else "?"
    print(f"checkpoint: {spec} -> {path} (commit {commit[:12]})", file=sys.stderr)
    return path
