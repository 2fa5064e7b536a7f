"""Referring expressions: the readers (refs.jsonl, the refer toolkit's layout, bad rows, crafted pickles), the
candidates' features (RoI pooling, best-IoU box, tiny OWL-ViT and Grounding DINO), the box F-labels, and the three
stages on skimage's photos with boxes written here."""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.tasks.rec import models as gm
from pipeline.tasks.rec.data import box_text, load_plain_pickle, load_refs
from pipeline.store import Store
from conftest import run_script

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ("astronaut", "coffee", "chelsea")
SIZE = (64, 48)  # every photo resized to 64 x 48 px
OBJECTS = {"astronaut": [("the astronaut's face", [20, 2, 20, 20]), ("the flag in the corner", [0, 0, 12, 16])],
           "coffee": [("the cup of coffee", [10, 5, 40, 35]), ("the saucer", [5, 25, 55, 20])],
           "chelsea": [("the cat", [5, 5, 50, 40]), ("the cat's left eye", [30, 15, 8, 6])]}
# 18 samples: each object three times, in other words (the same image, expression and box again is a duplicate)
GOOD = [(photo, f"{text}{again}", box) for again in ("", ", again", ", once more") for photo in PHOTOS
        for text, box in OBJECTS[photo]]
BAD = ["not json at all",
       json.dumps({"image": "img/none.png", "expression": "a thing", "bbox": [0, 0, 5, 5]}),
       json.dumps({"image": "img/coffee.png", "expression": "flat", "bbox": [0, 0, 0, 5]}),
       json.dumps({"image": "img/coffee.png", "expression": "outside", "bbox": [60, 40, 10, 10]}),
       json.dumps({"image": "img/coffee.png", "bbox": [1, 1, 5, 5]}),
       json.dumps({"image": "img/coffee.png", "expression": "three numbers", "bbox": [1, 1, 5]})]
TINY = ("tiny_owlvit", "tiny_dino")


def write_photos(folder: Path) -> None:
    import skimage.data

    folder.mkdir(parents=True, exist_ok=True)
    for photo in PHOTOS:
        Image.fromarray(getattr(skimage.data, photo)()).convert("RGB").resize(SIZE).save(folder / f"{photo}.png")


