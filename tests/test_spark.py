"""experiments/spark.py: the registered pyfunc over a real Spark DataFrame (local[2]), on real texts.

One Spark session and one registered model for the module; the answers are compared with the same
pyfunc loaded in this process.
"""

import mlflow
import numpy as np
import pandas as pd
import pytest

from clustering.baselines import EmbeddingKMeans
from clustering.data import DataError
from experiments.model import log_text_cluster_model

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def registered(tmp_path_factory, ag_news_small, ag_news_small_embeddings):
    root = tmp_path_factory.mktemp("spark")
    mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
    experiment = mlflow.create_experiment("spark", artifact_location=str(root / "artifacts"))
    model = EmbeddingKMeans(4, n_init=3).fit(ag_news_small_embeddings)
    with mlflow.start_run(experiment_id=experiment):
        info = log_text_cluster_model(model, embedding_model="all-MiniLM-L6-v2", clean=True,
                                      registered_model_name="spark-test")
    yield "models:/spark-test/1", info
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def spark(registered):
    from experiments.spark import session

    s = session("local[2]", app="tests")
    yield s
    s.stop()


def test_spark_clusters_every_row_as_the_pyfunc_does_in_process(registered, spark, ag_news_small, tmp_path, capsys):
    from experiments.spark import predict_spark

    uri, _ = registered
    texts = ag_news_small.texts[:60]
    frame = pd.DataFrame({"id": np.arange(62) * 10, "text": texts[:30] + ["", "   "] + texts[30:],
                          "cluster": "an input column of that name"})
    frame.to_csv(tmp_path / "in.csv", index=False)
    n = predict_spark(uri, str(tmp_path / "in.csv"), str(tmp_path / "out"), master="local[2]")
    assert n == 62 and "2 without text" in capsys.readouterr().out
    out = pd.read_parquet(tmp_path / "out").sort_values("id").reset_index(drop=True)
    assert list(out.columns) == ["id", "text", "cluster", "predicted_cluster", "confidence", "reason"]
    assert out["cluster"].eq("an input column of that name").all()  # kept, the answer beside it
    blank = out["reason"] == "no text"
    assert out.loc[blank, "id"].tolist() == [300, 310] and out.loc[blank, "predicted_cluster"].isna().all()
    local = mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"text": texts}))
    assert np.array_equal(out.loc[~blank, "predicted_cluster"].to_numpy(), local["cluster"].to_numpy())
    assert np.allclose(out.loc[~blank, "confidence"].to_numpy(), local["confidence"].to_numpy(), atol=1e-5)
    assert not list(tmp_path.glob(".out.*"))  # the temporary folder was moved into place


def test_a_folder_of_parquet_files_without_an_id_gets_row_ids(registered, spark, ag_news_small, tmp_path):
    from experiments.spark import predict_spark

    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(3):
        pd.DataFrame({"title": ag_news_small.texts[i * 5:(i + 1) * 5], "description": "more words"}).to_parquet(
            folder / f"part-{i}.parquet")
    assert predict_spark(registered[0], str(folder), str(tmp_path / "out"), master="local[2]") == 15
    out = pd.read_parquet(tmp_path / "out")
    assert out["row_id"].nunique() == 15 and out["cluster"].between(0, 3).all() and (out["reason"] == "").all()


def test_bad_input_is_one_line_before_any_job(registered, spark, tmp_path):
    from experiments.spark import predict_spark

    with pytest.raises(DataError, match="no such file"):
        predict_spark(registered[0], str(tmp_path / "missing.csv"), str(tmp_path / "out"))
    pd.DataFrame({"body": ["a text"]}).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(DataError, match="no text column .*pass --text_columns"):
        predict_spark(registered[0], str(tmp_path / "in.csv"), str(tmp_path / "out"))
    pd.DataFrame({"title": ["a title alone"]}).to_csv(tmp_path / "titles.csv", index=False)
    with pytest.raises(DataError, match="no text column"):  # as the local reader: title and description, or name them
        predict_spark(registered[0], str(tmp_path / "titles.csv"), str(tmp_path / "out"))
    (tmp_path / "in.txt").write_text("a text\n")
    with pytest.raises(DataError, match="cannot read"):
        predict_spark(registered[0], str(tmp_path / "in.txt"), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_without_java_engine_spark_says_how_to_install_it(monkeypatch):
    from experiments import spark

    monkeypatch.setattr(spark.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(RuntimeError, match="needs a Java 17. runtime: apt-get install default-jre-headless"):
        spark.session("local[1]")


def test_embedding_on_spark_gives_the_local_vectors_into_the_same_cache(spark, ag_news_small, tmp_path, monkeypatch):
    from clustering.embed import embed_texts
    from experiments import spark as engine

    texts = ag_news_small.texts[:120]
    rows = engine.embed_spark(texts, model="all-MiniLM-L6-v2", precision="float32", master="local[2]",
                              cache_dir=tmp_path, partitions=3)
    local = embed_texts(texts, precision="float32", cache_dir=False, show_progress=False)
    assert rows.shape == (120, 384) and rows.dtype == np.float32
    assert np.abs(rows - local).max() < 1e-5  # another batching, the same vectors
    assert len(list(tmp_path.glob("*.npy"))) == 1

    def no_spark(*args, **kwargs):
        raise AssertionError("a cached corpus must not start Spark")

    monkeypatch.setattr(engine, "session", no_spark)
    again = engine.embed_spark(texts, model="all-MiniLM-L6-v2", precision="float32", cache_dir=tmp_path)
    assert np.array_equal(again, rows)
    assert np.array_equal(embed_texts(texts, precision="float32", cache_dir=tmp_path), rows)  # a local run reads it


def test_a_run_with_engine_spark_embeds_on_spark(spark, tmp_path, monkeypatch, ag_news_csv):
    import mlflow

    from clustering.data import load_corpus
    from experiments import pipeline

    monkeypatch.setenv("CLUSTERING_CACHE_DIR", str(tmp_path / "cache"))
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    corpus = load_corpus(ag_news_csv, n_per_class=10, seed=5)
    with mlflow.start_run(experiment_id=mlflow.create_experiment("e", artifact_location=str(tmp_path / "a"))):
        prep = pipeline.prepare(corpus, embedding_model="all-MiniLM-L6-v2", n_clusters="4", k_min=2, k_max=4,
                                seed=0, embedding_precision="float32", engine="spark", spark_master="local[2]")
    mlflow.set_tracking_uri(None)
    assert prep.X.shape == (40, 384) and len(list((tmp_path / "cache").glob("*.npy"))) == 1
