"""A reduced `make demo`: demo.sh (the three stage scripts in order) on real EfficientNet-Lite0 weights and
real images, with fewer and smaller images; the committed ground truth is the one the full demo uses."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import metrics
from pipeline.store import Store

ROOT = Path(__file__).resolve().parents[1]


def test_reduced_demo_writes_every_stage_and_prints_the_tables(tmp_path):
    results = tmp_path / "demo"
    env = {**os.environ, "PY": sys.executable, "RESULTS": str(results), "DATASETS": "mnist5k,textiles",
           "IMAGE_SIZE": "32", "MAX_SAMPLES": "60", "MODELS": "efficientnet_lite0"}
    run = subprocess.run(["bash", str(ROOT / "demo.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]

    candidates = ["efficientnet_lite0_early", "efficientnet_lite0_mid", "efficientnet_lite0_last"]
    for dataset, n_classes in (("mnist5k", 10), ("textiles", 3)):
        for candidate in candidates:
            assert (results / "features" / dataset / f"{candidate}_feature.npy").exists()
        assert (results / "features" / dataset / "efficientnet_lite0_last_source_probs.npy").exists()
        assert (results / "flabels" / dataset / "all-MiniLM-L6-v2_class.npy").exists()
        assert (results / "tables" / "efficientnet_lite" / "plots" / f"classification_{dataset}.png").stat().st_size > 10_000

    assert "emms on zoo efficientnet_lite: correlation with fine-tuning" in run.stdout
    assert "weighted τ (scipy.stats.weightedtau(score, fine-tuned)) per dataset and metric" in run.stdout
    summary = json.loads((results / "tables" / "efficientnet_lite" / "classification_results.json").read_text())
    assert summary["counts"]["failed"] == 0
    # the stored EMMS score is EMMS of the stored features against the stored class F-labels
    store = Store(results)
    features, labels, _ = store.load_features("mnist5k", "efficientnet_lite0_early")   # D=40 < N=60
    table, _ = store.load_flabels("mnist5k", "all-MiniLM-L6-v2", "class")
    stored = store.load_scores("mnist5k", "emms")["efficientnet_lite0_early"]["score"]
    assert stored == pytest.approx(metrics.emms(features, [table], labels), rel=1e-12)
    assert stored < -0.01   # a real residual, not the interpolating case
    assert summary["datasets"]["mnist5k"]["scores"]["emms"]["efficientnet_lite0_early"] == stored
    # the other networks of the zoo were not extracted here: stage 3 names the command that makes them
    assert "[missing features] mnist5k: 6 model(s)" in run.stdout
    assert ("python forward_feature_CNN.py --zoo efficientnet_lite --models efficientnet_lite1,efficientnet_lite2 "
            "--datasets mnist5k --split train --max-samples 60 --image-size 32") in run.stdout
    _assert_same_as_recorded(results)


def _assert_same_as_recorded(results: Path) -> None:
    """Features, F-labels and scores equal those recorded in tests/data, to 1e-6. Recorded before the task
    refactor; re-recorded on 2026-12-02 after deliberate changes, with the largest moves: stage 1 on the CPU in
    channels_last (feature sums 3e-6), PCA components beyond the rank set to zero (NCTI, PARC on the 60-sample
    textiles `_last` features of rank 15), LogME's scale-aware start and its 1 - p fix (7.7e-3 on mnist5k
    `_last`, N=60 < D=1280); every other score moved by less than 4e-5."""
    recorded = json.loads((ROOT / "tests" / "data" / "demo_reduced_reference.json").read_text())
    for kind in ("features", "flabels"):
        for name, expected in recorded[kind].items():
            values = np.load(results / kind / name).astype(np.float64)
            assert list(values.shape) == expected["shape"], name
            assert values.sum() == pytest.approx(expected["sum"], rel=1e-6), name
            assert np.abs(values).sum() == pytest.approx(expected["abs_sum"], rel=1e-6), name
    for name, expected in recorded["scores"].items():
        dataset = name.split("/")[0]
        stored = json.loads((results / "scores" / f"{name}.json").read_text())
        for model, value in expected.items():
            assert stored[model]["score"] == pytest.approx(value, rel=_tolerance(results, dataset, model), abs=1e-9), \
                f"{name} {model}"


def _tolerance(results: Path, dataset: str, model: str) -> float:
    """1e-6, or 1e-2 for a candidate with no more samples than dimensions (60 x 1280): there PARC standardises
    nearly degenerate principal components, whose directions are rounding (measured 2026-12-02 on textiles
    `_last`: 6.9295 with one BLAS thread, 6.8997 with two, 6.9189 recorded on another machine)."""
    meta = json.loads((results / "features" / dataset / f"{model}_meta.json").read_text())
    return 1e-2 if meta["N"] <= meta["D"] else 1e-6
