"""Two stage-3 runs at once on one results folder lose no score (the score files' read-merge-write is locked)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from pipeline.store import Store

ROOT = Path(__file__).resolve().parents[1]


def test_two_processes_scoring_disjoint_models_keep_every_entry(tmp_path):
    store = Store(tmp_path / "results")
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    models = [f"model_{i}" for i in range(12)]
    for model in models:
        store.save_features("shared", model, rng.normal(size=(60, 4)) + labels[:, None], labels,
                            {"data": {"fingerprint": "same"}})
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    for round_ in range(3):
        runs = [subprocess.Popen([sys.executable, str(ROOT / "evaluate_metric_cls.py"), "--zoo", "mine",
                                  "--datasets", "shared", "--metrics", "knn,hscore", "--overwrite", "true",
                                  "--results", str(store.root), "--models", ",".join(half)],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for half in (models[::2], models[1::2])]
        for run in runs:
            out, err = run.communicate(timeout=300)
            assert run.returncode == 0, err[-2000:]
            assert "0 failed" in out
        for metric in ("knn", "hscore"):
            stored = json.loads(store.scores_path("shared", metric).read_text())
            assert sorted(stored) == sorted(models), (round_, metric)