def write_refs(folder: Path) -> Path:
    write_photos(folder / "img")
    lines = [json.dumps({"image": f"img/{photo}.png", "expression": text, "bbox": box}) for photo, text, box in GOOD]
    lines[3:3] = BAD  # bad rows 4 to 9, between good ones
    lines.append(json.dumps({"image": "img/chelsea.png", "expression": "a val cat", "bbox": [1, 1, 9, 9],
                             "split": "val"}))
    (folder / "refs.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def minilm_tokenizer():
    from transformers import BertTokenizerFast

    from pipeline.models.text import minilm_path

    return BertTokenizerFast.from_pretrained(minilm_path())


def make_tiny_owlvit(folder: Path, version: str = "OwlViT") -> Path:
    """A tiny OWL-ViT (version "OwlViT") or OWLv2 ("Owlv2") with the bundled BERT tokenizer."""
    import transformers

    part = {name: getattr(transformers, f"{version}{name}") for name in
            ("Config", "ForObjectDetection", "ImageProcessor", "TextConfig", "VisionConfig")}
    tokenizer = minilm_tokenizer()
    text = part["TextConfig"](vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=37, max_position_embeddings=16, projection_dim=32,
                            pad_token_id=0, bos_token_id=101, eos_token_id=102)
    vision = part["VisionConfig"](image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                num_attention_heads=4, intermediate_size=37, projection_dim=32)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = part["ForObjectDetection"](part["Config"](text_config=text.to_dict(), vision_config=vision.to_dict(),
                                                          projection_dim=32))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    processor = {"do_center_crop": False} if version == "OwlViT" else {}
    part["ImageProcessor"](size={"height": 32, "width": 32}, **processor).save_pretrained(folder)
    return folder


def make_tiny_dino(folder: Path) -> Path:
    from transformers import GroundingDinoConfig, GroundingDinoForObjectDetection, GroundingDinoImageProcessor, \
        SwinConfig

    config = GroundingDinoConfig(
        d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
        encoder_ffn_dim=4, decoder_ffn_dim=4, num_queries=2, num_feature_levels=4, encoder_n_points=2,
        decoder_n_points=6, use_timm_backbone=False, max_text_len=16,
        backbone_config=SwinConfig(window_size=7, embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                                   image_size=98, out_indices=[2, 3, 4]),
        text_config={"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
                     "intermediate_size": 8, "max_position_embeddings": 16})
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = GroundingDinoForObjectDetection(config)
    model.save_pretrained(folder)
    minilm_tokenizer().save_pretrained(folder)
    GroundingDinoImageProcessor(size={"shortest_edge": 98, "longest_edge": 98}).save_pretrained(folder)
    return folder


def write_refcoco(folder: Path) -> Path:
    """The refer toolkit's layout: refs(unc).p, instances.json, train2014/ (photo i is COCO image i + 1)."""
    write_photos(folder / "train2014")
    images = []
    for number, photo in enumerate(PHOTOS, start=1):
        name = f"COCO_train2014_{number:012d}.png"
        (folder / "train2014" / f"{photo}.png").rename(folder / "train2014" / name)
        images.append({"id": number, "file_name": name, "width": SIZE[0], "height": SIZE[1]})
    annotations = [{"id": 10 * image + k, "image_id": image, "bbox": box, "category_id": 1}
                   for image, photo in enumerate(PHOTOS, start=1) for k, (_, box) in enumerate(OBJECTS[photo])]
    annotations[-1]["bbox"] = [30.5, 15.5, 34.0, 6.0]  # 0.5 px past the right border: clipped, kept
    (folder / "instances.json").write_text(json.dumps({"images": images, "annotations": annotations,
                                                       "categories": [{"id": 1, "name": "thing"}]}))
    refs = []
    for image, photo in enumerate(PHOTOS, start=1):
        for k, (text, _) in enumerate(OBJECTS[photo]):
            refs.append({"ref_id": len(refs), "ann_id": 10 * image + k, "image_id": image, "split": "train",
                         "file_name": f"COCO_train2014_{image:012d}_{10 * image + k}.jpg", "category_id": 1,
                         "sentences": [{"sent": text, "raw": text.upper(), "sent_id": 2 * len(refs)},
                                       {"raw": f"Also {text}", "sent_id": 2 * len(refs) + 1}]})
    refs[1]["split"] = "testA"
    refs.append({"ref_id": 99, "ann_id": 12345, "split": "train", "sentences": [{"sent": "no such object"}]})
    with open(folder / "refs(unc).p", "wb") as handle:
        pickle.dump(refs, handle, protocol=2)
    return folder


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("rec")
    checkpoints = root / "ckpts"
    return {"refs": write_refs(root / "myrefs"), "refcoco": write_refcoco(root / "data" / "refcoco"),
            "data": root / "data", "owl": make_tiny_owlvit(checkpoints / TINY[0]),
            "dino": make_tiny_dino(checkpoints / TINY[1]),
            "owlv2": make_tiny_owlvit(checkpoints / "tiny_owlv2", "Owlv2"),
            "checkpoints": checkpoints}


# ----- readers -----------------------------------------------------------------------------------------
def test_refs_table_keeps_good_rows_in_order_and_names_and_counts_bad_ones(work):
    said = []
    refs = load_refs(None, dataset_dir=work["refs"], say=said.append)
    assert len(refs) == len(GOOD) and refs.expressions == [text for _, text, _ in GOOD]
    assert [path.name for path in refs.image_paths] == [f"{photo}.png" for photo, _, _ in GOOD]
    assert refs.image_ids[:6] == [0, 0, 1, 1, 2, 2] and refs.image_ids[6:12] == [0, 0, 1, 1, 2, 2]
    x, y, w, h = OBJECTS["coffee"][0][1]
    assert refs.boxes[2] == (x, y, x + w, y + h) and refs.sizes[2] == SIZE
    assert refs.normalised_boxes()[2] == pytest.approx((10 / 64, 5 / 48, 50 / 64, 40 / 48))
    assert len(refs.skipped) == len(BAD)
    assert said[-1] == f"[myrefs] {len(BAD)} bad row(s) skipped, {len(GOOD)} samples kept"
    reasons = ["line 4: not JSON", "line 5: image", "line 6: bbox [0, 0, 0, 5] has zero or negative size",
               "line 7: bbox [60, 40, 10, 10] (x2=70, y2=50) is outside the 64x48 image",
               "line 8: missing key 'expression'; expected keys: image, expression, bbox (optional: split)",
               "line 9: bbox must be four numbers"]
    for line, reason in zip(refs.skipped, reasons):
        assert line.startswith(f"{work['refs'] / 'refs.jsonl'}:{reason}"), line
    assert "none.png not found" in refs.skipped[1]
    assert load_refs(None, dataset_dir=work["refs"], split="val", say=said.append).expressions == ["a val cat"]
    assert len(load_refs(None, dataset_dir=work["refs"] / "refs.jsonl", split="all", say=said.append)) == len(GOOD) + 1
    assert load_refs(None, dataset_dir=work["refs"], max_samples=4, say=said.append).expressions == \
        [text for _, text, _ in GOOD[:4]]


def test_unusable_datasets_are_clear_errors(work, tmp_path):
    with pytest.raises(ValueError, match=r"holds no usable sample \(2 rows skipped\)"):
        load_refs(None, dataset_dir=work["refs"], split="testB", say=lambda line: None)
    with pytest.raises(FileNotFoundError, match=r"no referring expressions for dataset 'nothing': looked for "
                                                r".*refs\.jsonl"):
        load_refs("nothing", data_root=tmp_path)
    (tmp_path / "latin").mkdir()
    (tmp_path / "latin" / "refs.jsonl").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ValueError, match="refs.jsonl:line 1: not UTF-8 text"):
        load_refs(None, dataset_dir=tmp_path / "latin")


