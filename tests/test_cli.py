"""pipeline.cli: UPPER_CASE constants of a stage script -> --flags, types inferred from the defaults."""
import argparse

import pytest

from pipeline import cli

CONSTANTS = dict(DATASETS=["cifar10", "dtd"], BATCH_SIZE=32, AMP=False, MAX_SAMPLES=None, DATASET_DIR=None,
                 LR=0.1, MODELS=[], SIZES=(1, 2), NAME="x", OPTS={}, lowercase_ignored=1, MODULE_IGNORED=argparse)


def test_defaults_come_back_lowercased_and_copied():
    args = cli.parse(CONSTANTS, "demo", [])
    assert vars(args) == dict(datasets=["cifar10", "dtd"], batch_size=32, amp=False, max_samples=None,
                              dataset_dir=None, lr=0.1, models=[], sizes=[1, 2], name="x", opts={})
    args.datasets.append("food")
    assert CONSTANTS["DATASETS"] == ["cifar10", "dtd"]


def test_flags_win_with_types_from_defaults():
    argv = ["--datasets", "a,b", "c", "--batch-size", "8", "--amp", "true", "--max-samples", "100",
            "--dataset-dir", "2024", "--lr", "1e-3", "--models", "--sizes", "3,4", "--opts", '{"k": 1}']
    args = cli.parse(CONSTANTS, "demo", argv)
    assert args.datasets == ["a", "b", "c"] and args.batch_size == 8 and args.amp is True
    assert args.max_samples == 100 and args.dataset_dir == "2024" and args.lr == pytest.approx(1e-3)
    assert args.models == [] and args.sizes == [3, 4] and args.opts == {"k": 1}
    assert cli.parse(CONSTANTS, "demo", ["--max-samples", "none"]).max_samples is None
    assert cli.parse(CONSTANTS, "demo", ["--amp", "no"]).amp is False


@pytest.mark.parametrize("argv", [["--amp", "maybe"], ["--sizes", "a"], ["--batch-size", "1.5"],
                                  ["--opts", "[1]"], ["--unknown", "1"]])
def test_bad_values_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        cli.parse(CONSTANTS, "demo", argv)
    assert "error" in capsys.readouterr().err


def test_types_override_and_help_from_comments(tmp_path, capsys):
    script = tmp_path / "stage.py"
    script.write_text("IMAGE_SIZE = None  # input side in pixels; None = the model's own\n")
    constants = {"__file__": str(script), "IMAGE_SIZE": None}
    assert cli.parse(constants, "demo", ["--image-size", "64"], types={"IMAGE_SIZE": int}).image_size == 64
    assert cli.parse(constants, "demo", ["--image-size", "None"], types={"IMAGE_SIZE": int}).image_size is None
    with pytest.raises(SystemExit):
        cli.parse(constants, "demo", ["--help"])
    assert "None = the model's own" in capsys.readouterr().out
    imported = {**constants, "PAPER_DATASETS": ("a", "b")}  # in globals() of the script, but not assigned there
    assert "paper_datasets" not in vars(cli.parse(imported, "demo", []))
    with pytest.raises(ValueError, match="not constants"):
        cli.parse(constants, "demo", [], types={"NOPE": int})
