import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from clustering import data, sources
from clustering.data import Corpus, DataError, clean_text, load_corpus

AG_NAMES = ["World", "Sports", "Business", "Sci/Tech"]
OFFLINE_MESSAGE = "cannot reach the Hugging Face hub to load"


@pytest.mark.parametrize("raw, cleaned", [
    ("Fears for T N pension after talks", "fears for t n pension after talks"),
    ("competing for the  #36;10 million prize", "competing for the 10 million prize"),
    ("A second\\team of rocketeers", "a second team of rocketeers"),
    ("&lt;b&gt;Bold&lt;/b&gt; news", "bold news"),
    ('&lt;A HREF="http://x.com/a"&gt;Link&lt;/A&gt; text', "link text"),
    ("Ben &amp; Jerry", "ben jerry"),
    ("It#39;s here", "its here"),
    ("Bush #151; again", "bush again"),
    ("  Hello,   WORLD!!\n", "hello world"),
    ("snake_case and e-mail", "snake case and e mail"),
    ("Café in Zürich", "café in zürich"),
    ("!!! ... ---", ""),
    (None, ""),
    (float("nan"), ""),
])
def test_clean_text_examples(raw, cleaned):
    assert clean_text(raw) == cleaned


def test_clean_text_is_idempotent():
    raw = "Stocks &lt;b&gt;fell&lt;/b&gt; #36;5\\today (Reuters) -- it#39;s"
    assert clean_text(clean_text(raw)) == clean_text(raw) == "stocks fell 5 today reuters its"


def write_text(path, content):
    path.write_text(content)
    return path


def write_csv(path, rows, sep=","):
    pd.DataFrame(rows).to_csv(path, index=False, sep=sep)
    return path


def test_csv_text_column_and_string_labels(tmp_path):
    path = write_csv(tmp_path / "d.csv", {"text": ["Alpha one", "Beta two", "Gamma three"],
                                          "label": ["world", "sports", "world"]})
    corpus = load_corpus(path)
    assert corpus.texts == ["alpha one", "beta two", "gamma three"]
    assert corpus.label_names == ["sports", "world"]
    assert corpus.labels.tolist() == [1, 0, 1] and corpus.labels.dtype == np.int64
    assert corpus.source == str(path) and len(corpus) == 3


def test_tsv_title_description_one_based_ag_news(tmp_path):
    rows = {"label": [3, 1, 4, 2], "title": ["T1", "T2", "T3", "T4"],
            "description": ["d one", "d two", None, "d four"]}
    corpus = load_corpus(write_csv(tmp_path / "d.tsv", rows, sep="\t"))
    assert corpus.texts == ["t1 d one", "t2 d two", "t3", "t4 d four"]  # missing part skipped
    assert corpus.labels.tolist() == [2, 0, 3, 1]
    assert corpus.label_names == AG_NAMES


def test_zero_based_ag_news_gets_names_but_other_ints_do_not(tmp_path):
    rows = {"label": [0, 1, 2, 3], "title": list("abcd"), "description": list("efgh")}
    assert load_corpus(write_csv(tmp_path / "ag.csv", rows)).label_names == AG_NAMES
    rows["label"] = [1, 2, 3, 5]
    corpus = load_corpus(write_csv(tmp_path / "other.csv", rows))
    assert corpus.label_names == ["1", "2", "3", "5"] and corpus.labels.tolist() == [0, 1, 2, 3]


def test_jsonl_zero_based_labels(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": y}) + "\n"
                            for t, y in [("x y", 1), ("z", 0), ("w", 1)]))
    corpus = load_corpus(path)
    assert corpus.labels.tolist() == [1, 0, 1] and corpus.label_names == ["0", "1"]


def test_parquet_without_labels(tmp_path):
    path = tmp_path / "d.parquet"
    pd.DataFrame({"body": ["First text", "Second one"]}).to_parquet(path)
    corpus = load_corpus(path, text_columns="body")
    assert corpus.texts == ["first text", "second one"]
    assert corpus.labels is None and corpus.label_names is None
    assert corpus.stats["n_classes"] is None and corpus.stats["class_counts"] is None


def test_text_and_label_column_choices(tmp_path):
    path = write_csv(tmp_path / "d.csv", {"title": ["A", "B"], "description": ["x", "y"],
                                          "body": ["p", "q"], "topic": ["t1", "t2"]})
    assert load_corpus(path, text_columns="title, body").texts == ["a p", "b q"]
    assert load_corpus(path, text_columns=["description"]).texts == ["x", "y"]
    assert load_corpus(path).texts == ["a x", "b y"]  # title + description by default
    assert load_corpus(path).labels is None  # no "label" column: unlabelled
    assert load_corpus(path, label_column="topic").label_names == ["t1", "t2"]
    with_label = write_csv(tmp_path / "l.csv", {"text": ["a", "b"], "label": [1, 2]})
    assert load_corpus(with_label, label_column=False).labels is None