def test_box_text_is_the_documented_format():
    assert box_text((0.1234, 0.4, 0.55, 0.98)) == "x1=0.12 y1=0.40 x2=0.55 y2=0.98"
    assert box_text((0.0, 0.0, 1.0, 1.0)) == "x1=0.00 y1=0.00 x2=1.00 y2=1.00"


def test_refer_toolkit_layout_one_sample_per_object_and_sentence_by_split(work):
    said = []
    refs = load_refs("refcoco", data_root=work["data"], say=said.append)
    kept = [ref for i, ref in enumerate(range(6)) if i != 1]  # ref 1 is testA
    objects = [item for photo in PHOTOS for item in OBJECTS[photo]]
    expected = [text for i in kept for text in (objects[i][0], f"Also {objects[i][0]}")]
    assert refs.expressions == expected and len(refs) == 10
    assert refs.boxes[0] == (20, 2, 40, 22) and refs.boxes[-1] == (30.5, 15.5, 64.0, 21.5)  # clipped at x2 = W
    assert [p.name for p in refs.image_paths[:3]] == ["COCO_train2014_000000000001.png"] * 2 + \
        ["COCO_train2014_000000000002.png"]
    assert refs.skipped == [f"{work['refcoco'] / 'refs(unc).p'}:ref 6: annotation 12345 or its image is not in "
                            "instances.json"]
    test_a = load_refs("refcoco", data_root=work["data"], split="testA", split_by="unc", say=said.append)
    assert test_a.expressions == [objects[1][0], f"Also {objects[1][0]}"]
    with pytest.raises(FileNotFoundError, match=r"refs\(umd\)\.p"):
        load_refs("refcoco", data_root=work["data"], split_by="umd")


