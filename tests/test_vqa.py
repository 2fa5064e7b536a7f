"""Visual question answering: answer normalisation, the five dataset formats, the class set, and the three stages
with the offline dual encoder (real EfficientNet-Lite0 weights + the bundled MiniLM) and tiny random ViLT / BLIP."""
import argparse
import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

import metrics
from pipeline import evaluate, extract
from pipeline.flabels import stage as flabel_stage
from pipeline.tasks.vqa import data as vqa_data
from pipeline.tasks.vqa import models as vqa_models
from pipeline.models.text import HFTextEncoder, minilm_path
from pipeline.store import Store
from pipeline.tasks import get

TASK = get("vqa")


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One CPU thread for this module's forward passes: on the shared 2-core machine two threads that wait on each
    other made EfficientNet-Lite0 15x slower (18 s against 1.2 s a batch); the previous count is restored."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# ----- answer normalisation and the class set --------------------------------------------------------------
@pytest.mark.parametrize("raw, expected", [
    ("Two dogs.", "2 dogs"), ("The Red one", "red 1"), ("dont know", "don't know"), ("1,000", "1000"),
    ("yes!", "yes"), ("3.5", "3.5"), ("none", "0"), ("Hello-World", "hello world"), ("chair, table", "chair table"),
    ("  an  Apple\n", "apple"), ("a", ""), ("ten", "10"), ("eleven", "eleven"),
])
def test_answers_are_normalised_as_the_vqa_evaluation_does(raw, expected):
    assert vqa_data.normalize_answer(raw) == expected


def test_classes_are_the_kept_answers_by_frequency_then_alphabetically():
    answers = ["no", "yes", "2", "yes", "no", "red", "yes", "2", "blue"]
    assert vqa_data.choose_classes(answers) == ["yes", "2", "no", "blue", "red"]
    assert vqa_data.choose_classes(answers, min_answer_count=2) == ["yes", "2", "no"]
    assert vqa_data.choose_classes(answers, max_answers=2) == ["yes", "2"]
    assert vqa_data.choose_classes(answers, min_answer_count=3, max_answers=2) == ["yes"]