def test_clean_false_keeps_text_but_drops_blank(tmp_path):
    path = write_text(tmp_path / "d.jsonl", '{"text": "Hello, World!"}\n{"text": "   "}\n')
    corpus = load_corpus(path, clean=False)
    assert corpus.texts == ["Hello, World!"] and corpus.n_dropped_empty == 1


def test_empty_texts_dropped_and_stats(tmp_path):
    texts = ["one two three", "", "&lt;b&gt;&lt;/b&gt; !!!", "four five", None,
             " ".join(["w"] * 20)]
    path = write_csv(tmp_path / "d.csv", {"text": texts, "label": ["a", "b", "b", "b", "a", "a"]})
    corpus = load_corpus(path)
    assert corpus.texts == ["one two three", "four five", " ".join(["w"] * 20)]
    assert corpus.stats == {
        "n_texts": 3, "n_classes": 2, "class_counts": {"a": 2, "b": 1},
        "mean_words": (3 + 2 + 20) / 3, "share_under_15_words": 2 / 3, "n_dropped_empty": 3,
    }


def balanced_file(tmp_path, sizes=(10, 6, 8)):
    names = [f"class{c}" for c, n in enumerate(sizes) for _ in range(n)]
    texts = [f"text number {i}" for i in range(len(names))]
    return write_csv(tmp_path / "b.csv", {"text": texts, "label": names})


def test_n_per_class_is_balanced_seeded_and_in_file_order(tmp_path):
    path = balanced_file(tmp_path)
    a = load_corpus(path, n_per_class=5, seed=1)
    assert np.bincount(a.labels).tolist() == [5, 5, 5]
    assert a.stats["class_counts"] == {"class0": 5, "class1": 5, "class2": 5}
    numbers = [int(t.split()[-1]) for t in a.texts]
    assert numbers == sorted(numbers)
    b = load_corpus(path, n_per_class=5, seed=1)
    assert a.texts == b.texts and a.fingerprint == b.fingerprint
    assert load_corpus(path, n_per_class=5, seed=2).texts != a.texts


def test_n_per_class_too_large_names_the_class(tmp_path):
    with pytest.raises(DataError, match=r"n_per_class=7 is larger than class 'class1', which has 6"):
        load_corpus(balanced_file(tmp_path), n_per_class=7)


def test_n_per_class_needs_labels(tmp_path):
    path = write_csv(tmp_path / "d.csv", {"text": ["a", "b"]})
    with pytest.raises(DataError, match="n_per_class needs labels"):
        load_corpus(path, n_per_class=1)


def test_max_samples_seeded_subset_recodes_labels(tmp_path):
    path = balanced_file(tmp_path)
    full = load_corpus(path)
    sub = load_corpus(path, max_samples=4, seed=3)
    assert len(sub) == 4 and set(sub.texts) <= set(full.texts)
    assert sub.texts == load_corpus(path, max_samples=4, seed=3).texts
    assert sub.labels.max() == len(sub.label_names) - 1  # codes stay 0..k-1
    assert len(load_corpus(path, max_samples=1000)) == len(full)


def test_fingerprint_tracks_texts_and_labels():
    a = Corpus(texts=["ab", "c"], labels=[0, 1], label_names=["x", "y"])
    assert len(a.fingerprint) == 16 and int(a.fingerprint, 16) >= 0
    assert a.fingerprint == Corpus(texts=["ab", "c"], labels=[0, 1]).fingerprint
    assert a.fingerprint != Corpus(texts=["ab", "c"], labels=[1, 0]).fingerprint
    assert a.fingerprint != Corpus(texts=["a", "bc"], labels=[0, 1]).fingerprint
    assert a.fingerprint != Corpus(texts=["ab", "c"]).fingerprint


@pytest.mark.parametrize("setup, kwargs, message", [
    (lambda p: p / "missing.csv", {}, "data file not found: .*missing.csv"),
    (lambda p: write_csv(p / "d.txt", {"text": ["a"]}), {}, "unsupported data file .*d.txt: use one of .csv, .tsv"),
    (lambda p: write_csv(p / "d.csv", {"text": ["a"]}), {"text_columns": "body"}, r"text column\(s\) \['body'\] not found; columns are \['text'\]"),
    (lambda p: write_csv(p / "d.csv", {"body": ["a"]}), {}, r"no text column found: pass text_columns=...; columns are \['body'\]"),
    (lambda p: write_csv(p / "d.csv", {"text": ["a"]}), {"label_column": "y"}, r"label column 'y' not found; columns are \['text'\]"),
    (lambda p: write_csv(p / "d.csv", {"text": ["!!", ""]}), {}, "no texts left in .* after dropping 2 empty"),
    (lambda p: write_csv(p / "d.csv", {"text": ["a", "b"], "label": [1, None]}), {}, "label column 'label' has 1 missing value"),
    (lambda p: write_text(p / "e.csv", ""), {}, "data file is empty"),
    (lambda p: write_text(p / "h.csv", "text,label\n"), {}, "data file has no rows"),
    (lambda p: write_csv(p / "d.csv", {"text": ["a"]}), {"split": "test"}, "single split 'train'"),
])
def test_bad_inputs_raise_one_clear_line(tmp_path, setup, kwargs, message):
    with pytest.raises(DataError, match=message) as info:
        load_corpus(setup(tmp_path), **kwargs)
    assert "\n" not in str(info.value)