def test_a_crafted_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    crafted = tmp_path / "refs(unc).p"
    crafted.write_bytes(pickle.dumps([{"sentences": [], "payload": Exploit()}], protocol=2))
    with pytest.raises(ValueError, match=r"is not a plain-data pickle: refused to load (posix|os)\.system"):
        load_plain_pickle(crafted)
    assert not marker.exists()
    (tmp_path / "instances.json").write_text("{}")
    with pytest.raises(ValueError, match="not a plain-data pickle"):
        load_refs(None, dataset_dir=tmp_path)
    plain = [{"a": (1, 2.5, None, True), "c": ["é", {"d": -3}]}]
    for protocol in (2, 4):
        crafted.write_bytes(pickle.dumps(plain, protocol=protocol))
        assert load_plain_pickle(crafted) == plain
    crafted.write_bytes(pickle.dumps([b"x"], protocol=4))  # bytes: plain from protocol 3 on
    assert load_plain_pickle(crafted) == [b"x"]


# ----- features --------------------------------------------------------------------------------------
def test_pool_in_boxes_averages_the_map_inside_the_box():
    side, stride = 64, 8
    columns = torch.arange(side // stride, dtype=torch.float32)
    ramp = columns.expand(side // stride, -1)  # value = column index: bilinear values are linear in x
    fmap = torch.stack([ramp, ramp.T, torch.full_like(ramp, 3.0)])[None].repeat(2, 1, 1, 1)
    boxes = torch.tensor([[16.0, 8.0, 40.0, 24.0], [24.0, 20.0, 48.0, 52.0]])
    pooled = gm.pool_in_boxes(fmap, boxes, side)
    centres_x, centres_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    # aligned=True: map coordinate u samples index u - 0.5, so the mean over the box is its centre / stride - 0.5
    torch.testing.assert_close(pooled[:, 0], centres_x / stride - 0.5)
    torch.testing.assert_close(pooled[:, 1], centres_y / stride - 0.5)
    torch.testing.assert_close(pooled[:, 2], torch.full((2,), 3.0))


def test_best_box_is_the_one_of_highest_iou_with_the_gold_box():
    from torchvision.ops import box_iou

    boxes = torch.tensor([[[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0], [0.25, 0.25, 0.75, 0.75]]]).repeat(2, 1, 1)
    gold = torch.tensor([[0.5, 0.5, 1.0, 1.0], [0.2, 0.2, 0.7, 0.7]])
    iou = gm.iou_with_gold(boxes, gold)
    torch.testing.assert_close(iou, torch.stack([box_iou(boxes[i], gold[i:i + 1])[:, 0] for i in range(2)]))
    assert iou[0].tolist() == pytest.approx([0.0, 1.0, 1 / 7])
    cxcywh = torch.cat([(boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]], dim=-1)
    embeddings = torch.arange(2 * 3 * 2, dtype=torch.float32).reshape(2, 3, 2)
    torch.testing.assert_close(gm.best_box_rows(embeddings, cxcywh, gold), embeddings[[0, 1], [1, 2]])


def test_gold_boxes_in_each_family_frame(work):
    refs = load_refs(None, dataset_dir=work["refs"], say=lambda line: None)
    x1, y1, x2, y2 = refs.boxes[2]
    _, text, owl = gm.GroundingInputs(refs, "owlvit")[2]
    assert owl.tolist() == pytest.approx([x1 / 64, y1 / 48, x2 / 64, y2 / 48]) and text == "the cup of coffee"
    assert gm.GroundingInputs(refs, "owlv2")[2][2].tolist() == pytest.approx([x1 / 64, y1 / 64, x2 / 64, y2 / 64])
    assert gm.GroundingInputs(refs, "grounding-dino")[2][1] == "the cup of coffee."
    image, box, expression = gm.DualInputs(refs, 32, (0.5,) * 3, (0.5,) * 3)[2]
    assert image.shape == (3, 32, 32) and box.tolist() == pytest.approx([x1 / 2, y1 * 32 / 48, x2 / 2, y2 * 32 / 48])


@pytest.mark.parametrize("tiny", [*TINY, "tiny_owlv2"])
def test_grounding_feature_is_the_best_iou_box_joined_with_the_query(work, tiny):
    from torchvision.ops import box_convert, box_iou

    refs = load_refs(None, dataset_dir=work["refs"], say=lambda line: None)
    module, collate, family, meta = gm.load_grounding_model(tiny, work["checkpoints"])
    items = [gm.GroundingInputs(refs, family)[i] for i in range(4)]
    inputs, gold = collate(items)
    with torch.no_grad():
        features = module(inputs, gold)
        out = module.model(**inputs)
    boxes = box_convert(out.pred_boxes, "cxcywh", "xyxy")
    best = [int(box_iou(boxes[i], gold[i:i + 1])[:, 0].argmax()) for i in range(4)]
    if family in ("owlvit", "owlv2"):
        expected = torch.cat([out.class_embeds[range(4), best], out.text_embeds[:, 0]], dim=1)
        assert features.shape == (4, 64) and meta["family"] == tiny.removeprefix("tiny_")
    else:
        text = out.encoder_last_hidden_state_text
        mask = inputs["attention_mask"][:, : text.shape[1], None].float()
        expected = torch.cat([out.last_hidden_state[range(4), best], (text * mask).sum(1) / mask.sum(1)], dim=1)
        assert features.shape == (4, 64) and inputs["input_ids"].shape[1] <= 16
    torch.testing.assert_close(features, expected)
    assert torch.isfinite(features).all()


def test_a_model_of_another_family_is_refused_by_name(tmp_path):
    from transformers import BertConfig

    BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8).save_pretrained(
        tmp_path / "bert")
    with pytest.raises(ValueError, match="is a 'bert' model; the grounding families are owlvit, owlv2, grounding-dino"):
        gm.load_grounding_model("bert", tmp_path)


# ----- the three stages ---------------------------------------------------------------------------------
def test_three_stages_on_refs_jsonl(work, tmp_path, monkeypatch, capsys):
    from pipeline.models.text import HFTextEncoder, minilm_path

    results, refs_dir = tmp_path / "results", str(work["refs"])
    stage1 = ["--dataset-dir", refs_dir, "--results", str(results), "--num-workers", "0", "--batch-size", "5",
              "--image-size", "64", "--device", "cpu", "--checkpoint-dir", str(work["checkpoints"])]
    assert run_script("forward_feature_rec.py", [*stage1, "--models", "efficientnet_lite0_minilm", *TINY],
                      monkeypatch) == 0
    out = capsys.readouterr().out
    assert f"[myrefs] {len(BAD)} bad row(s) skipped, {len(GOOD)} samples kept" in out and out.count(": wrote ") == 5
    store = Store(results)
    dual = [f"efficientnet_lite0_{depth}_minilm" for depth in ("early", "mid", "last")]
    assert sorted(store.list_models("myrefs")) == sorted([*dual, *TINY])
    widths = {"efficientnet_lite0_early_minilm": 40 + 384, "efficientnet_lite0_mid_minilm": 112 + 384,
              "efficientnet_lite0_last_minilm": 1280 + 384, "tiny_owlvit": 64, "tiny_dino": 64}
    for model, width in widths.items():
        features, labels, meta = store.load_features("myrefs", model)
        assert features.shape == (len(GOOD), width) and meta["skipped_rows"] == len(BAD) and meta["task"] == "rec"
        assert labels.tolist() == [0, 0, 1, 1, 2, 2] * 3

    minilm = str(minilm_path())
    stage2 = ["--task", "rec", "--dataset-dir", refs_dir, "--results", str(results), "--device", "cpu"]
    assert run_script("Label_embedding/box.py", stage2[:6], monkeypatch) == 0
    assert run_script("Label_embedding/bert_sentence.py", [*stage2, "--model", minilm], monkeypatch) == 0
    assert run_script("Label_embedding/bert_sentence.py", [*stage2, "--model", minilm, "--flabel-text", "expression",
                                                           "--encoder-name", "minilm_expression"], monkeypatch) == 0
    boxes, box_meta = store.load_flabels("myrefs", "box", "sample")
    refs = load_refs(None, dataset_dir=work["refs"], say=lambda line: None)
    np.testing.assert_allclose(boxes, np.asarray(refs.normalised_boxes(), dtype=np.float32))
    assert box_meta["data"] == store.features_meta("myrefs", "tiny_owlvit")["data"]
    encoder = HFTextEncoder.load(minilm, device="cpu")
    box_texts, box_text_meta = store.load_flabels("myrefs", "all-MiniLM-L6-v2", "sample")
    assert box_text_meta["flabel_text"] == "box"
    np.testing.assert_allclose(box_texts, encoder.encode([box_text(b) for b in refs.normalised_boxes()]), atol=1e-5)
    expressions, _ = store.load_flabels("myrefs", "minilm_expression", "sample")
    np.testing.assert_allclose(expressions, encoder.encode(refs.expressions), atol=1e-5)
    # the dual encoders' text half is the expression's MiniLM embedding, exactly as stage 2 makes it
    last = store.load_features("myrefs", "efficientnet_lite0_last_minilm")[0]
    np.testing.assert_allclose(last[:, 1280:], expressions, atol=1e-4)

    truth = tmp_path / "acc50.json"
    truth.write_text(json.dumps({"zoo": "mine", "measure": {"myrefs": "Acc@0.5 (%) after fine-tuning (made up)"},
                                 "finetune": {"myrefs": {**dict(zip(dual, (41.0, 52.0, 60.0))),
                                                         "tiny_owlvit": 20.0, "tiny_dino": 10.0}}}))
    capsys.readouterr()
    stage3 = ["--dataset-dir", refs_dir, "--results", str(results), "--metric-options", '{"emms": {"ridge": 2}}']
    assert run_script("evaluate_metric_rec.py", [*stage3, "--models", *dual, *TINY], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "### myrefs: models ranked by the consensus of the metrics and by each metric" in out
    assert "scored 10 cell(s)" in out
    evaluation = json.loads(store.table_path("efficientnet_lite_minilm/rec_results.json").read_text())
    ranking = evaluation["datasets"]["myrefs"]["ranking"]
    assert sorted(name for name, _ in ranking["emms"]) == sorted([*dual, *TINY])
    weights = store.load_scores("myrefs", "emms")["tiny_owlvit"]["flabel_weights"]
    assert set(weights) == {"all-MiniLM-L6-v2", "box", "minilm_expression"} and sum(weights.values()) == \
        pytest.approx(1.0)
    assert run_script("evaluate_metric_rec.py", [*stage3, "--ground-truth", str(truth)], monkeypatch) == 0
    correlations = json.loads(store.table_path("efficientnet_lite_minilm/rec_results.json").read_text())[
        "datasets"]["myrefs"]["correlations"]
    assert set(correlations) == {"emms", "logme", "consensus"} and -1 <= correlations["emms"]["kendall_tau"] <= 1


def test_three_stages_on_the_refer_toolkit_layout(work, tmp_path, monkeypatch, capsys):
    results = tmp_path / "results"
    where = ["--datasets", "refcoco", "--data-root", str(work["data"]), "--results", str(results)]
    assert run_script("forward_feature_rec.py", [*where, "--models", *TINY, "--checkpoint-dir",
                                                 str(work["checkpoints"]), "--num-workers", "0", "--device", "cpu"],
                      monkeypatch) == 0
    store = Store(results)
    assert store.load_features("refcoco", "tiny_owlvit")[0].shape == (10, 64)
    assert run_script("Label_embedding/box.py", where, monkeypatch) == 0
    capsys.readouterr()
    assert run_script("Label_embedding/box.py", where, monkeypatch) == 0
    assert "box F-labels already in" in capsys.readouterr().out
    assert store.load_flabels("refcoco", "box", "sample")[0].shape == (10, 4)
    assert run_script("evaluate_metric_rec.py", ["--datasets", "refcoco", "--results", str(results), "--models",
                                                 *TINY, "--zoo", "grounding"], monkeypatch) == 0
    assert "scored 4 cell(s)" in capsys.readouterr().out
    # box F-labels of other samples (the testA split) are refused by stage 3, naming the re-run
    assert run_script("Label_embedding/box.py", [*where, "--split", "testA", "--overwrite", "true"], monkeypatch) == 0
    capsys.readouterr()
    assert run_script("evaluate_metric_rec.py", ["--datasets", "refcoco", "--results", str(results), "--models",
                                                 *TINY, "--zoo", "grounding", "--overwrite", "true"], monkeypatch) == 1  # nothing scored
    assert "F-labels of 'box' were made from other data than the features" in capsys.readouterr().out


def test_an_image_that_fails_in_stage_1_is_skipped_and_its_f_label_rows_dropped(work, tmp_path, monkeypatch, capsys):
    folder = write_refs(tmp_path / "broken")
    whole = (folder / "img" / "coffee.png").read_bytes()
    (folder / "img" / "coffee.png").write_bytes(whole[: len(whole) // 2])  # the header reads, the pixels do not
    results = tmp_path / "results"
    where = ["--dataset-dir", str(folder), "--results", str(results)]
    assert run_script("forward_feature_rec.py", [*where, "--models", "tiny_owlvit", "--checkpoint-dir",
                                                 str(work["checkpoints"]), "--num-workers", "0", "--device", "cpu"],
                      monkeypatch) == 0
    out = capsys.readouterr().out
    coffee_rows = [i for i, (photo, _, _) in enumerate(GOOD) if photo == "coffee"]
    assert out.count("tiny_owlvit: skipped sample") == len(coffee_rows) and "6 unreadable sample(s) skipped" in out
    store = Store(results)
    features, labels, meta = store.load_features("broken", "tiny_owlvit")
    assert len(features) == len(GOOD) - len(coffee_rows)
    assert [s["index"] for s in meta["skipped_samples"]] == coffee_rows and 1 not in labels
    assert run_script("Label_embedding/box.py", where, monkeypatch) == 0
    assert store.load_flabels("broken", "box", "sample")[0].shape == (len(GOOD), 4)  # every sample of the list
    assert run_script("evaluate_metric_rec.py", [*where, "--models", "tiny_owlvit", "--metrics", "logme"],
                      monkeypatch) == 0
    import metrics

    refs = load_refs(None, dataset_dir=folder, say=lambda line: None)
    kept = np.delete(np.asarray(refs.normalised_boxes(), dtype=np.float32), coffee_rows, axis=0)
    assert store.load_scores("broken", "logme")["tiny_owlvit"]["score"] == pytest.approx(
        metrics.logme(features, kept, regression=True), rel=1e-9)


def test_the_data_identity_covers_expressions_and_exact_boxes(work, tmp_path):
    import argparse
    import shutil

    from pipeline.tasks import get

    task = get("rec")

    def fingerprint(folder: Path) -> str:
        args = argparse.Namespace(data_root=tmp_path, dataset_dir=str(folder), split="train", split_by=None,
                                  image_dir=None, max_samples=None)
        return task.load_samples(None, args).fingerprint

    table = work["refs"] / "refs.jsonl"
    variants = {"same": lambda text: text, "expression": lambda text: text.replace("the saucer", "the plate", 1),
                "box": lambda text: text.replace("[10, 5, 40, 35]", "[10, 5, 40.2, 35]", 1)}
    prints = {}
    for name, change in variants.items():
        folder = tmp_path / "myrefs"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(work["refs"], folder)
        (folder / "refs.jsonl").write_text(change(table.read_text()))
        prints[name] = fingerprint(folder)
    # the copies share paths, sizes and times: only the change tells them apart; a box moved by 0.2 px keeps its
    # box text ("x2=0.78"), so the identity must hold the exact box
    assert len(set(prints.values())) == 3
