"""Stage 1 under torchrun: 2 CPU processes (gloo) give the same files as one process, and a re-run after a
crash finishes from the parts already written.

Each torchrun launch starts 3 Python processes (the launcher and 2 ranks), so the data is small: 30 images of
32 px with a seeded resnet18 (a checkpoint file, so that every process has the same weights), and the caption
file of tests/test_caption.py with a tiny VisionEncoderDecoder.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_caption import caption_of, make_images, make_tiny_captioner

from pipeline.store import Store

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_TIMEOUT_S = 300


def image_folder(root: Path, classes=("ant", "bee", "cat"), per_class=10) -> Path:
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (36, 36, 3), dtype=np.uint8)).save(root / c / f"{i:02d}.png")
    whole = (root / "cat" / "00.png").read_bytes()
    (root / "cat" / "03.png").write_bytes(whole[: len(whole) // 2])  # unreadable, in rank 1's part
    return root


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """30 images (one truncated) and a seeded resnet18 checkpoint."""
    from torchvision.models import resnet18

    root = tmp_path_factory.mktemp("dist")
    folder = image_folder(root / "pets")
    (root / "ckpt").mkdir()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        torch.save(resnet18().state_dict(), root / "ckpt" / "resnet18.pth")
    return {"folder": folder, "checkpoints": root / "ckpt"}


@pytest.fixture(scope="module")
def single_images(images, tmp_path_factory):
    """The 1-process reference of the image folder."""
    results = tmp_path_factory.mktemp("single")
    single = run(["forward_feature_CNN.py", *cnn_args(images, results)])
    assert single.returncode == 0, single.stdout + single.stderr
    return results


def cnn_args(images, results: Path) -> list[str]:
    return ["--dataset-dir", str(images["folder"]), "--checkpoint-dir", str(images["checkpoints"]),
            "--models", "resnet18", "--image-size", "32", "--num-workers", "0", "--batch-size", "4",
            "--device", "cpu", "--results", str(results)]


def run(argv: list[str], processes: int = 1, env: dict | None = None) -> subprocess.CompletedProcess:
    """A stage script (or a launcher) in fresh processes: alone, or under torchrun with `processes` ranks."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    command = [*(launcher if processes > 1 else [sys.executable]), *argv]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    environment.pop("WORLD_SIZE", None)
    return subprocess.run(command, check=False, cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=LAUNCH_TIMEOUT_S)


