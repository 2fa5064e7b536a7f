"""The stage scripts find each other's outputs with their defaults, from any working directory: results/ and
data/ are the repository's, not the current directory's."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pipeline.models.text import minilm_path
from pipeline.store import Store

ROOT = Path(__file__).resolve().parents[1]


def _copy_of_the_repository(where: Path) -> Path:
    """The scripts and packages, so that the default results/ of this test is not the real repository's."""
    copy = where / "repo"
    for name in ("pipeline", "metrics", "Label_embedding", "data/ground_truth"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for script in ("forward_feature_CNN.py", "evaluate_metric_cls.py"):
        shutil.copy(ROOT / script, copy / script)
    return copy


def test_three_stages_from_another_directory_with_default_results(tmp_path):
    repo = _copy_of_the_repository(tmp_path)
    elsewhere = tmp_path / "somewhere_else"
    elsewhere.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(repo)}
    common = ["--datasets", "digits"]
    stages = [
        [repo / "forward_feature_CNN.py", *common, "--zoo", "efficientnet_lite", "--models", "efficientnet_lite0",
         "--image-size", "32", "--max-samples", "40", "--split", "train", "--num-workers", "0"],
        [repo / "Label_embedding" / "bert.py", *common, "--model", str(minilm_path())],
        [repo / "evaluate_metric_cls.py", *common, "--zoo", "efficientnet_lite", "--metrics", "emms,knn",
         "--models", "efficientnet_lite0_early,efficientnet_lite0_mid,efficientnet_lite0_last"],
    ]
    for stage in stages:
        done = subprocess.run([sys.executable, *map(str, stage)], cwd=elsewhere, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert not (elsewhere / "results").exists()
    store = Store(repo / "results")
    assert store.has_features("digits", "efficientnet_lite0_mid")
    assert store.list_flabel_encoders("digits", "class") == ["all-MiniLM-L6-v2"]
    assert sorted(store.load_scores("digits", "knn")) == ["efficientnet_lite0_early", "efficientnet_lite0_last",
                                                          "efficientnet_lite0_mid"]
    assert "scored 6 cell(s)" in done.stdout and "0 failed" in done.stdout