# ----- the readers -----------------------------------------------------------------------------------------
def _image(path, shade=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((32, 32, 3), shade, dtype=np.uint8)
    pixels[: 8 + shade % 16, :, 0] = 255
    Image.fromarray(pixels).save(path)


def _table(folder, rows, name="questions.csv", delimiter=","):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / name, "w", newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return folder / name


def _args(**overrides):
    values = {"data_root": "data", "dataset_dir": None, "datasets": [], "split": "train", "max_samples": None,
              "min_answer_count": 1, "max_answers": None}
    return argparse.Namespace(**{**values, **overrides})


def test_table_rows_that_cannot_be_read_are_named_skipped_and_counted(tmp_path, capsys):
    for k in range(3):
        _image(tmp_path / "set" / f"{k}.png", k)
    table = _table(tmp_path / "set", [
        ("image", "question", "answer", "annotator"),
        ("0.png", "Is it red?", "Yes", "x"),
        ("1.png", "How many?", "two", "y"),
        ("2.png", "What colour?", "", "z"),       # row 4: empty answer
        ("", "Which one?", "left"),               # row 5: no image
        ("2.png", "Which one?", "The"),           # row 6: empty after normalisation
        ("2.png", "Is it red?", "yes."),
    ])
    samples = TASK.load_samples(None, _args(dataset_dir=str(table)))
    printed = capsys.readouterr().out
    assert f"[set] skipped {table}:row 4: no answer" in printed and f"[set] skipped {table}:row 5: no image" in printed
    assert f"[set] skipped {table}:row 6: the answer 'The' is empty after normalisation" in printed
    assert samples.name == "set" and samples.settings["skipped_rows"] == 3
    assert samples.texts == ["yes", "2"]
    assert samples.labels.tolist() == [0, 1, 0]
    assert samples.items.questions == ["Is it red?", "How many?", "Is it red?"]
    assert samples.ids == [str(tmp_path / "set" / name) for name in ("0.png", "1.png", "2.png")]


def test_a_table_without_its_header_is_a_clear_error(tmp_path):
    table = _table(tmp_path / "bad", [("0.png", "Is it red?", "yes")], name="questions.tsv", delimiter="\t")
    with pytest.raises(ValueError, match=r"questions.tsv: the first row must be a header naming the columns"):
        vqa_data.load_vqa(None, dataset_dir=table)


def test_rare_answers_are_dropped_counted_and_printed(tmp_path, capsys):
    _image(tmp_path / "set" / "0.png")
    rows = [("image", "question", "answer")] + [("0.png", f"q{k}?", a) for k, a in
                                                 enumerate(["yes"] * 4 + ["no"] * 3 + ["red", "blue"])]
    _table(tmp_path / "set", rows)
    vqa = vqa_data.load_vqa("set", data_root=tmp_path, min_answer_count=2)
    assert vqa.classes == ["yes", "no"] and len(vqa) == 7 and vqa.dropped == 2
    assert "dropped 2 of 9 questions" in capsys.readouterr().out
    first = vqa_data.load_vqa("set", data_root=tmp_path, max_samples=5, max_answers=1)
    assert first.classes == ["yes"] and len(first) == 4 and first.dropped == 1
    with pytest.raises(ValueError, match="has no question left"):
        vqa_data.load_vqa("set", data_root=tmp_path, min_answer_count=5)


def _write_clevr(root):
    for k in range(2):
        _image(root / "images" / "train" / f"CLEVR_train_{k:06d}.png", 40 * k)
    (root / "questions").mkdir(parents=True)
    questions = [{"image_filename": "CLEVR_train_000000.png", "question": "How many cubes?", "answer": "2"},
                 {"image_filename": "CLEVR_train_000001.png", "question": "Is it metal?", "answer": "no"},
                 {"question": "Broken?", "answer": "yes"},
                 {"image_filename": "CLEVR_train_000001.png", "question": "What colour?", "answer": "Two"}]
    (root / "questions" / "CLEVR_train_questions.json").write_text(json.dumps({"questions": questions}))
    return ["How many cubes?", "Is it metal?", "What colour?"], [0, 1, 0], ["2", "no"], 1


def _write_vqav2(root):
    _image(root / "train2014" / "COCO_train2014_000000000009.jpg", 10)
    _image(root / "train2014" / "COCO_train2014_000000000025.jpg", 90)
    (root / "v2_OpenEnded_mscoco_train2014_questions.json").write_text(json.dumps({"questions": [
        {"image_id": 25, "question": "What animal?", "question_id": 250},
        {"image_id": 9, "question": "How many plates?", "question_id": 90},
        {"image_id": 9, "question": "Lost?", "question_id": 91}]}))
    (root / "annotations").mkdir()
    (root / "annotations" / "v2_mscoco_train2014_annotations.json").write_text(json.dumps({"annotations": [
        {"question_id": 90, "multiple_choice_answer": "three"},
        {"question_id": 250, "multiple_choice_answer": "Giraffe"}]}))
    return ["What animal?", "How many plates?"], [1, 0], ["3", "giraffe"], 1


def _write_cocoqa(root):
    _image(root / "train2014" / "COCO_train2014_000000000042.jpg", 30)
    _image(root / "val2014" / "COCO_val2014_000000000077.jpg", 60)
    (root / "train").mkdir()
    (root / "train" / "questions.txt").write_text("what is on the table\nwhat color is the bus\nhow many cats\n")
    (root / "train" / "answers.txt").write_text("cup\nred\ntwo\n")
    (root / "train" / "img_ids.txt").write_text("42\n77\nxx\n")
    return ["what is on the table", "what color is the bus"], [0, 1], ["cup", "red"], 1


def _write_daquar(root):
    _image(root / "images" / "image1.png", 20)
    _image(root / "images" / "image7.png", 80)
    (root / "qa.894.raw.train.txt").write_text(
        "what is on the desk in the image1 ?\nlamp\nhow many chairs are there ?\n2\n"
        "what is behind the sofa in the image7 ?\nlamp, table\n")
    return ["what is on the desk in the image1 ?", "what is behind the sofa in the image7 ?"], [0, 1], \
        ["lamp", "lamp table"], 1


WRITERS = {"clevr": _write_clevr, "vqav2": _write_vqav2, "cocoqa": _write_cocoqa, "daquar": _write_daquar}


@pytest.mark.parametrize("data_format", sorted(WRITERS))
def test_each_published_format_is_read_in_its_fixed_order(tmp_path, data_format, capsys):
    root = tmp_path / data_format
    root.mkdir()
    questions, labels, classes, skipped = WRITERS[data_format](root)
    vqa = vqa_data.load_vqa(data_format, data_root=tmp_path)
    assert vqa.data_format == data_format and vqa.split == "train"
    assert vqa.questions == questions and vqa.labels == labels and vqa.classes == classes
    assert vqa.skipped == skipped and "skipped" in capsys.readouterr().out
    assert all(path.is_file() for path in vqa.image_paths)
    image, question = vqa[0]
    assert image.size == (32, 32) and question == questions[0]


def test_a_malformed_json_file_and_a_missing_dataset_are_clear_errors(tmp_path):
    (tmp_path / "clevr" / "questions").mkdir(parents=True)
    broken = tmp_path / "clevr" / "questions" / "CLEVR_train_questions.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match=f"{broken} is not valid JSON"):
        vqa_data.load_vqa("clevr", data_root=tmp_path)
    broken.write_text(json.dumps({"items": []}))
    with pytest.raises(ValueError, match="expected a JSON object with a list 'questions'"):
        vqa_data.load_vqa("clevr", data_root=tmp_path)
    with pytest.raises(FileNotFoundError, match="no VQA dataset at"):
        vqa_data.load_vqa("absent", data_root=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="questions.csv"):
        vqa_data.load_vqa("empty", data_root=tmp_path, split="val")


# ----- the three stages ------------------------------------------------------------------------------------
def _stage1_args(results, **overrides):
    values = {**vars(_args()), "zoo": "efficientnet_lite_minilm", "models": [], "results": results,
              "batch_size": 16, "num_workers": 0, "device": "cpu", "amp": False, "overwrite": False,
              "strict": False, "checkpoint_dir": None, "image_size": 32, "pretrained": True}
    return argparse.Namespace(**{**values, **overrides})


def _stage2(results, data_root, **dataset):
    constants = {"TASK": "vqa", "DATASETS": [], "MODEL": str(minilm_path()), "ENCODER_NAME": None, "TEMPLATE": "{}",
                 "BATCH_SIZE": 16, "DEVICE": "cpu", "RESULTS": results, "DATA_ROOT": data_root, "OVERWRITE": False}
    flags = [f"--{flag.replace('_', '-')}={value}" for flag, value in dataset.items()]
    return flabel_stage.run_stage2(constants, backend="hf", argv=flags)


def test_offline_dual_encoder_zoo_runs_the_three_stages_on_digit_pairs(tmp_path, capsys):
    folder = tmp_path / "digit_pairs"
    table = vqa_data.write_digit_pairs(folder, pairs=6, seed=1)
    (folder / "images" / "pair0005.png").unlink()        # its three questions are skipped and counted
    results = tmp_path / "results"
    args = _stage1_args(results, dataset_dir=str(folder), models=["efficientnet_lite0+minilm"])
    assert extract.run_stage1(TASK, args) == 0
    samples = TASK.load_samples(None, args)
    store = Store(results)
    features, labels, meta = store.load_features("digit_pairs", "efficientnet_lite0_last+minilm")
    assert len(samples) == 18 and features.shape == (15, 1280 + 384)
    assert np.array_equal(labels, samples.labels[:15])
    assert [sample["index"] for sample in meta["skipped_samples"]] == [15, 16, 17]
    assert "pair0005.png" in meta["skipped_samples"][0]["error"] and "row 17" in meta["skipped_samples"][0]["error"]
    with open(table) as handle:
        answers = [vqa_data.normalize_answer(row["answer"]) for row in csv.DictReader(handle)][:15]
    assert [samples.texts[label] for label in labels] == answers
    # the join: [image feature ; MiniLM question embedding], the image half shared by an image's three questions
    questions = samples.items.questions[:15]
    embedded = HFTextEncoder.load(str(minilm_path()), device="cpu").encode(questions, progress=False)
    np.testing.assert_allclose(features[:, 1280:], embedded, atol=1e-5)
    np.testing.assert_array_equal(features[0:3, :1280], np.repeat(features[:1, :1280], 3, axis=0))
    assert meta["join"] == vqa_models.JOIN and meta["image_model"] == "efficientnet_lite0"
    early, _, _ = store.load_features("digit_pairs", "efficientnet_lite0_early+minilm")
    assert early.shape == (15, 40 + 384)
    probs = np.load(store.source_probs_path("digit_pairs", "efficientnet_lite0_last+minilm"))
    assert probs.shape == (15, 1000) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)

    assert _stage2(results, tmp_path, dataset_dir=folder) == 0
    flabels, flabel_meta = store.load_flabels("digit_pairs", "all-MiniLM-L6-v2", "class")
    assert flabels.shape == (len(samples.texts), 384) and flabel_meta["class_texts"] == samples.texts

    capsys.readouterr()
    settings = evaluate.Settings(task="vqa", zoo="efficientnet_lite_minilm", dataset_dir=str(folder),
                                 models=["efficientnet_lite0_early+minilm", "efficientnet_lite0_last+minilm"],
                                 metrics=["emms", "leep", "knn"], results=str(results),
                                 metric_options={"emms": {"ridge": 1.5}})  # N = 15 < D: EMMS needs a ridge
    outcome = evaluate.run(settings)
    assert outcome["counts"]["scored"] == 5 and outcome["counts"]["failed"] == 0
    emms = store.load_scores("digit_pairs", "emms")
    assert emms["efficientnet_lite0_last+minilm"]["score"] == pytest.approx(
        metrics.emms(features, [flabels[np.unique(labels)]], labels, ridge=1.5), rel=1e-9)
    assert "digit_pairs: models ranked by the consensus of the metrics and by each metric" in capsys.readouterr().out


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    """A tiny random ViLT (4 answers) and BLIP, saved with their processors (the MiniLM WordPiece tokenizer)."""
    from transformers import (BertTokenizerFast, BlipConfig, BlipForQuestionAnswering, BlipImageProcessor,
                              BlipProcessor, BlipTextConfig, BlipVisionConfig, ViltConfig, ViltForQuestionAnswering,
                              ViltImageProcessor, ViltProcessor)

    folder = tmp_path_factory.mktemp("checkpoints")
    tokenizer = BertTokenizerFast.from_pretrained(minilm_path())
    torch.manual_seed(0)
    answers = ["yes", "no", "2", "red"]
    vilt = ViltForQuestionAnswering(ViltConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, image_size=64, patch_size=16, max_position_embeddings=64, num_labels=4,
        id2label=dict(enumerate(answers)), label2id={a: i for i, a in enumerate(answers)}))
    vilt.save_pretrained(folder / "tiny_vilt")
    ViltProcessor(ViltImageProcessor(size={"shortest_edge": 64}, size_divisor=16), tokenizer).save_pretrained(
        folder / "tiny_vilt")
    blip = BlipForQuestionAnswering(BlipConfig(
        text_config=BlipTextConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, projection_dim=32,
                                   num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                                   bos_token_id=tokenizer.cls_token_id, pad_token_id=tokenizer.pad_token_id,
                                   sep_token_id=tokenizer.sep_token_id).to_dict(),
        vision_config=BlipVisionConfig(image_size=30, patch_size=2, hidden_size=32, projection_dim=32,
                                       num_hidden_layers=2, num_attention_heads=4, intermediate_size=37).to_dict(),
        projection_dim=64))
    blip.save_pretrained(folder / "tiny_blip")
    BlipProcessor(BlipImageProcessor(size={"height": 30, "width": 30}), tokenizer).save_pretrained(folder / "tiny_blip")
    return folder


