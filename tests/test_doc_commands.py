"""The offline examples of the documentation, run as written: every ```bash block that follows the line MARKER in
README.md or docs/*.md is run by bash in a copy of the repository's code (so that its data/ and results/ are the
copy's), with `python` the suite's interpreter and the hub offline; it must exit 0 and its stage 3 must rank
the models. One block a task is required (classification's offline run is `make demo`, run reduced by
tests/test_demo.py)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- offline example: tests/test_doc_commands.py runs the next block as written -->"
CODE = ("pipeline", "metrics", "Label_embedding", "tools")   # with the top-level scripts and data/ground_truth
STAGE3 = {"captioning": "evaluate_metric_caption.py", "vqa": "evaluate_metric_vqa.py",
          "tqa": "evaluate_metric_tqa.py", "rec": "evaluate_metric_rec.py"}


def marked_blocks(text: str) -> list[str]:
    """The ```bash blocks that follow MARKER (blank lines between allowed)."""
    pattern = re.escape(MARKER) + r"\s*\n```bash\n(.*?)\n```"
    return re.findall(pattern, text, flags=re.DOTALL)


def documented_examples() -> dict[str, tuple[Path, str]]:
    """{task: (page, block)}: each marked block, keyed by the stage-3 script it runs."""
    found = {}
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in marked_blocks(page.read_text(encoding="utf-8")):
            tasks = [task for task, script in STAGE3.items() if script in block]
            assert len(tasks) == 1, f"{page.name}: a marked block must run one task's stage 3, got {tasks}"
            found[tasks[0]] = (page, block)
    return found


def test_the_marker_finds_blocks_and_only_those():
    text = f"intro\n```bash\nnot me\n```\n{MARKER}\n\n```bash\npython a.py \\\n    --x 1\n```\n```bash\nnor me\n```"
    assert marked_blocks(text) == ["python a.py \\\n    --x 1"]


def test_every_task_has_an_offline_example():
    assert sorted(documented_examples()) == sorted(STAGE3)


def sandbox(folder: Path) -> dict:
    """A copy of the repository's code in `folder` and the environment to run a block in it."""
    for name in CODE:
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    for script in ROOT.glob("*.py"):
        shutil.copy2(script, folder / script.name)
    shutil.copytree(ROOT / "data" / "ground_truth", folder / "data" / "ground_truth")
    (folder / "bin").mkdir()
    shim = folder / "bin" / "python"   # a shell shim, not a symlink: the venv is found from the real path
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{folder / 'bin'}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(folder)}
    where = subprocess.run(["python", "-c", "import pipeline; print(pipeline.__file__)"], cwd=folder, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert Path(where.strip()).is_relative_to(folder), f"the copy imports another pipeline: {where}"
    return env


@pytest.mark.parametrize("task", sorted(STAGE3))
def test_the_offline_example_runs_as_written(task, tmp_path):
    page, block = documented_examples()[task]
    env = sandbox(tmp_path)
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, f"{page.name}'s {task} example failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert "models ranked by the consensus of the metrics and by each metric" in run.stdout
    assert "0 failed" in run.stdout and (tmp_path / "results" / "tables").is_dir()   # the copy's store, not ours
