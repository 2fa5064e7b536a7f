"""pipeline.evaluate.external_scores: the CSV of scores made elsewhere (--scores), on small hand-made files; the τ
of what it reads against a hand-made truth, with scipy directly."""
import re

import pytest
from scipy import stats

from pipeline.evaluate import correlation
from pipeline.evaluate.external_scores import BASELINES, Duplicate, read_scores_csv
from pipeline.evaluate.uncertainty import bootstrap_tau, consensus

TABLE = """\
model,score,dataset,metric
resnet50,1.5,cifar10,logme
resnet18,0.9,cifar10,logme
vit_b16,2.25,cifar10,logme
mobilenet,-0.5,cifar10,logme
resnet50,-3.0,cifar10,my metric
resnet18,-1.0,cifar10,my metric
vit_b16,-2.0,cifar10,my metric
mobilenet,-4e0,cifar10,my metric
resnet50,76.1,cifar10,source_accuracy
resnet18,69.8,cifar10,source_accuracy
vit_b16,81.1,cifar10,source_accuracy
mobilenet,71.9,cifar10,source_accuracy
resnet50,25.6e6,cifar10,params
resnet18,11.7e6,cifar10,params
vit_b16,86.6e6,cifar10,params
mobilenet,3.5e6,cifar10,params
resnet50,0.4,pets,logme
"""
# Fine-tuned accuracies on cifar10, in the order resnet50, resnet18, vit_b16, mobilenet.
TRUTH = {"resnet50": 97.2, "resnet18": 95.1, "vit_b16": 98.9, "mobilenet": 96.0}