def test_vilt_feature_is_the_classifier_input_and_its_probs_the_softmax_of_its_scores(tiny_checkpoints, tmp_path):
    module, processor, max_tokens, meta = vqa_models.load_vqa_model("tiny_vilt", str(tiny_checkpoints / "tiny_vilt"))
    images = [Image.fromarray(np.full((40, 48, 3), shade, dtype=np.uint8)) for shade in (30, 200)]
    batch = vqa_models.ProcessorCollate(processor, max_tokens)(list(zip(images, ["is it red?", "how many?"])))
    with torch.no_grad():
        features, probs = module(batch)
        caught = []
        module.model.classifier.register_forward_hook(lambda layer, inputs, output: caught.append((inputs[0], output)))
        torch.manual_seed(0)
        module.model(**batch)
    classifier_input, logits = caught[-1]
    torch.testing.assert_close(features["tiny_vilt"], classifier_input)
    torch.testing.assert_close(probs["tiny_vilt"], torch.softmax(logits, dim=1))
    assert meta["source_answers"] == 4 and meta["model_type"] == "vilt"


def test_blip_feature_is_the_mean_of_the_states_its_answer_decoder_reads(tiny_checkpoints):
    module, processor, max_tokens, meta = vqa_models.load_vqa_model("tiny_blip", str(tiny_checkpoints / "tiny_blip"))
    images = [Image.fromarray(np.full((40, 48, 3), shade, dtype=np.uint8)) for shade in (30, 200)]
    batch = vqa_models.ProcessorCollate(processor, max_tokens)(
        list(zip(images, ["is it red?", "how many dogs are on the left?"])))
    with torch.no_grad():
        features, probs = module(batch)
        caught = []
        module.model.text_decoder.register_forward_pre_hook(
            lambda layer, args, kwargs: caught.append(kwargs["encoder_hidden_states"]), with_kwargs=True)
        module.model(**batch, labels=batch["input_ids"])
    mask = batch["attention_mask"].unsqueeze(-1).float()
    expected = (caught[0] * mask).sum(dim=1) / mask.sum(dim=1)
    torch.testing.assert_close(features["tiny_blip"], expected)
    assert probs == {} and mask.sum(dim=1).squeeze(1).tolist() == [6.0, 10.0]


