"""Stored results are tied to the exact data: other data is redone, bad samples are skipped and counted, and
inputs made from different samples are never ranked together."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image

import forward_feature_CNN
from pipeline import evaluate, extract
from pipeline.flabels import stage as flabel_stage
from pipeline.models.text import minilm_path
from pipeline.store import Store


def image_folder(root, classes=("cat", "dog", "owl"), per_class=4, seed=0):
    rng = np.random.default_rng(seed)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (36, 36, 3), dtype=np.uint8)).save(root / c / f"{i}.png")
    return root


def stage1(folder, results, *extra):
    argv = ["--dataset-dir", str(folder), "--results", str(results), "--models", "resnet18", "--pretrained", "false",
            "--image-size", "32", "--num-workers", "0", "--batch-size", "5", *extra]
    return extract.main(vars(forward_feature_CNN), argv)


def stage2(folder, results):
    constants = {"TASK": "classification", "DATASETS": [], "MODEL": str(minilm_path()), "ENCODER_NAME": None,
                 "TEMPLATE": "{}", "BATCH_SIZE": 8, "DEVICE": "cpu", "RESULTS": results,
                 "DATA_ROOT": results.parent / "data", "OVERWRITE": False}
    return flabel_stage.run_stage2(constants, backend="hf", argv=["--dataset-dir", str(folder)])


def test_the_same_settings_on_other_data_are_extracted_again(tmp_path, capsys):
    results = tmp_path / "results"
    first = image_folder(tmp_path / "a" / "train", seed=0)
    assert stage1(first, results) == 0
    before = np.array(Store(results).load_features("train", "resnet18")[0])
    shutil.rmtree(first)
    image_folder(first, seed=1)  # same folder name, other images
    assert stage1(first, results) == 0
    assert "made from other data" in capsys.readouterr().out
    after = np.array(Store(results).load_features("train", "resnet18")[0])
    assert not np.allclose(before, after)
    assert stage1(first, results) == 0 and "already there, skipped" in capsys.readouterr().out


def test_a_renamed_class_makes_features_and_flabels_again(tmp_path, capsys):
    results = tmp_path / "results"
    folder = image_folder(tmp_path / "pets")
    assert stage1(folder, results) == 0 and stage2(folder, results) == 0
    (folder / "owl").rename(folder / "parrot")
    assert stage2(folder, results) == 0
    assert "made from other data" in capsys.readouterr().out
    _, meta = Store(results).load_flabels("pets", "all-MiniLM-L6-v2", "class")
    assert meta["class_texts"] == ["cat", "dog", "parrot"]
    # the features still hold the old classes: stage 3 refuses to pair them with the new table
    outcome = evaluate.run(evaluate.Settings(task="classification", zoo="mine", datasets=["pets"],
                                             models=["resnet18"], metrics=["emms"], results=str(results)))
    assert outcome["counts"]["failed"] == 1
    assert any("made from other data than the features" in p.message for p in outcome["problems"])
    assert stage1(folder, results) == 0 and "made from other data" in capsys.readouterr().out
    outcome = evaluate.run(evaluate.Settings(task="classification", zoo="mine", datasets=["pets"],
                                             models=["resnet18"], metrics=["emms"], results=str(results)))
    assert outcome["counts"]["scored"] == 1


def test_unreadable_images_are_named_skipped_and_counted(tmp_path, capsys):
    results = tmp_path / "results"
    folder = image_folder(tmp_path / "photos")
    whole = (folder / "dog" / "0.png").read_bytes()
    (folder / "dog" / "1.png").write_bytes(whole[: len(whole) // 2])  # truncated
    (folder / "owl" / "x.jpg").write_bytes(b"")                         # empty
    assert stage1(folder, results) == 0
    out = capsys.readouterr().out
    assert "skipped sample 5" in out and "dog/1.png" in out and "owl/x.jpg" in out
    features, labels, meta = Store(results).load_features("photos", "resnet18")
    assert features.shape[0] == 11 == len(labels) and len(meta["skipped_samples"]) == 2
    assert labels.tolist() == [0] * 4 + [1] * 3 + [2] * 4
    assert stage1(folder, tmp_path / "strict", "--strict", "true") == 1
    assert "cannot read" in capsys.readouterr().out


def test_candidates_made_from_other_samples_are_not_ranked_together(tmp_path):
    results = tmp_path / "results"
    store = Store(results)
    rng = np.random.default_rng(0)
    for model, rows in (("full_a", 40), ("full_b", 40), ("subset", 30)):
        labels = np.arange(rows) % 4
        store.save_features("mine", model, rng.normal(size=(rows, 5)) + labels[:, None], labels,
                            {"data": {"fingerprint": f"{rows} rows"}})
    outcome = evaluate.run(evaluate.Settings(task="classification", zoo="mine", datasets=["mine"],
                                             metrics=["knn"], results=str(results)))
    assert sorted(store.load_scores("mine", "knn")) == ["full_a", "full_b"]
    (problem,) = [p for p in outcome["problems"] if p.kind == "different samples"]
    assert problem.model == "subset" and "30 rows" in problem.message and "40 rows" in problem.message
    results_json = json.loads(store.table_path("mine/classification_results.json").read_text())
    assert results_json["datasets"]["mine"]["models"] == ["full_a", "full_b"]


@pytest.mark.parametrize("flag, value, message", [("--image-size", "0", "--image-size must be none"),
                                                  ("--zoo", "no_such_zoo", "unknown classification zoo 'no_such_zoo'"),
                                                  ("--batch-size", "0", "--batch-size must be")])
def test_bad_flags_are_one_line_before_any_work(tmp_path, capsys, flag, value, message):
    argv = ["--dataset-dir", str(tmp_path / "nothing_here"), "--results", str(tmp_path / "results"), flag, value]
    if flag != "--zoo":
        argv += ["--models", "resnet18"]
    status = extract.main(vars(forward_feature_CNN), argv)
    err = capsys.readouterr().err
    assert status == 2 and message in err and "Traceback" not in err


def test_a_results_path_that_is_a_file_fails_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "results.txt"
    blocker.write_text("not a folder")
    assert stage1(image_folder(tmp_path / "photos"), blocker) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_damaged_stored_files_are_named_and_never_already_there(tmp_path, capsys):
    results = tmp_path / "results"
    folder = image_folder(tmp_path / "photos")
    assert stage1(folder, results) == 0
    store = Store(results)
    paths = store.feature_paths("photos", "resnet18")
    paths["feature"].write_bytes(paths["feature"].read_bytes()[:200])          # cut short
    with pytest.raises(ValueError, match=r"resnet18_feature\.npy is damaged .*--overwrite true"):
        store.load_features("photos", "resnet18")
    assert stage1(folder, results) == 0
    assert "is damaged" in capsys.readouterr().out and store.load_features("photos", "resnet18")[0].shape == (12, 512)
    paths["meta"].write_text("{not json")
    outcome = evaluate.run(evaluate.Settings(task="classification", zoo="mine", datasets=["photos"],
                                             models=["resnet18"], metrics=["knn"], results=str(results)))
    (problem,) = [p for p in outcome["problems"] if p.kind == "bad input"]
    assert "resnet18_meta.json is damaged" in problem.message


def test_the_fix_hints_are_commands_that_work_as_printed(tmp_path, capsys):
    """Missing features and F-labels of a folder: the printed commands (right script, zoo, image size, the
    folder, the encoder's model) run as printed and make what was missing."""
    import shlex
    import subprocess
    import sys
    from pathlib import Path

    results = tmp_path / "results"
    first, second = image_folder(tmp_path / "one"), image_folder(tmp_path / "two", seed=3)
    assert stage1(first, results) == 0 and stage2(first, results) == 0
    assert stage1(second, results) == 0                      # F-labels of the second folder are missing
    outcome = evaluate.run(evaluate.Settings(task="classification", zoo="mine", dataset_dir=str(second),
                                             models=["resnet18"], metrics=["emms"], results=str(results)))
    (message,) = [p.message for p in outcome["problems"] if p.kind == "missing input"]
    command = message.split("e.g. ")[1]
    assert "--dataset-dir" in command and f"--model {minilm_path()}" in command
    argv = shlex.split(command)
    assert argv[:2] == ["python", "Label_embedding/bert.py"]
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / argv[1]), *argv[2:]], capture_output=True, text=True,
                          timeout=300, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert Store(results).has_flabels("two", "all-MiniLM-L6-v2", "class")