def test_hub_unreachable_fails_fast_with_local_file_hint(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(sources, "hub_reachable", lambda: False)
    start = time.perf_counter()
    with pytest.raises(data.HubUnreachable) as info:
        load_corpus("fancyzhx/ag_news")
    assert time.perf_counter() - start < 1
    assert str(info.value) == (
        "cannot reach the Hugging Face hub to load 'fancyzhx/ag_news'; pass a local file instead "
        "(.csv, .tsv, .parquet, .jsonl, .json), or data=ag_news_test for the AG News test split bundled "
        "with the package"
    )


def test_the_bundled_ag_news_test_split_loads_by_name_and_by_path():
    path = data.bundled_path("ag_news_test")
    assert path.name == "ag_news_test.csv.gz" and path.parent.name == "datasets"
    assert (path.parent / "README.md").is_file()  # the attribution and licence note beside it
    by_name = load_corpus("ag_news_test", n_per_class=5, seed=1)
    by_path = load_corpus(path, n_per_class=5, seed=1)
    assert by_name.source == "ag_news_test" and by_name.texts == by_path.texts
    assert by_name.label_names == ["World", "Sports", "Business", "Sci/Tech"]
    full = load_corpus("ag_news_test")
    assert len(full) == 7600 and np.bincount(full.labels).tolist() == [1900] * 4
    assert not data.is_hub_id("ag_news_test") and data.is_hub_id("fancyzhx/ag_news")
    with pytest.raises(DataError, match="no bundled dataset named 'nope'"):
        data.bundled_path("nope")


def test_gzipped_local_files_load_like_plain_ones(tmp_path):
    import gzip

    plain = write_csv(tmp_path / "t.csv", {"text": ["one text", "another"], "label": ["a", "b"]})
    packed = tmp_path / "t.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert load_corpus(packed).texts == load_corpus(plain).texts


def test_real_hub_lookup_is_bounded(monkeypatch):
    # A repository that does not exist: online it is "not found", offline "cannot reach";
    # either way one DataError within seconds, never ~25 s of retries.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    start = time.perf_counter()
    with pytest.raises(DataError, match=f"{OFFLINE_MESSAGE}|not found on the Hugging Face hub"):
        load_corpus("deep-text-clustering-tests/no-such-dataset")
    assert time.perf_counter() - start < 5


def test_hf_hub_offline_error_is_wrapped():
    # HF_HUB_OFFLINE is read when datasets is imported, hence a fresh interpreter.
    code = ("from clustering.data import load_corpus\n"
            "try:\n    load_corpus('deep-text-clustering-tests/no-such-dataset')\n"
            "except Exception as e:\n    print(type(e).__name__, e)")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60).stdout
    assert time.perf_counter() - start < 15
    assert out.startswith(f"HubUnreachable {OFFLINE_MESSAGE} 'deep-text-clustering-tests/no-such-dataset'")


def test_real_ag_news_csv(ag_news_csv):
    corpus = load_corpus(ag_news_csv)
    stats = corpus.stats
    assert stats["n_texts"] == 7600 and stats["n_dropped_empty"] == 0
    assert corpus.label_names == AG_NAMES
    assert stats["class_counts"] == dict.fromkeys(AG_NAMES, 1900)
    # The data README: mean length about 38 words, 12 articles under 15 words.
    assert math.isclose(stats["mean_words"], 38, abs_tol=1)
    assert round(stats["share_under_15_words"] * 7600) == 12
    assert not any("#36;" in t or "\\" in t or "&lt;" in t for t in corpus.texts)

    subset = load_corpus(ag_news_csv, n_per_class=1250)
    assert len(subset) == 5000
    assert subset.stats["class_counts"] == dict.fromkeys(AG_NAMES, 1250)


def test_ag_news_small_fixture(ag_news_small):
    assert len(ag_news_small) == 300
    assert np.bincount(ag_news_small.labels).tolist() == [75] * 4


@pytest.mark.parametrize("content", [
    "text,label\nhello world,0\nmarkets fell,1\n".encode("utf-16"),  # a spreadsheet's "Unicode text"
    bytes(range(128, 256)) * 3,  # not text at all
])
def test_a_file_that_is_not_utf8_says_how_to_save_it(tmp_path, content):
    path = tmp_path / "texts.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"texts.csv: it is not UTF-8 text .*save it as UTF-8") as info:
        load_corpus(path)
    assert "\n" not in str(info.value)
