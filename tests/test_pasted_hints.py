"""Every command stage 3 prints to make a missing input works when pasted as it is, for every task: an input is
removed, the printed commands run, and stage 3 then scores every model (issue 25)."""
import shlex
import shutil

import numpy as np
import pytest
from conftest import run_script
from test_caption import make_images, make_tiny_captioner
from test_rec import TINY as REC_TINY, make_tiny_owlvit, write_refs
from test_tqa import make_tiny_qa_model, qa_rows

from pipeline.store import Store
from pipeline.tasks.vqa.data import write_digit_pairs


def printed_commands(out: str) -> list[list[str]]:
    """The stage-1 and stage-2 commands of stage 3's summary, split as a shell would split them."""
    commands = []
    for line in out.splitlines():
        for marker in ("make them with: ", "make them with stage 2, e.g. ", "make it with: "):
            if line.lstrip().startswith("- [") and marker in line:
                commands.append(shlex.split(line.split(marker, 1)[1].split(" (")[0]))
                break
    return commands


def remove_and_remake(store: Store, dataset: str, model: str, stage3: list[str], monkeypatch, capsys) -> str:
    """Remove one model's features and every F-label table, run stage 3, paste what it prints, run stage 3 again."""
    for path in store.feature_paths(dataset, model).values():
        path.unlink()
    shutil.rmtree(store.root / "flabels" / dataset)
    capsys.readouterr()
    script, argv = stage3[0], stage3[1:]
    run_script(script, argv, monkeypatch)
    commands = printed_commands(capsys.readouterr().out)
    assert len(commands) == 2 and {c[1].split("/")[0] for c in commands} >= {"Label_embedding"}
    for command in commands:
        assert command[0] == "python"
        assert run_script(command[1], command[2:], monkeypatch) == 0, " ".join(command)
    capsys.readouterr()
    assert run_script(script, argv, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "missing" not in out
    return out


def test_captioning(tmp_path, monkeypatch, capsys):
    names = make_images(tmp_path / "pics" / "images", 6)
    table = tmp_path / "pics" / "caps.csv"
    table.write_text("image,caption\n" + "".join(f"images/{names[i]},a photo number {i} of {v}\n"
                                                for v in range(2) for i in range(6)))
    make_tiny_captioner(tmp_path / "ckpts" / "tiny_a")
    make_tiny_captioner(tmp_path / "ckpts" / "tiny_b", encoder_dim=48, seed=1)
    results = str(tmp_path / "results")
    assert run_script("forward_feature_caption.py", ["--dataset-dir", str(table), "--checkpoint-dir",
                                                     str(tmp_path / "ckpts"), "--models", "tiny_a,tiny_b",
                                                     "--results", results, "--num-workers", "0"], monkeypatch) == 0
    assert run_script("Label_embedding/bert_sentence.py", ["--dataset-dir", str(table), "--model", "minilm",
                                                           "--results", results], monkeypatch) == 0
    stage3 = ["evaluate_metric_caption.py", "--dataset-dir", str(table), "--results", results, "--models",
              "tiny_a,tiny_b"]
    remove_and_remake(Store(results), "caps", "tiny_b", stage3, monkeypatch, capsys)
    assert sorted(Store(results).load_scores("caps", "emms")) == ["tiny_a", "tiny_b"]


def test_text_qa(tmp_path, monkeypatch, capsys):
    import json

    make_tiny_qa_model(tmp_path / "ckpts" / "tiny_bert_qa", "bert")
    make_tiny_qa_model(tmp_path / "ckpts" / "tiny_roberta_qa", "roberta", seed=1)
    table = tmp_path / "mine" / "qa.jsonl"
    table.parent.mkdir()
    table.write_text("".join(json.dumps({k: row[k] for k in ("context", "question", "answer")}) + "\n"
                             for row in qa_rows(paragraphs=3, per_paragraph=5)))
    results = str(tmp_path / "results")
    assert run_script("forward_feature_tqa.py", ["--qa-file", str(table), "--checkpoint-dir", str(tmp_path / "ckpts"),
                                                 "--models", "tiny_bert_qa,tiny_roberta_qa", "--max-length", "48",
                                                 "--stride", "8", "--results", results, "--num-workers", "0"],
                      monkeypatch) == 0
    assert run_script("Label_embedding/bert_sentence.py", ["--task", "tqa", "--qa-file", str(table), "--model",
                                                           "minilm", "--results", results], monkeypatch) == 0
    stage3 = ["evaluate_metric_tqa.py", "--dataset-dir", str(table), "--results", results, "--models",
              "tiny_bert_qa,tiny_roberta_qa"]
    out = remove_and_remake(Store(results), "mine", "tiny_roberta_qa", stage3, monkeypatch, capsys)
    assert "scored" in out and sorted(Store(results).load_scores("mine", "logme")) == ["tiny_bert_qa",
                                                                                      "tiny_roberta_qa"]


def test_referring_expressions(tmp_path, monkeypatch, capsys):
    refs = write_refs(tmp_path / "myrefs")
    make_tiny_owlvit(tmp_path / "ckpts" / REC_TINY[0])
    results = str(tmp_path / "results")
    assert run_script("forward_feature_rec.py", ["--dataset-dir", str(refs), "--checkpoint-dir",
                                                 str(tmp_path / "ckpts"), "--models",
                                                 f"efficientnet_lite0_minilm,{REC_TINY[0]}", "--pretrained", "false",
                                                 "--image-size", "32", "--results", results, "--num-workers", "0"],
                      monkeypatch) == 0
    assert run_script("Label_embedding/box.py", ["--dataset-dir", str(refs), "--results", results], monkeypatch) == 0
    stage3 = ["evaluate_metric_rec.py", "--dataset-dir", str(refs), "--results", results, "--models",
              f"efficientnet_lite0_minilm,{REC_TINY[0]}",
              "--metric-options", '{"emms": {"ridge": 2}}']
    remove_and_remake(Store(results), "myrefs", "efficientnet_lite0_mid_minilm", stage3, monkeypatch, capsys)
    assert len(Store(results).load_scores("myrefs", "emms")) == 4


def test_visual_question_answering(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "pairs"
    write_digit_pairs(folder, pairs=8, seed=1)
    results = str(tmp_path / "results")
    assert run_script("forward_feature_vqa.py", ["--dataset-dir", str(folder), "--models", "efficientnet_lite0+minilm",
                                                 "--pretrained", "false", "--image-size", "32", "--results", results,
                                                 "--num-workers", "0"], monkeypatch) == 0
    assert run_script("Label_embedding/bert.py", ["--task", "vqa", "--dataset-dir", str(folder), "--model", "minilm",
                                                  "--results", results], monkeypatch) == 0
    stage3 = ["evaluate_metric_vqa.py", "--dataset-dir", str(folder), "--results", results, "--metrics", "emms,knn",
              "--models", "efficientnet_lite0+minilm",
              "--metric-options", '{"emms": {"ridge": 2}}']
    remove_and_remake(Store(results), folder.name, "efficientnet_lite0_last+minilm", stage3, monkeypatch, capsys)
    assert len(Store(results).load_scores(folder.name, "knn")) == 3


@pytest.mark.parametrize("spelling", ["relative", "absolute"])
def test_classification(tmp_path, monkeypatch, capsys, spelling):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in ("cat", "dog", "owl"):
        (tmp_path / "photos" / c).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(rng.integers(0, 256, (36, 36, 3), dtype=np.uint8)).save(tmp_path / "photos" / c / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    folder = "photos" if spelling == "relative" else str(tmp_path / "photos")
    results = str(tmp_path / "results")
    assert run_script("forward_feature_CNN.py", ["--dataset-dir", folder, "--zoo", "efficientnet_lite", "--models",
                                                 "efficientnet_lite0", "--pretrained", "false", "--image-size", "32",
                                                 "--results", results, "--num-workers", "0"], monkeypatch) == 0
    assert run_script("Label_embedding/bert.py", ["--dataset-dir", folder, "--model", "minilm", "--results", results],
                      monkeypatch) == 0
    stage3 = ["evaluate_metric_cls.py", "--dataset-dir", folder, "--results", results, "--zoo", "efficientnet_lite",
              "--models", "efficientnet_lite0", "--metrics", "emms,knn"]
    remove_and_remake(Store(results), "photos", "efficientnet_lite0_early", stage3, monkeypatch, capsys)