def _write(tmp_path, text, name="scores.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_reads_the_table_in_any_column_order(tmp_path):
    table = read_scores_csv(_write(tmp_path, TABLE))
    assert list(table) == ["cifar10", "pets"]
    assert list(table["cifar10"]) == ["logme", "my metric", "source_accuracy", "params"]
    assert table["cifar10"]["logme"] == {"resnet50": 1.5, "resnet18": 0.9, "vit_b16": 2.25, "mobilenet": -0.5}
    assert table["cifar10"]["my metric"]["mobilenet"] == -4.0
    assert table["cifar10"]["params"]["vit_b16"] == 86.6e6
    assert table["pets"] == {"logme": {"resnet50": 0.4}}
    assert table.duplicates == []
    assert BASELINES == ("source_accuracy", "params") and all(b in table["cifar10"] for b in BASELINES)


def test_the_tau_of_each_metric_baseline_and_the_consensus_is_scipys(tmp_path):
    table = read_scores_csv(_write(tmp_path, TABLE))["cifar10"]
    truth = [97.2, 95.1, 98.9, 96.0]
    by_hand = {"logme": [1.5, 0.9, 2.25, -0.5], "my metric": [-3.0, -1.0, -2.0, -4.0],
               "source_accuracy": [76.1, 69.8, 81.1, 71.9], "params": [25.6e6, 11.7e6, 86.6e6, 3.5e6]}
    for metric, scores in by_hand.items():
        expected = stats.weightedtau(scores, truth).statistic
        assert correlation.correlate(table[metric], TRUTH)["weighted_tau"] == pytest.approx(expected, abs=1e-15)
        assert bootstrap_tau(table[metric], TRUTH, draws=50)["point"] == pytest.approx(expected, abs=1e-15)
    # consensus of the two metrics (baselines apart), by hand: normalised ranks (r - 1) / 3, then their mean
    # logme ranks mobilenet 0, resnet18 1/3, resnet50 2/3, vit_b16 1; "my metric" mobilenet 0, resnet50 1/3,
    # vit_b16 2/3, resnet18 1.
    combined = consensus({m: s for m, s in table.items() if m not in BASELINES})
    hand = {"resnet50": 1 / 2, "resnet18": 2 / 3, "vit_b16": 5 / 6, "mobilenet": 0.0}
    assert combined == pytest.approx(hand, abs=1e-15)
    expected = stats.weightedtau([hand[m] for m in TRUTH], truth).statistic
    assert correlation.correlate(combined, TRUTH)["weighted_tau"] == pytest.approx(expected, abs=1e-15)


def test_blank_lines_white_space_quotes_and_a_byte_order_mark(tmp_path):
    text = 'dataset, model ,metric,score\r\n\r\n d1 ,"a, the first",m, 1.0 \r\n d1,b,m,2\r\n\r\n'
    table = read_scores_csv(_write(tmp_path, text, encoding="utf-8-sig"))
    assert table == {"d1": {"m": {"a, the first": 1.0, "b": 2.0}}}


def test_a_repeated_row_with_the_same_score_is_kept_once_and_reported(tmp_path):
    text = "dataset,model,metric,score\nd,a,m,1.0\nd,b,m,2\nd,a,m,1.00\nd,a,m,1\n"
    table = read_scores_csv(_write(tmp_path, text))
    assert table == {"d": {"m": {"a": 1.0, "b": 2.0}}}
    assert table.duplicates == [Duplicate(4, 2, "d", "a", "m", 1.0), Duplicate(5, 2, "d", "a", "m", 1.0)]
    assert table.duplicates[0].line == 4 and table.duplicates[0].first_line == 2


@pytest.mark.parametrize("text, line, what", [
    ("dataset,model,metric,score\nd,a,m,1.0\nd,a,m,1.5\n", 3, r"1\.5 here and 1\.0 on line 2; keep one"),
    ("dataset,model,metric\nd,a,m\n", 1, r"missing column\(s\) \['score'\]"),
    ("Dataset,model,metric,score\nd,a,m,1\n", 1, r"missing column\(s\) \['dataset'\]; unexpected column\(s\) "
                                                 r"\['Dataset'\].*case-sensitive"),
    ("dataset,model,metric,score,note\nd,a,m,1,x\n", 1, r"unexpected column\(s\) \['note'\].*no other column"),
    ("dataset,model,metric,score,score\nd,a,m,1,1\n", 1, r"\['score'\] named more than once"),
    ("dataset,model,metric,score\nd,a,m,1\nd,b,m\n", 3, r"3 field\(s\), the header has 4"),
    ("dataset,model,metric,score\nd,a,m,1\nd,b,m,high\n", 3, r"score 'high' is not a finite number"),
    ("dataset,model,metric,score\nd,a,m,nan\n", 2, r"score 'nan' is not a finite number"),
    ("dataset,model,metric,score\nd,a,m,-inf\n", 2, r"'-inf' is not a finite number"),
    ("dataset,model,metric,score\nd,a,m,\n", 2, r"score '' is not a finite number"),
    ("dataset,model,metric,score\nd,,m,1\n", 2, r"empty model"),
    ("dataset,model,metric,score\n  ,a,m,1\n", 2, r"empty dataset"),
    ("dataset,model,metric,score\nd,a, ,1\n", 2, r"empty metric"),
    ("dataset,model,metric,score\nd,a,consensus,1\n", 2, r"'consensus' is reserved.*rename"),
    ("dataset,model,metric,score\nd,a,dataset,1\n", 2, r"'dataset' is reserved.*row key"),
    ('dataset,model,metric,score\nd,"a"b,m,1\n', 2, r"not valid CSV"),
])
def test_errors_name_the_file_and_the_line(tmp_path, text, line, what):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}, line {line}: .*{what}"):
        read_scores_csv(path)


@pytest.mark.parametrize("text, what", [
    ("", r"empty file; the first line must be the header"),
    ("\n\n", r"empty file"),
    ("dataset,model,metric,score\n", r"no scores, only the header; add rows"),
    ("dataset,model,metric,score\n\n\n", r"no scores, only the header"),
])
def test_an_empty_table_is_an_error(tmp_path, text, what):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: {what}"):
        read_scores_csv(path)


def test_a_missing_or_unreadable_file_is_an_error(tmp_path):
    missing = re.escape(str(tmp_path / "none.csv"))
    with pytest.raises(ValueError, match=rf"^{missing}: no such file; give the CSV of scores"):
        read_scores_csv(tmp_path / "none.csv")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path))}: cannot be read"):
        read_scores_csv(tmp_path)


def test_a_file_that_is_not_utf8_names_the_line(tmp_path):
    text = "dataset,model,metric,score\nd,a,m,1\nd,caf\xe9,m,2\n".encode("latin-1")
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}, line 3: not UTF-8 "
                                         r"\(byte 0xe9 at column 6\); save the file as UTF-8"):
        read_scores_csv(path)