def test_vilt_and_blip_run_the_three_stages_on_each_format(tiny_checkpoints, tmp_path, capsys):
    results = tmp_path / "results"
    store = Store(results)
    data_root = tmp_path / "data"
    _table(data_root / "table", [("image", "question", "answer")] + [
        (f"{k % 3}.png", f"question {k}?", ["yes", "no", "two"][k % 3]) for k in range(9)])
    for k in range(3):
        _image(data_root / "table" / f"{k}.png", 70 * k)
    for data_format, write in WRITERS.items():
        (data_root / data_format).mkdir(parents=True)
        write(data_root / data_format)
    datasets = ["table", *WRITERS]
    args = _stage1_args(results, data_root=data_root, datasets=datasets, zoo="vqa_transformers",
                        models=["tiny_vilt", "tiny_blip"], checkpoint_dir=str(tiny_checkpoints))
    assert extract.run_stage1(TASK, args) == 0
    for dataset in datasets:
        samples = TASK.load_samples(dataset, args)
        for model, width in (("tiny_vilt", 32), ("tiny_blip", 32)):
            features, labels, meta = store.load_features(dataset, model)
            assert features.shape == (len(samples), width) and np.array_equal(labels, samples.labels)
            assert meta["format"] == ("table" if dataset == "table" else dataset)
        probs = np.load(store.source_probs_path(dataset, "tiny_vilt"))
        assert probs.shape == (len(samples), 4) and not store.source_probs_path(dataset, "tiny_blip").exists()
    assert _stage2(results, data_root, datasets=",".join(datasets)) == 0
    flabels, _ = store.load_flabels("table", "all-MiniLM-L6-v2", "class")
    assert flabels.shape == (3, 384)
    capsys.readouterr()
    settings = evaluate.Settings(task="vqa", zoo="vqa_transformers", datasets=["table"],
                                 models=["tiny_vilt", "tiny_blip"], metrics=["emms", "logme", "leep"],
                                 results=str(results))
    outcome = evaluate.run(settings)
    assert outcome["counts"] == {"scored": 5, "skipped": 0, "failed": 0, "not applicable": 1}
    assert "table: models ranked by the consensus of the metrics and by each metric" in capsys.readouterr().out
    truth = tmp_path / "vqa_accuracy.json"   # the ground-truth format of data/ground_truth/*.json
    truth.write_text(json.dumps({"zoo": "tiny", "description": "VQA accuracy", "source": "made up",
                                 "measure": {"table": "VQA accuracy (%)"},
                                 "finetune": {"table": {"tiny_vilt": 61.0, "tiny_blip": 48.5}}}))
    outcome = evaluate.run(evaluate.Settings(task="vqa", zoo="tiny", datasets=["table"], metrics=["emms", "logme"],
                                             ground_truth=str(truth), results=str(results)))
    assert outcome["counts"]["skipped"] == 4 and outcome["plan"].models["table"] == ["tiny_vilt", "tiny_blip"]
    assert "emms on zoo tiny: correlation with fine-tuning" in capsys.readouterr().out


