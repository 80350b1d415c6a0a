"""experiments/methods.py: a new method is one estimator and one record, and nothing else.

The toy method below is written here and registered here; the study, the `evaluate` entry
point and the registered model then run it without any other file knowing it exists.
"""

import numpy as np
import optuna
import pandas as pd
import pytest

import mlflow
from clustering._utils import check_embeddings, check_n_clusters, seed_of
from clustering.base import ClusteringEstimator
from clustering.pseudolabel import PseudoLabelClusterer
from experiments import methods
from experiments.config import RunConfig


class FarthestPoints(ClusteringEstimator):
    """Toy clusterer: k centres by farthest-point traversal from a seeded row; nearest centre wins."""

    space_metric = "cosine"

    def __init__(self, n_clusters=4, *, sharpness=10.0, random_state=0):
        self.n_clusters = n_clusters
        self.sharpness = sharpness
        self.random_state = random_state

    def fit(self, X, y=None, *, callback=None):
        X = check_embeddings(X)
        check_n_clusters(self.n_clusters, len(X))
        chosen = [np.random.default_rng(seed_of(self.random_state)).integers(len(X))]
        for _ in range(self.n_clusters - 1):
            chosen.append(int(np.argmin((X @ X[chosen].T).max(1))))
        self.cluster_centers_ = X[chosen]
        self.n_features_in_ = X.shape[1]
        self.labels_ = self.predict(X)
        self.n_iter_, self.history_ = 1, {}
        if callback is not None:
            callback(0, {"stage": "cluster", "labels": self.labels_})
        return self

    def transform(self, X):
        return check_embeddings(X, n_features=self.n_features_in_)

    def predict_proba(self, X):
        logits = self.sharpness * self.transform(X) @ self.cluster_centers_.T
        e = np.exp(logits - logits.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def predict(self, X):
        return self.predict_proba(X).argmax(1)


TOY = methods.Method("toy", "Farthest points", FarthestPoints, reference={"sharpness": 10.0},
                     space=lambda trial, config: {"sharpness": trial.suggest_float("toy_sharpness", 1.0, 50.0)},
                     prefix="toy_", description="a test's toy")


@pytest.fixture
def toy(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # the store's artifacts (./mlruns) land beside its database, not in the repository
    for name in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    mlflow.set_tracking_uri(uri)
    methods.register(TOY)
    try:
        yield uri
    finally:
        methods.unregister("toy")
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(None)


def test_a_registered_toy_method_runs_a_study_evaluate_and_predict(toy, tmp_path, ag_news_csv):
    from experiments.entry_points import run_evaluate
    from experiments.tracking import parent_run
    from experiments.tune import run_study

    common = dict(data=str(ag_news_csv), n_per_class=10, n_seeds=2, tsne_points=40, experiment_name="toy",
                  study_name="toy", model_name="toy-model", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    # the study: searched among the registered methods, the toy's knob under its own name
    config = RunConfig(method="search", search_methods="kmeans,toy", n_trials=4, **common)
    X = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    with parent_run("toy", "study"):
        study = run_study(config, X / np.linalg.norm(X, axis=1, keepdims=True), None, n_clusters=4,
                          echo=lambda line: None)
    toy_trials = [t for t in study.trials if t.params.get("method") == "toy"]
    assert toy_trials and all(t.state == optuna.trial.TrialState.COMPLETE for t in toy_trials)
    assert all(1.0 <= t.params["toy_sharpness"] <= 50.0 for t in toy_trials)

    # evaluate: fits the toy with each seed, logs the final run, registers the champion
    run_evaluate(RunConfig(method="toy", params='{"sharpness": 20}', **common))
    client = mlflow.MlflowClient()
    final = [r for r in client.search_runs([client.get_experiment_by_name("toy").experiment_id])
             if r.data.tags.get("stage") == "final"]
    assert [r.data.tags["method"] for r in final] == ["Farthest points"]
    assert final[0].data.params["param_sharpness"] == "20"

    # predict: the registered pyfunc embeds raw texts and clusters them with the toy
    model = mlflow.pyfunc.load_model("models:/toy-model@champion")
    assert isinstance(model.unwrap_python_model().estimator, FarthestPoints)
    out = model.predict(pd.DataFrame({"text": ["Stocks fell on Wall Street.", "The striker scored twice."]}))
    assert list(out.columns) == ["cluster", "confidence"] and out["cluster"].between(0, 3).all()


def test_config_knows_registered_methods_only():
    with pytest.raises(ValueError, match="unknown method 'toy'"):
        RunConfig(method="toy")
    methods.register(TOY)
    try:
        assert RunConfig(method="toy").method == "toy"
        assert RunConfig(search_methods="kmeans,toy").search_method_list == ["kmeans", "toy"]
    finally:
        methods.unregister("toy")


def test_every_record_builds_its_estimator_at_the_reference_settings():
    for record in methods.records():
        model = record.make(dict(record.reference), n_clusters=3, random_state=7, device="cpu",
                            embedding_model=methods.DEFAULT_EMBEDDING_MODEL)
        assert isinstance(model, record.estimator_class) and isinstance(model, ClusteringEstimator)
        assert model.input_kind == record.input_kind, record.name
        params = model.get_params(deep=False)
        assert params["n_clusters"] == 3 and params["random_state"] == 7
        derived = set().union(*record.derived.values())
        assert set(record.reference) <= record.known, record.name
        assert {k: params[k] for k in record.reference if k not in derived} == {
            k: v for k, v in record.reference.items() if k not in derived}, record.name


def test_known_settings_are_the_estimators_parameters():
    """A new constructor argument is a setting without touching the record (the run's own are not)."""
    dec = methods.get("dec")
    constructor = set(dec.estimator_class().get_params())
    assert dec.known == (constructor - methods.RUN_ARGUMENTS - {"hidden_dims"}) | {"architecture", "latent_dim"}
    assert dec.make({"architecture": "256", "latent_dim": 10}, n_clusters=2, random_state=0).hidden_dims == (256, 10)
    assert TOY.known == {"sharpness"} and TOY.input_kind == "embeddings"
    assert methods.get("pseudolabel").known == set(PseudoLabelClusterer().get_params()) - {
        "n_clusters", "random_state", "embedding_model"}
