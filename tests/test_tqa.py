"""Text QA task: SQuAD JSON and qa.jsonl readers, the answer-span feature through windowed question + context,
and the stage 1 -> 2 -> 3 chain through the scripts.

Models are tiny random-init ``BertForQuestionAnswering`` (with the bundled MiniLM's WordPiece tokenizer),
``RobertaForQuestionAnswering`` (with a byte-level BPE tokenizer trained here on the test's own texts) and a plain
``BertModel`` (loaded through ``AutoModel``), saved to a tmp folder; the bundled all-MiniLM-L6-v2 is the real one.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.tasks import get as get_task
from pipeline.tasks.tqa.data import NO_ANSWER_TEXT, QARecord, dataset_name_of, load_qa
from pipeline.tasks.tqa.models import QAInputs, load_qa_model, resolve_checkpoint
from conftest import run_script

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("river mountain castle forest village bridge harbor tower garden market island valley desert meadow "
         "temple library station museum palace canyon lake farmer sailor baker painter doctor teacher king queen "
         "soldier merchant poet hunter").split()
TINY_MODELS = ("tiny_bert_qa", "tiny_roberta_qa", "tiny_bert_plain")


WINDOWS = {option.name.lower(): option.default for option in get_task("tqa").stage1_options}  # the defaults

def paragraph(seed: int, words: int = 48) -> list[str]:
    rng = np.random.default_rng(seed)
    return list(rng.choice(WORDS, size=words))


def qa_rows(paragraphs: int = 6, per_paragraph: int = 7) -> list[dict]:
    """Questions whose answers are 1-3 consecutive words of their context, with the answer's character offset."""
    rows = []
    for p in range(paragraphs):
        words = paragraph(p)
        context = " ".join(words)
        starts = np.cumsum([0] + [len(word) + 1 for word in words])
        for q in range(per_paragraph):
            first, length = 1 + (7 * q + 3 * p) % (len(words) - 4), 1 + (q + p) % 3
            answer = " ".join(words[first:first + length])
            rows.append({"id": f"p{p}q{q}", "context": context, "question": f"what follows {words[first - 1]} ?",
                         "answer": answer, "answer_start": int(starts[first])})
    return rows


def squad_json(rows: list[dict], per_article: int = 2) -> dict:
    """SQuAD v1.1 layout: contexts in order, `per_article` paragraphs an article, a decoy second answer."""
    paragraphs: list[dict] = []
    for row in rows:
        if not paragraphs or paragraphs[-1]["context"] != row["context"]:
            paragraphs.append({"context": row["context"], "qas": []})
        paragraphs[-1]["qas"].append({"id": row["id"], "question": row["question"], "answers": [
            {"text": row["answer"], "answer_start": row["answer_start"]}, {"text": "decoy", "answer_start": 0}]})
    return {"version": "1.1", "data": [{"title": f"a{i}", "paragraphs": paragraphs[i:i + per_article]}
                                       for i in range(0, len(paragraphs), per_article)]}


