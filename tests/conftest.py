import os
import runpy
import sys
from pathlib import Path

import pytest

# Tests never reach a model hub: a failed hub call would otherwise take ~30-50 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]


def run_script(script: str, argv: list[str], monkeypatch) -> int:
    """`python <script> <argv>` in this process (the script's __main__ block), sys.argv and sys.path restored;
    returns its exit status."""
    monkeypatch.setattr(sys, "argv", [script, *argv])
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(ROOT / script), run_name="__main__")
    return exited.value.code
