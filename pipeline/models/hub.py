"""Model hubs when the network may be absent: decide within seconds, not after a minute of retries.

huggingface_hub retries an unreachable endpoint for ~25-50 s per file. Every loader in ``pipeline/`` asks
:func:`use_cache_only` first and, where it says so, loads inside :func:`cache_only`, so a missing
checkpoint fails at once with the loader's own message (what was needed, how to provide it locally).
"""
from __future__ import annotations

import functools
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from unittest import mock
from urllib.parse import urlparse

_TRUE = ("1", "true", "yes", "on")


class MissingCheckpointError(FileNotFoundError):
    """A model's checkpoint could not be loaded (captioning, QA, grounding); the message says what was tried and
    how to provide it locally."""


def offline_requested() -> bool:
    """The user asked for no downloads (HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE or TORCH_HUB_OFFLINE set)."""
    return any(os.environ.get(var, "").lower() in _TRUE
               for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TORCH_HUB_OFFLINE"))


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout_s: float = 3.0) -> bool:
    """One quick TCP connection to the hub endpoint (assumed reachable behind a proxy, which we cannot probe)."""
    if any(os.environ.get(var) for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    url = urlparse(hub_endpoint())
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)),
                                 timeout=timeout_s).close()
        return True
    except OSError:
        return False


def use_cache_only() -> bool:
    """Whether hub loads must read the local cache only (offline requested, or the hub cannot be reached)."""
    return offline_requested() or not hub_reachable()


@contextmanager
def cache_only(enabled: bool = True):
    """Inside, huggingface_hub (which reads this flag at call time) uses the local cache only."""
    if not enabled:
        yield
        return
    from huggingface_hub import constants

    with mock.patch.object(constants, "HF_HUB_OFFLINE", True):
        yield


def access_for(name: str, source: str, *, needs_hub: bool = False):
    """The hub access for loading model `name` from `source` (a context manager): a local folder is read as it
    is; a hub id (or, with ``needs_hub``, a folder whose missing parts come from the hub) is downloaded on first
    use, said first, and read from the local cache only when the hub is off or unreachable, so that an absent
    model fails within seconds."""
    if Path(source).is_dir() and not needs_hub:
        return cache_only(False)
    offline = use_cache_only()
    print(f"{name}: {'the hub is unreachable, reading the local cache only' if offline else 'loading'} "
          "(a hub id is downloaded from the Hugging Face Hub on first use)", flush=True)
    return cache_only(offline)


def checkpoint_source(name: str, checkpoint_dir: str | os.PathLike | None = None) -> str:
    """Where a Hugging Face model `name` loads from: ``checkpoint_dir/name`` if that is a folder, else `name`
    itself (a folder, or a hub id)."""
    if checkpoint_dir is not None and (Path(checkpoint_dir) / name).is_dir():
        return str(Path(checkpoint_dir) / name)
    return name
