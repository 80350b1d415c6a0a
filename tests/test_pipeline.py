"""experiments.pipeline.load: the default hub id falls back to the bundled copy, in one line."""

from clustering import data, sources
from experiments import pipeline
from experiments.config import RunConfig


def test_the_default_data_falls_back_to_the_bundled_copy_when_the_hub_is_out_of_reach(monkeypatch, capsys):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(sources, "hub_reachable", lambda: False)
    corpus = pipeline.load(RunConfig(n_per_class=5))
    assert RunConfig().data == "fancyzhx/ag_news"
    assert corpus.source == "ag_news_test" and len(corpus) == 20
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["note: cannot reach the Hugging Face hub for fancyzhx/ag_news; using the copy bundled with "
                     "the package instead (data=ag_news_test, see clustering/datasets/README.md)"]


def test_other_hub_ids_still_fail_in_one_line(monkeypatch):
    import pytest

    monkeypatch.setattr(sources, "hub_reachable", lambda: False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    with pytest.raises(data.HubUnreachable, match="cannot reach the Hugging Face hub to load 'someone/else'"):
        pipeline.load(RunConfig(data="someone/else", n_per_class=5))


def test_the_logged_dataset_names_the_source_actually_read(tmp_path, monkeypatch):
    import json
    import warnings

    import mlflow

    from experiments.tracking import base_tags, log_corpus

    monkeypatch.setattr(sources, "hub_reachable", lambda: False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    config = RunConfig(n_per_class=5)
    corpus = pipeline.load(config)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        experiment = mlflow.create_experiment("logged-source", artifact_location=str(tmp_path / "artifacts"))
        with mlflow.start_run(experiment_id=experiment) as run, warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # none from MLflow's source guessing or schema hints
            log_corpus(corpus, corpus.source)
            mlflow.set_tags(base_tags(config, corpus))
        logged = mlflow.get_run(run.info.run_id)
    finally:
        mlflow.set_tracking_uri(None)
    dataset = logged.inputs.dataset_inputs[0].dataset
    assert dataset.name == "ag_news_test"
    assert json.loads(dataset.source)["uri"] == "clustering/datasets/ag_news_test.csv.gz"
    assert logged.data.tags["data_source"] == "ag_news_test"
    assert logged.data.tags["training_precision"] in ("float32", "bfloat16-mixed")


def test_beyond_fit_sample_a_model_fits_a_sample_and_every_text_is_scored_by_its_assignment(
        ag_news_small, ag_news_small_embeddings):
    import numpy as np
    import pytest

    from clustering.baselines import EmbeddingKMeans
    from clustering.metrics import cluster_accuracy
    from experiments import evaluation

    X, y, texts = ag_news_small_embeddings, ag_news_small.labels, ag_news_small.texts
    model = EmbeddingKMeans(4, n_init=3, random_state=0)
    out = evaluation.fit_and_score(model, X, y, texts, seed=0, fit_sample=120)
    assert len(model.labels_) == 120 and out["fit_texts"] == 120
    labels = evaluation.assign(model, X, texts)
    assert len(labels) == 300 and np.array_equal(labels, model.predict(X))
    assert out["acc"] == pytest.approx(cluster_accuracy(y, labels)) and out["n_clusters"] == 4
    whole = EmbeddingKMeans(4, n_init=3, random_state=0)
    assert evaluation.fit_and_score(whole, X, y, texts, seed=0, fit_sample=300)["fit_texts"] == 300
    assert np.array_equal(evaluation.assign(whole, X, texts), whole.labels_)


def test_an_evaluate_run_beyond_fit_sample_logs_every_texts_clusters(tmp_path, monkeypatch, ag_news_csv):
    import mlflow
    import pandas as pd

    from experiments.entry_points import run_evaluate

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    for name in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"):  # an earlier run's, left in the environment
        monkeypatch.delenv(name, raising=False)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        run_evaluate(RunConfig(data=str(ag_news_csv), n_per_class=10, method="pseudolabel", fit_sample=24, n_seeds=1,
                               tsne_points=40, register=False, experiment_name="fit-sample",
                               storage=f"sqlite:///{tmp_path}/optuna.db"))
        client = mlflow.MlflowClient()
        experiment = client.get_experiment_by_name("fit-sample").experiment_id
        parent = next(r for r in client.search_runs([experiment]) if r.data.tags.get("entry_point") == "evaluate")
        final = next(r for r in client.search_runs([experiment]) if r.data.tags.get("stage") == "final")
        assert final.data.metrics["fit_texts"] == 24
        by_length = pd.read_csv(mlflow.artifacts.download_artifacts(run_id=parent.info.run_id,
                                                                    artifact_path="error_accuracy_by_length.csv"))
        assert by_length["n"].sum() == 40  # every text's cluster, not only the sample's
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(None)


def test_a_text_model_fitted_on_a_sample_is_given_the_samples_rows_not_re_embedding_them(
        ag_news_small, ag_news_small_embeddings, monkeypatch):
    from clustering import embed
    from clustering.pseudolabel import PseudoLabelClusterer
    from experiments import evaluation

    embedded = []
    real = embed.embed_texts
    monkeypatch.setattr(embed, "embed_texts", lambda texts, **kw: embedded.append(len(texts)) or real(texts, **kw))
    X, texts = ag_news_small_embeddings, ag_news_small.texts
    model = PseudoLabelClusterer(4, rounds=2, n_init=3, random_state=0)
    evaluation.fit_and_score(model, X, ag_news_small.labels, texts, seed=0, fit_sample=150)
    assert len(model.labels_) == 150 and embedded == []  # fit, assignment and the own space used the rows given


def test_past_fit_sample_assignment_goes_in_chunks_and_the_scores_read_bounded_samples(
        ag_news_small, ag_news_small_embeddings, monkeypatch):
    import numpy as np
    import pytest

    from clustering.metrics import silhouette
    from clustering.pseudolabel import PseudoLabelClusterer
    from experiments import evaluation, scoring

    X, texts = ag_news_small_embeddings, ag_news_small.texts
    model = PseudoLabelClusterer(4, rounds=2, n_init=3, random_state=0).fit(texts[:150], embeddings=X[:150])
    whole = model.predict(texts, embeddings=X)
    calls = []
    real = model.predict
    model.predict = lambda data, **kw: calls.append(len(data)) or real(data, **kw)
    monkeypatch.setattr(evaluation, "ASSIGN_CHUNK", 64)
    labels = evaluation.assign(model, X, texts)
    assert calls == [64, 64, 64, 64, 44]
    assert np.mean(labels == whole) >= 0.99  # per text, but for float rounding of other batch shapes at near-ties

    monkeypatch.setattr(evaluation, "LATENT_SAMPLE", 100)  # maps 100 texts, scores what mapping all 300 would
    out = evaluation.metrics(model, X, None, texts, seed=3, labels=labels)
    every = model.clustering_space(texts, embeddings=X)[0]
    assert out["latent_silhouette"] == pytest.approx(silhouette(every, labels, sample_size=100, random_state=3))

    monkeypatch.setattr(scoring, "CROSS_VIEW_ROWS", 200)  # past it: one seeded sample of 200 texts is scored
    rows = np.sort(np.random.default_rng(0).choice(300, 200, replace=False))
    sampled = scoring.cross_view_scorer(X[rows], [texts[i] for i in rows], 4).score(labels[rows])
    assert scoring.score("cross_view", None, labels, X, texts=texts, n_clusters=4) == pytest.approx(sampled)


def test_past_fit_sample_every_text_is_assigned_once_for_the_metrics_and_the_objective(ag_news_small_embeddings):
    from clustering.baselines import EmbeddingKMeans
    from experiments import evaluation

    model = EmbeddingKMeans(4, n_init=3, random_state=0)
    calls = []
    real = model.predict
    model.predict = lambda X, **kw: calls.append(len(X)) or real(X, **kw)
    out = evaluation.fit_and_score(model, ag_news_small_embeddings, None, seed=0, objective="silhouette",
                                   fit_sample=120)
    assert calls.count(300) == 1 and "objective" in out