def assert_same_files(one: Path, two: Path, dataset: str, model: str) -> dict:
    """The files of a 2-process run equal those of a 1-process run: same rows in the same order, values to
    1e-5, the same labels and skipped samples. Returns the 2-process meta."""
    features, labels, meta = Store(two).load_features(dataset, model)
    expected, expected_labels, expected_meta = Store(one).load_features(dataset, model)
    np.testing.assert_allclose(features, expected, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(labels, expected_labels)
    probs, expected_probs = Store(two).load_source_probs(dataset, model), Store(one).load_source_probs(dataset, model)
    assert (probs is None) == (expected_probs is None)
    if probs is not None:
        np.testing.assert_allclose(probs, expected_probs, rtol=0, atol=1e-5)
    assert meta["skipped_samples"] == expected_meta["skipped_samples"]
    assert meta["data"] == expected_meta["data"] and meta["world_size"] == 2 and "world_size" not in expected_meta
    return meta


def test_two_processes_write_what_one_writes_images(images, single_images, tmp_path):
    two = tmp_path / "two"
    launched = run(["forward_feature_CNN.py", *cnn_args(images, two)], processes=2)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    meta = assert_same_files(single_images, two, "pets", "resnet18")
    assert meta["N"] == 29 and [s["index"] for s in meta["skipped_samples"]] == [23]
    assert Store(two).load_source_probs("pets", "resnet18").shape == (29, 1000)
    assert launched.stdout.count(": wrote ") == 1  # rank 0 reports; rank 1 prints nothing
    assert not Store(two).shard_folder("pets", "resnet18").exists()  # the parts are removed once joined
    assert not (two / "shards").exists()   # and the folders that held them

    # a rank that fails fails the model on every rank (exit status 1) instead of leaving the others waiting
    launcher = write_launcher(tmp_path, two)
    failed = run([str(launcher), "forward_feature_CNN.py", *cnn_args(images, two), "--overwrite", "true"],
                 processes=2, env={"FAULT": "resume"})
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "resnet18: FAILED: rank 0: AssertionError: rank 0 ran its part again" in failed.stdout
    assert_same_files(single_images, two, "pets", "resnet18")  # the stored set is left as it was
    assert Store(two).shard_paths("pets", "resnet18", 1, 2)["meta"].exists()  # rank 1's part stays for a re-run


def test_two_processes_write_what_one_writes_captions(tmp_path):
    names = make_images(tmp_path / "caps" / "images", 6)
    rows = [(f"images/{names[i]}", caption_of(i, v)) for v in range(3) for i in range(6)]
    table = tmp_path / "caps" / "caps.csv"
    table.write_text("image,caption\n" + "".join(f'{path},"{text}"\n' for path, text in rows))
    make_tiny_captioner(tmp_path / "ckpt" / "tiny_gpt2", decoder="gpt2", seed=1)
    args = ["--caption-file", str(table), "--checkpoint-dir", str(tmp_path / "ckpt"), "--models", "tiny_gpt2",
            "--num-workers", "0", "--batch-size", "4", "--device", "cpu"]
    single = run(["forward_feature_caption.py", *args, "--results", str(tmp_path / "one")])
    assert single.returncode == 0, single.stdout + single.stderr
    launched = run(["forward_feature_caption.py", *args, "--results", str(tmp_path / "two")], processes=2)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    meta = assert_same_files(tmp_path / "one", tmp_path / "two", "caps", "tiny_gpt2")
    assert meta["N"] == 18 and not Store(tmp_path / "two").shard_folder("caps", "tiny_gpt2").exists()


LAUNCHER = '''"""Stage 1 with a fault: FAULT=crash makes rank 1 die, having written nothing, once rank 0's part is
finished; FAULT=resume makes rank 0 fail if it runs its model again."""
import os, runpy, sys, time
sys.path.insert(0, {root!r})
from pipeline.extract import loop
from pipeline.store import Store

fault, rank = os.environ["FAULT"], int(os.environ["RANK"])


def crash(*args, **kwargs):
    finished = Store({results!r}).shard_paths("pets", "resnet18", 0, 2)["meta"]
    while not finished.exists():
        time.sleep(0.1)
    os._exit(3)


def must_not_run(*args, **kwargs):
    raise AssertionError("rank 0 ran its part again")


if (fault, rank) == ("crash", 1):
    loop.run_batches = crash
if (fault, rank) == ("resume", 0):
    loop.run_batches = must_not_run
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
'''


def write_launcher(folder: Path, results: Path) -> Path:
    launcher = folder / "launch.py"
    launcher.write_text(LAUNCHER.format(root=str(ROOT), results=str(results)))
    return launcher


def test_a_rerun_after_a_crash_finishes_from_the_parts(images, single_images, tmp_path):
    two = tmp_path / "two"
    argv = [str(write_launcher(tmp_path, two)), "forward_feature_CNN.py", *cnn_args(images, two)]
    crashed = run(argv, processes=2, env={"FAULT": "crash"})
    store = Store(two)
    assert crashed.returncode != 0
    assert store.features_meta("pets", "resnet18") is None  # nothing a later stage would read
    assert store.shard_paths("pets", "resnet18", 0, 2)["meta"].exists()
    assert not store.shard_paths("pets", "resnet18", 1, 2)["meta"].exists()

    resumed = run(argv, processes=2, env={"FAULT": "resume"})  # rank 0 would fail if it ran its model again
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resnet18: part 1/2 (samples 0-14) already there, reused" in resumed.stdout
    assert_same_files(single_images, two, "pets", "resnet18")
    assert not store.shard_folder("pets", "resnet18").exists()


def test_download_under_torchrun_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    import argparse

    from pipeline import extract, tasks
    from pipeline.extract import distributed

    monkeypatch.setattr(distributed, "start", lambda device: object())   # as if launched by torchrun
    args = argparse.Namespace(device="cpu", results=str(tmp_path / "results"), download=True, batch_size=1,
                              num_workers=0, image_size=None, max_samples=None, models=["resnet18"], zoo="z")
    assert extract.run_stage1(tasks.get("classification"), args) == 2
    assert "--download under torchrun" in capsys.readouterr().err and not (tmp_path / "results").exists()
