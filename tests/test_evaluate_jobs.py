"""Stage 3 with --jobs 2 (cells scored in worker processes) stores what --jobs 1 stores, prints the tables
once, and a cell that fails in a worker drops its old score as it does in one process."""
import numpy as np
import pytest

from pipeline import evaluate
from test_evaluate import MODELS, _cls_zoo


def toy_zoo(root, n=120, dim=8):
    """test_evaluate's zoo (four models of decreasing signal, two class F-label tables, a ground truth)."""
    store, _ = _cls_zoo(root, n=n, dim=dim)
    return store, root / "truth.json"


def score(store, truth, jobs):
    printed = []
    outcome = evaluate.run(evaluate.Settings(task="classification", zoo="toy", ground_truth=str(truth),
                                             results=str(store.root), jobs=jobs), out=printed.append)
    return outcome, printed


def stored_scores(store, metrics):
    """{metric: {model: entry without its time}}: what the cache holds."""
    return {name: {model: {k: v for k, v in entry.items() if k != "seconds"}
                   for model, entry in store.load_scores("toyset", name).items()} for name in metrics}


def test_two_jobs_store_what_one_job_stores(tmp_path):
    (tmp_path / "one").mkdir(), (tmp_path / "two").mkdir()
    (one, truth_one), (two, truth_two) = toy_zoo(tmp_path / "one"), toy_zoo(tmp_path / "two")
    first, printed_one = score(one, truth_one, jobs=1)
    second, printed_two = score(two, truth_two, jobs=2)
    names = first["plan"].metrics["toyset"]
    assert len(names) >= 10 and first["counts"] == second["counts"] and first["counts"]["scored"] > 30
    assert stored_scores(one, names) == stored_scores(two, names)
    assert all(len(stored_scores(two, names)[name]) == len(MODELS) for name in names)
    assert len(printed_two) == len(printed_one) and len(set(printed_two)) == len(printed_two)  # each table once
    assert [(p.model, p.metric, p.kind) for p in first["problems"]] == \
        [(p.model, p.metric, p.kind) for p in second["problems"]]

    # the features of one model change and now hold a NaN: its cells fail in the workers, their old scores go
    for store in (one, two):
        features, labels, _ = store.load_features("toyset", "weak", mmap=False)
        features[3, 2] = np.nan
        store.save_features("toyset", "weak", features, labels, {"weights": "synthetic, changed"})
    first, _ = score(one, truth_one, jobs=1)
    second, _ = score(two, truth_two, jobs=2)
    assert first["counts"] == second["counts"] and first["counts"]["failed"] >= 10
    cached = stored_scores(two, names)
    assert cached == stored_scores(one, names)
    assert not any("weak" in entries for entries in cached.values())
    assert all("strong" in cached[name] for name in names if name not in ("ncti", "etran"))


def test_jobs_must_be_a_positive_whole_number(tmp_path):
    store, truth = toy_zoo(tmp_path)
    with pytest.raises(evaluate.UsageError, match="--jobs must be a whole number of at least 1, got 0"):
        score(store, truth, jobs=0)


def _dies_on_weak(dataset, cell):
    """A worker that dies (as one killed or out of memory) when given a cell of the model 'weak'."""
    import os

    from pipeline.evaluate import scoring

    if cell[0] == "model" and cell[1] == "weak":
        os._exit(1)
    return scoring._WORKER.compute(dataset, cell, {m: scoring._WORKER.store.load_features(dataset, m)
                                                   for m in ([cell[1]] if cell[0] == "model" else cell[1])})


def test_a_worker_that_dies_fails_its_cells_and_drops_their_old_scores(tmp_path, monkeypatch):
    import multiprocessing

    from pipeline.evaluate import scoring

    store, truth = toy_zoo(tmp_path)
    first, _ = score(store, truth, jobs=1)
    names = first["plan"].metrics["toyset"]
    before = stored_scores(store, names)
    features, labels, _ = store.load_features("toyset", "weak", mmap=False)
    store.save_features("toyset", "weak", features * 2, labels, {"weights": "synthetic, changed"})
    # forked workers (so that they run this module's function); the one given a cell of 'weak' dies
    fork = multiprocessing.get_context("fork")
    monkeypatch.setattr(multiprocessing, "get_context", lambda method=None: fork)
    monkeypatch.setattr(scoring, "_compute_in_worker", _dies_on_weak)
    broken, _ = score(store, truth, jobs=2)
    per_model = [n for n in names if n not in ("ncti", "etran")]
    assert broken["counts"]["failed"] == len(names)  # weak's cells and the zoo's: nothing else was out of date
    assert any("the worker process scoring it failed" in p.message for p in broken["problems"])
    after = stored_scores(store, names)
    assert not any("weak" in entries for entries in after.values())  # no score of the old features is left
    assert all(after[n] == {m: e for m, e in before[n].items() if m != "weak"} for n in per_model)
    assert not after["ncti"] and not after["etran"]

    monkeypatch.undo()
    again, _ = score(store, truth, jobs=2)
    assert again["counts"]["scored"] == len(names) - 2 + 2 * len(MODELS) and again["counts"]["failed"] == 0