def test_unsupported_model_families_and_bad_names_are_clear_errors(tmp_path):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                         intermediate_size=37)).save_pretrained(tmp_path / "bert")
    with pytest.raises(ValueError, match="is a 'bert' model; the VQA task reads the families vilt, blip"):
        vqa_models.load_vqa_model("bert", str(tmp_path / "bert"))
    with pytest.raises(ValueError, match="IMAGE\\+TEXT"):
        vqa_models.split_dual("efficientnet_lite0+")
    with pytest.raises(ValueError, match="unknown vqa zoo 'nope'; known: vqa_efficientnet_lite_minilm"):
        TASK.zoo_models("nope")
    assert TASK.zoo_models("efficientnet_lite_minilm") == TASK.zoo_models("vqa_efficientnet_lite_minilm")  # old name
    assert TASK.stored_names("efficientnet_lite0+minilm") == [
        "efficientnet_lite0_early+minilm", "efficientnet_lite0_mid+minilm", "efficientnet_lite0_last+minilm"]
    assert TASK.stored_names("dandelin/vilt-b32-finetuned-vqa") == ["dandelin/vilt-b32-finetuned-vqa"]


def test_the_commands_that_make_missing_inputs_carry_the_dataset_settings():
    meta = {"zoo": "efficientnet_lite_minilm", "dataset_dir": "/data/pairs", "split": None, "max_samples": 50,
            "min_answer_count": 2, "max_answers": None, "input_size": 64}
    assert TASK.stage1_command("pairs", ["efficientnet_lite1+minilm"], meta) == (
        "python forward_feature_vqa.py --zoo efficientnet_lite_minilm --models efficientnet_lite1+minilm "
        "--dataset-dir /data/pairs --max-samples 50 --min-answer-count 2 --image-size 64")
    assert TASK.stage2_command("vqav2", {"split": "val", "max_answers": 3129}) == (
        "python Label_embedding/bert.py --task vqa --datasets vqav2 --split val --max-answers 3129")