def make_bpe_tokenizer(folder: Path):
    """A RoBERTa byte-level BPE tokenizer trained offline on the test's words."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    bpe = ByteLevelBPETokenizer()
    texts = [" ".join(paragraph(seed)) for seed in range(40)] + ["what follows ?"] * 5
    bpe.train_from_iterator(texts, vocab_size=400, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    folder.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(folder))
    vocab = json.loads((folder / "vocab.json").read_text())
    merges = [tuple(line.split()) for line in (folder / "merges.txt").read_text().splitlines()
              if line and not line.startswith("#")]
    return RobertaTokenizer(vocab=vocab, merges=merges)


def make_tiny_qa_model(folder: Path, family: str, seed: int = 0) -> Path:
    from transformers import (BertConfig, BertForQuestionAnswering, BertModel, BertTokenizerFast, RobertaConfig,
                              RobertaForQuestionAnswering)

    from pipeline.models.text import minilm_path

    sizes = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37}
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if family == "roberta":
            tokenizer = make_bpe_tokenizer(folder / "bpe")
            model = RobertaForQuestionAnswering(RobertaConfig(vocab_size=len(tokenizer), pad_token_id=1,
                                                              bos_token_id=0, eos_token_id=2, **sizes))
        else:
            tokenizer = BertTokenizerFast.from_pretrained(str(minilm_path()))
            model_class = BertForQuestionAnswering if family == "bert" else BertModel
            model = model_class(BertConfig(vocab_size=len(tokenizer), **sizes))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("tqa")
    checkpoints = root / "checkpoints"
    for name, family, seed in zip(TINY_MODELS, ("bert", "roberta", "plain"), (0, 1, 2)):
        make_tiny_qa_model(checkpoints / name, family, seed)
    rows = qa_rows()
    (root / "data" / "minisquad").mkdir(parents=True)
    (root / "data" / "minisquad" / "train-v1.1.json").write_text(json.dumps(squad_json(rows)))
    table = root / "mytable" / "qa.jsonl"
    table.parent.mkdir()
    table.write_text("".join(json.dumps({k: row[k] for k in ("context", "question", "answer", "answer_start")})
                             + "\n" for row in rows[::-1]))
    return {"root": root, "checkpoints": checkpoints, "rows": rows, "table": table}


# ----- readers ------------------------------------------------------------------------------------------------
def test_squad_file_in_file_order_first_answer_gold_paragraph_groups(work):
    questions = load_qa("minisquad", data_root=work["root"] / "data")
    rows = work["rows"]
    assert questions.split == "train" and len(questions) == len(rows) == 42
    assert questions.ids == [row["id"] for row in rows]
    assert questions.answers == [row["answer"] for row in rows]  # the first answer, never the decoy
    assert [r.answer_start for r in questions.records] == [row["answer_start"] for row in rows]
    assert questions.groups == [i // 7 for i in range(42)]        # one group a paragraph, across articles
    assert questions.skipped == [] and questions.unanswerable_dropped == 0
    assert questions.source == str((work["root"] / "data" / "minisquad" / "train-v1.1.json").resolve())
    assert len(load_qa("minisquad", data_root=work["root"] / "data", max_samples=5)) == 5


def test_squad_v2_unanswerable_dropped_by_default_or_kept_with_the_fixed_text(tmp_path):
    squad = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": "Cats sleep all day.", "qas": [
        {"id": "a", "question": "Who sleeps?", "answers": [{"text": "Cats", "answer_start": 0}],
         "is_impossible": False},
        {"id": "b", "question": "Who barks?", "answers": [], "is_impossible": True,
         "plausible_answers": [{"text": "Cats", "answer_start": 0}]},
        {"id": "c", "question": "How long?", "answers": [{"text": "all day", "answer_start": 11}]}]}]}]}
    path = tmp_path / "dev-v2.0.json"
    path.write_text(json.dumps(squad))
    dropped = load_qa(None, qa_file=path)
    assert dropped.ids == ["a", "c"] and dropped.unanswerable_dropped == 1 and dropped.name == tmp_path.name
    kept = load_qa(None, qa_file=path, unanswerable="keep")
    assert kept.ids == ["a", "b", "c"] and kept.answers == ["Cats", NO_ANSWER_TEXT, "all day"]
    assert kept[1].answer_start == -1 and not kept[1].answerable and kept.unanswerable_dropped == 0
    with pytest.raises(ValueError, match="unanswerable must be one of drop, keep"):
        load_qa(None, qa_file=path, unanswerable="ignore")


def test_squad_bad_rows_named_skipped_and_counted_and_bad_files_refused(tmp_path):
    squad = {"data": [{"paragraphs": [
        {"context": "   ", "qas": [{"id": "e1", "question": "Q?", "answers": [{"text": "x", "answer_start": 0}]}]},
        {"context": "Rome is old.", "qas": [
            {"id": "m1", "question": "What?", "answers": [{"text": "old", "answer_start": 2}]},
            {"id": "n1", "answers": [{"text": "Rome", "answer_start": 0}]},
            {"id": "g1", "question": "Which city?", "answers": [{"text": "Rome", "answer_start": 0}]}]}]},
        "not an article"]}
    path = tmp_path / "train.json"
    path.write_text(json.dumps(squad))
    questions = load_qa(None, qa_file=path)
    assert questions.ids == ["g1"] and questions.groups == [1] and len(questions.skipped) == 4
    assert questions.skipped[0] == f"{path}:article 0, paragraph 0, question 0 (id e1): empty context"
    assert "(id m1): answer 'old' is not at answer_start 2; it occurs at 8" in questions.skipped[1]
    assert "(id n1): no question" in questions.skipped[2]
    assert questions.skipped[3] == f"{path}:article 1: no 'paragraphs' list"
    path.write_text('{"data": [ {"paragraphs": ')
    with pytest.raises(ValueError, match=r"train\.json is not valid JSON"):
        load_qa(None, qa_file=path)
    path.write_text('[1, 2]')
    with pytest.raises(ValueError, match=r"train\.json is not a SQuAD file"):
        load_qa(None, qa_file=path)


def test_jsonl_first_occurrence_explicit_start_bad_lines_and_context_groups(tmp_path):
    path = tmp_path / "qa.jsonl"
    lines = [{"context": "red fox and red hen", "question": "Which colour?", "answer": "red"},
             {"context": "red fox and red hen", "question": "Hen colour?", "answer": "red", "answer_start": 12},
             {"context": "red fox and red hen", "question": "Bird?", "answer": "crow"},
             {"context": "", "question": "Empty?", "answer": "x"},
             {"context": "blue sky", "question": "What is blue?", "answer": "sky", "id": "sky-1"},
             {"context": "blue sky", "question": "Unknown?", "answer": ""},
             {"context": "red fox", "question": "Wrong start?", "answer": "fox", "answer_start": 1},
             {"context": "old oak tree", "question": "Which tree?", "answer": " oak ", "answer_start": 3}]
    path.write_text("\n".join([json.dumps(line) for line in lines[:3]] + ["{not json", ""]
                              + [json.dumps(line) for line in lines[3:]]) + "\n")
    questions = load_qa(None, qa_file=path)
    assert questions.name == tmp_path.name and questions.split is None
    assert [r.answer_start for r in questions.records] == [0, 12, 5, 4]
    assert questions.answers == ["red", "red", "sky", "oak"]  # whitespace around an answer is not the answer's
    assert questions.ids == ["line 1", "line 2", "sky-1", "line 10"] and questions.groups == [0, 0, 1, 2]
    assert questions.skipped == [f"{path}:line 3: answer 'crow' is not in its context",
                                 f"{path}:line 4: not JSON (Expecting property name enclosed in double quotes at "
                                 "column 2)",
                                 f"{path}:line 6: empty context",
                                 f"{path}:line 9: answer 'fox' is not at answer_start 1; it occurs at 4"]
    assert questions.unanswerable_dropped == 1
    kept = load_qa(None, qa_file=path, unanswerable="keep")
    assert kept.answers == ["red", "red", "sky", NO_ANSWER_TEXT, "oak"] and kept.groups == [0, 0, 1, 1, 2]
    path.write_text("{not json\n")
    with pytest.raises(ValueError, match=r"holds no usable question: 1 bad row"):
        load_qa(None, qa_file=path)


def test_dataset_found_by_name_and_split_or_refused_clearly(work, tmp_path):
    folder = tmp_path / "squad"
    folder.mkdir()
    source = work["root"] / "data" / "minisquad" / "train-v1.1.json"
    (folder / "dev-v1.1.json").write_text(source.read_text())
    assert load_qa("squad", data_root=tmp_path, split="dev").source.endswith("dev-v1.1.json")
    with pytest.raises(FileNotFoundError, match=r"train-v1\.1\.json.*SQuAD-explorer"):
        load_qa("squad", data_root=tmp_path)
    (folder / "dev.json").write_text(source.read_text())
    with pytest.raises(ValueError, match=r"several files of split 'dev' \(dev\.json, dev-v1\.1\.json\)"):
        load_qa("squad", data_root=tmp_path, split="dev")
    (folder / "qa.jsonl").write_text(work["table"].read_text())
    table = load_qa("squad", data_root=tmp_path, split="test")
    assert table.source.endswith("qa.jsonl") and table.split is None and len(table) == 42
    assert dataset_name_of(folder / "dev-v2.0.json") == "squad" and dataset_name_of(work["table"]) == "mytable"
    assert dataset_name_of(tmp_path / "my_questions.jsonl") == "my_questions"
    with pytest.raises(FileNotFoundError, match="QA file .*absent.json not found"):
        load_qa(None, qa_file=tmp_path / "absent.json")


# ----- the feature: pooled tokens are the answer's -------------------------------------------------------------
def answer_token_ids(tokenizer, record: QARecord) -> list[int]:
    """The answer's tokens as the tokenizer gives them for the answer text alone (with the space before it for a
    byte-level BPE, which folds a word's leading space into its first token; where the small vocabulary keeps
    that space as a token of its own, 'Ġ', that token is the space's, not the answer's)."""
    if tokenizer.cls_token != "<s>" or record.answer_start == 0:
        return tokenizer(record.answer, add_special_tokens=False)["input_ids"]
    ids = tokenizer(" " + record.answer, add_special_tokens=False)["input_ids"]
    return ids[1:] if tokenizer.convert_ids_to_tokens(ids[0]) == "Ġ" else ids


@pytest.mark.parametrize("name", ["tiny_bert_qa", "tiny_roberta_qa"])
@pytest.mark.parametrize("max_length", [384, 30])
def test_pooled_tokens_are_exactly_the_answers(work, name, max_length):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(work["checkpoints"] / name)
    records = load_qa(None, qa_file=work["table"]).records
    inputs = QAInputs(records, tokenizer, feature="span", max_length=max_length, stride=9)
    later_windows = 0
    for index, record in enumerate(records):
        item = inputs[index]
        pooled = [token for token, keep in zip(item["input_ids"], item["pool"]) if keep]
        assert pooled == answer_token_ids(tokenizer, record), (record, tokenizer.convert_ids_to_tokens(pooled))
        encoded = inputs.windows(record)
        window = inputs.window_with_answer(encoded, record)
        spans = [span for span, keep in zip(encoded["offset_mapping"][window], item["pool"]) if keep]
        assert record.context[spans[0][0]:spans[-1][1]] == record.answer
        assert item["input_ids"] == encoded["input_ids"][window] and len(item["input_ids"]) <= max_length
        later_windows += window > 0
    if max_length == 30:  # short windows: many answers lie past the first window of their context
        assert later_windows >= 8
    else:
        assert later_windows == 0


def test_a_lone_space_token_inside_the_answer_is_pooled_and_one_before_it_is_not(work):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(work["checkpoints"] / "tiny_roberta_qa")
    # no word of the BPE's training texts holds a 'z', so it learnt no merge of a space with one: 'Ġ' stays apart
    split = [word for word in ("zebra", "jazz") if tokenizer.tokenize(" " + word)[0] == "Ġ"]
    assert split, tokenizer.tokenize(" zebra")
    context = f"castle river {split[0]} tower"
    for answer, expected in ((f"river {split[0]}", f" river {split[0]}"), (split[0], split[0])):
        record = QARecord("s", context, "which ?", answer, context.index(answer), 0)
        item = QAInputs([record], tokenizer, **WINDOWS)[0]
        pooled = tokenizer.convert_ids_to_tokens([t for t, k in zip(item["input_ids"], item["pool"]) if k])
        assert pooled == tokenizer.tokenize(expected)


def test_answer_far_past_the_first_window_long_context(work):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(work["checkpoints"] / "tiny_bert_qa")
    words = paragraph(7, words=300)
    words[250:252] = ["golden", "lighthouse"]
    context = " ".join(words)
    record = QARecord("far", context, "what shines ?", "golden lighthouse", context.index("golden lighthouse"), 0)
    inputs = QAInputs([record], tokenizer, feature="span", max_length=32, stride=8)
    encoded = inputs.windows(record)
    window = inputs.window_with_answer(encoded, record)
    assert len(encoded["input_ids"]) > 10 and window >= 10
    item = inputs[0]
    assert tokenizer.convert_ids_to_tokens([t for t, k in zip(item["input_ids"], item["pool"]) if k]) == \
        tokenizer.tokenize("golden lighthouse")
    _, last = QAInputs.context_span(encoded, window - 1)  # the window before does not hold the whole answer
    assert encoded["offset_mapping"][window - 1][last][1] < record.answer_end


def test_feature_is_the_mean_of_the_answers_states_and_independent_of_batch_mates(work):
    model, meta = load_qa_model("tiny_roberta_qa", checkpoint_dir=work["checkpoints"], feature="span", max_length=32,
                                stride=6)
    assert meta["model_class"] == "AutoModelForQuestionAnswering" and meta["model_type"] == "roberta"
    records = load_qa(None, qa_file=work["table"]).records[:6]
    inputs = model.inputs(records)
    batched = model(*model.collate([inputs[i] for i in range(len(records))])).numpy()
    encoder = model.model.roberta
    for index, record in enumerate(records):
        encoded = inputs.windows(record)
        window = inputs.window_with_answer(encoded, record)
        ids, offsets = encoded["input_ids"][window], encoded["offset_mapping"][window]
        context = [t for t, sequence in enumerate(encoded.sequence_ids(window)) if sequence == 1]
        first = next(t for t in context if offsets[t][0] == record.answer_start)  # answers are whole words
        last = next(t for t in context if offsets[t][1] == record.answer_end)
        with torch.no_grad():
            hidden = encoder(input_ids=torch.tensor([ids])).last_hidden_state[0]
        expected = hidden[first:last + 1].mean(dim=0).numpy()
        np.testing.assert_allclose(batched[index], expected, rtol=0, atol=1e-5)
    cls_model, _ = load_qa_model("tiny_roberta_qa", checkpoint_dir=work["checkpoints"], feature="cls",
                                 max_length=32, stride=6)
    item = cls_model.inputs(records)[0]
    assert item["pool"] == [1] + [0] * (len(item["pool"]) - 1)
    with torch.no_grad():
        hidden = encoder(input_ids=torch.tensor([item["input_ids"]])).last_hidden_state[0]
    np.testing.assert_allclose(cls_model(*cls_model.collate([item]))[0].numpy(), hidden[0].numpy(), atol=1e-5)


def test_unreadable_questions_raise_a_clear_error_per_sample(work):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(work["checkpoints"] / "tiny_bert_qa")
    context = " ".join(paragraph(3, words=60))
    long_answer = " ".join(context.split()[10:40])
    records = [QARecord("long", context, "which ?", long_answer, context.index(long_answer), 0),
               QARecord("wordy", context, " ".join(WORDS), "river", context.find("river"), 0),
               QARecord("none", context, "anything ?", NO_ANSWER_TEXT, -1, 0)]
    inputs = QAInputs(records, tokenizer, feature="span", max_length=24, stride=4)
    with pytest.raises(ValueError, match=r"the answer \(30 tokens\) lies in no single window of 24 tokens"):
        inputs[0]
    with pytest.raises(ValueError, match=r"the question takes 33 tokens, leaving -12 for the context"):
        inputs[1]
    assert inputs[2]["pool"][0] == 1 and sum(inputs[2]["pool"]) == 1  # kept unanswerable: the [CLS] state
    with pytest.raises(ValueError, match="stride must be in"):
        QAInputs(records, tokenizer, feature="span", max_length=24, stride=24)
    with pytest.raises(ValueError, match="feature must be one of span, cls"):
        QAInputs(records, tokenizer, feature="mean", max_length=24, stride=4)


def test_checkpoints_resolved_plain_encoders_and_the_bundled_minilm(work):
    from pipeline.models.text import minilm_path

    assert resolve_checkpoint("all-MiniLM-L6-v2") == str(minilm_path())
    assert resolve_checkpoint("tiny_bert_qa", work["checkpoints"]) == str(work["checkpoints"] / "tiny_bert_qa")
    assert resolve_checkpoint("org/some-model") == "org/some-model"
    plain, meta = load_qa_model("tiny_bert_plain", checkpoint_dir=work["checkpoints"], **WINDOWS)
    assert meta["model_class"] == "AutoModel" and meta["max_length_used"] == 384
    minilm, meta = load_qa_model("all-MiniLM-L6-v2", **WINDOWS)
    assert meta["model_class"] == "AutoModel" and meta["checkpoint"] == str(minilm_path())
    records = load_qa(None, qa_file=work["table"]).records[:3]
    features = minilm(*minilm.collate([minilm.inputs(records)[i] for i in range(3)]))
    assert features.shape == (3, 384) and torch.isfinite(features).all()


# ----- the chain: stage 1 -> stage 2 (MiniLM) -> stage 3, through the scripts ------------------------------------
def test_chain_stage_1_2_3_on_a_squad_file_and_a_qa_table(work, tmp_path, monkeypatch, capsys):
    from pipeline.models.text import minilm_path
    from pipeline.store import Store

    results, data_root, table = tmp_path / "results", str(work["root"] / "data"), str(work["table"])
    # a row whose answer is in no single window of 32 tokens: skipped at stage 1 and counted, never a crash
    rows = work["rows"] + [{"context": " ".join(paragraph(9, 40)), "question": "all ?",
                            "answer": " ".join(paragraph(9, 40)[2:30])}]
    bad_table = tmp_path / "withlong" / "qa.jsonl"
    bad_table.parent.mkdir()
    bad_table.write_text("".join(json.dumps(row) + "\n" for row in rows) + "{oops\n")
    common = ["--checkpoint-dir", str(work["checkpoints"]), "--results", str(results), "--num-workers", "0",
              "--batch-size", "5", "--max-length", "32", "--stride", "6", "--device", "cpu"]
    assert run_script("forward_feature_tqa.py", [*common, "--datasets", "minisquad", "--data-root", data_root,
                                                 "--models", *TINY_MODELS, "org/absent-qa-model"], monkeypatch) == 1
    out = capsys.readouterr().out
    assert "org/absent-qa-model: FAILED: could not load QA model 'org/absent-qa-model'" in out
    assert out.count(": wrote ") == 3
    assert run_script("forward_feature_tqa.py", [*common, "--qa-file", table, "--models", *TINY_MODELS],
                      monkeypatch) == 0
    assert run_script("forward_feature_tqa.py", [*common, "--qa-file", str(bad_table), "--models", "tiny_bert_qa"],
                      monkeypatch) == 0
    out = capsys.readouterr().out
    assert f"[withlong] skipped {bad_table}:line 44: not JSON" in out
    assert "skipped sample 42 (line 43): ValueError: the answer (28 tokens) lies in no single window" in out
    store = Store(results)
    features, labels, meta = store.load_features("withlong", "tiny_bert_qa")
    assert features.shape == (42, 32) and meta["skipped_rows"] == 1 and meta["data"]["samples"] == 43
    assert [s["index"] for s in meta["skipped_samples"]] == [42]
    edited = [{**row, "question": "what precedes ?"} if i == 3 else row for i, row in enumerate(rows)]
    bad_table.write_text("".join(json.dumps(row) + "\n" for row in edited) + "{oops\n")  # another question only
    assert run_script("forward_feature_tqa.py", [*common, "--qa-file", str(bad_table), "--models", "tiny_bert_qa"],
                      monkeypatch) == 0
    assert "made from other data" in capsys.readouterr().out      # an edited question is other data: redone
    for dataset, order in (("minisquad", work["rows"]), ("mytable", work["rows"][::-1])):
        expected_groups = load_qa(None, qa_file=table if dataset == "mytable" else
                                  work["root"] / "data" / "minisquad" / "train-v1.1.json").groups
        for name in TINY_MODELS:
            features, labels, meta = store.load_features(dataset, name)
            assert features.shape == (len(order), 32) and labels.tolist() == expected_groups
            assert meta["feature"] == "span" and meta["max_length"] == 32 and meta["task"] == "tqa"
    squad_bert = store.load_features("minisquad", "tiny_bert_qa")[0]
    table_bert = store.load_features("mytable", "tiny_bert_qa")[0]
    np.testing.assert_allclose(table_bert[::-1], squad_bert, atol=1e-5)  # the same questions, reversed order

    stage2 = ["--task", "tqa", "--model", str(minilm_path()), "--results", str(results), "--device", "cpu"]
    assert run_script("Label_embedding/bert_sentence.py", [*stage2, "--datasets", "minisquad", "--data-root",
                                                           data_root], monkeypatch) == 0
    assert run_script("Label_embedding/bert_sentence.py", [*stage2, "--qa-file", table], monkeypatch) == 0
    (encoder,) = store.list_flabel_encoders("minisquad", "sample")
    flabels, flabel_meta = store.load_flabels("minisquad", encoder, "sample")
    assert flabels.shape == (42, 384) and flabel_meta["task"] == "tqa"
    table_flabels = store.load_flabels("mytable", encoder, "sample")[0]
    np.testing.assert_allclose(table_flabels[::-1], flabels, atol=1e-5)  # answer texts, row for row

    capsys.readouterr()
    stage3 = ["--results", str(results), "--datasets", "minisquad,mytable", "--models", *TINY_MODELS]
    assert run_script("evaluate_metric_tqa.py", stage3, monkeypatch) == 0
    out = capsys.readouterr().out
    ranked = "models ranked by the consensus of the metrics and by each metric"
    assert f"minisquad: {ranked}" in out and f"mytable: {ranked}" in out
    import metrics

    emms = store.load_scores("minisquad", "emms")
    for name in TINY_MODELS:
        features = store.load_features("minisquad", name)[0]
        assert emms[name]["score"] == pytest.approx(metrics.emms(features, [flabels]), rel=1e-9)
    ranked = sorted(TINY_MODELS, key=lambda name: -emms[name]["score"])
    ranking_table = out.split("minisquad: models ranked by the consensus of the metrics and by each metric")[1]
    first_row = next(line for line in ranking_table.splitlines() if line.startswith("| 1 "))
    assert ranked[0] in first_row.split("|")[2]

    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"zoo": "tinyqa", "description": "made up", "source": "this test",
                                 "measure": {"minisquad": "F1 (made up)"},
                                 "finetune": {"minisquad": {"tiny_bert_qa": 61.0, "tiny_roberta_qa": 55.5,
                                                            "tiny_bert_plain": 58.0}}}))
    stage3 = ["--results", str(results), "--ground-truth", str(truth)]
    assert run_script("evaluate_metric_tqa.py", stage3, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "### emms on zoo tqa: correlation with fine-tuning" in out
    emms_row = next(line for line in out.split("### emms")[1].splitlines() if line.startswith("| minisquad"))
    assert -1 <= float(emms_row.split("|")[2]) <= 1, emms_row


def test_commands_that_remake_missing_inputs_repeat_the_stored_settings():
    from pipeline.tasks import get

    task = get("tqa")
    by_file = {"dataset_dir": "/d/mine/qa.jsonl", "split": None, "unanswerable": "keep", "max_samples": None,
               "feature": "cls", "max_length": 256, "stride": 64}
    assert task.stage1_command("mine", ["a", "org/b"], by_file) == (
        "python forward_feature_tqa.py --models a,org/b --dataset-dir /d/mine/qa.jsonl --unanswerable keep "
        "--feature cls --max-length 256 --stride 64")
    by_name = {"dataset_dir": None, "split": "dev", "unanswerable": "drop", "max_samples": 500}
    assert task.stage2_command("squad", by_name) == (
        "python Label_embedding/bert_sentence.py --task tqa --datasets squad --split dev --max-samples 500")


def test_kept_unanswerable_questions_through_the_task(work, tmp_path):
    import argparse

    from pipeline.extract import extract_candidate
    from pipeline.store import Store
    from pipeline.tasks import get

    rows = work["rows"][:3]
    squad = squad_json(rows)
    squad["data"][0]["paragraphs"][0]["qas"].append({"id": "impossible", "question": "what is absent ?",
                                                     "answers": [], "is_impossible": True})
    path = tmp_path / "dev-v2.0.json"
    path.write_text(json.dumps(squad))
    task = get("tqa")
    args = argparse.Namespace(dataset_dir=str(path), data_root=str(tmp_path), split="dev", unanswerable="keep",
                              max_samples=None, checkpoint_dir=str(work["checkpoints"]), feature="span",
                              max_length=64, stride=16)
    samples = task.load_samples(None, args)
    assert samples.texts == [row["answer"] for row in rows] + [NO_ANSWER_TEXT] and samples.labels.tolist() == [0] * 4
    _, texts, settings = task.flabel_texts(None, args)
    assert texts == samples.texts and settings["unanswerable"] == "keep"
    store = Store(tmp_path / "results")
    extract_candidate(task.candidate("tiny_bert_qa", args), samples, store, batch_size=4, device="cpu",
                      flabel_kind=task.flabel_kind)
    features, _, meta = store.load_features(samples.name, "tiny_bert_qa")
    assert meta["unanswerable"] == "keep" and meta["data"]["fingerprint"] == samples.fingerprint
    model, _ = load_qa_model("tiny_bert_qa", checkpoint_dir=work["checkpoints"], feature="span", max_length=64,
                             stride=16)
    item = model.inputs(samples.items)[3]
    with torch.no_grad():
        hidden = model.encoder(**{k: torch.tensor([v]) for k, v in item.items() if k != "pool"}).last_hidden_state
    np.testing.assert_allclose(features[3], hidden[0, 0].numpy(), atol=1e-5)  # the [CLS] state of window 1
