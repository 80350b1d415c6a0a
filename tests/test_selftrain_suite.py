"""Self-training inside the suite: the search space, a study trial, and `evaluate --method selftrain`
registering a pyfunc model that carries its fine-tuned encoder.

Tiny settings (48 real AG News articles, 16-token texts, one trainable layer) keep each
fit to seconds; what is checked is the wiring, not the quality (benchmarks/ measures that).
"""

import os
import subprocess
import sys

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest

from experiments import search_space
from experiments.config import RunConfig

TINY = '{"max_seq_length": 16, "trainable_layers": 1, "batch_size": 16, "n_init": 2, "contrastive_weight": 0.5}'


def test_search_can_choose_selftrain_and_its_knobs_build_the_estimator():
    from clustering.selftrain import SelfTrainingClusterer

    config = RunConfig(search_methods="dec,idec,selftrain", max_epochs=3)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    chosen = set()
    for _ in range(30):
        trial = study.ask()
        params = search_space.suggest(trial, config)
        chosen.add(params["method"])
        model = search_space.make_estimator(params, n_clusters=4, random_state=0, embedding_model="some/model")
        if params["method"] == "selftrain":
            assert isinstance(model, SelfTrainingClusterer) and model.embedding_model == "some/model"
            assert all(name.startswith("st_") for name in trial.params if name != "method")
            assert 1 <= model.epochs_per_round <= 2 and model.loss in ("kl", "ce", "none")
            assert model.loss != "none" or model.contrastive_weight > 0
            # the best trial's params come back in the estimator's own names
            assert search_space.from_trial_params(trial.params)["lr"] == trial.params["st_lr"]
        study.tell(trial, 0.0)
    assert chosen == {"dec", "idec", "selftrain"}


def test_search_methods_are_checked():
    with pytest.raises(ValueError, match="search_methods"):
        RunConfig(search_methods="dec,spectral")
    with pytest.raises(ValueError, match="search_methods"):
        RunConfig(search_methods="")
    # the default stays fast on a CPU: self-training (minutes per trial) is asked for, pseudo-labelling is in
    assert RunConfig().search_method_list == ["kmeans", "dec", "idec", "pseudolabel"]


def test_the_named_configuration_is_the_estimators_defaults():
    from clustering.selftrain import SelfTrainingClusterer

    params = search_space.default_params("selftrain")
    assert set(params) <= search_space.known_params("selftrain")
    defaults = SelfTrainingClusterer().get_params()
    assert {k: defaults[k] for k in params if k != "method"} == {k: v for k, v in params.items() if k != "method"}


def test_a_study_trial_can_fit_selftrain_on_the_texts(tmp_path, monkeypatch, ag_news_small, ag_news_small_embeddings):
    from experiments.tune import run_study

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for name in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"):  # mlflow sets them; teardown removes them
        monkeypatch.delenv(name, raising=False)
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.set_experiment("selftrain-study")
        config = RunConfig(method="selftrain", n_trials=1, max_epochs=1,
                           storage=f"sqlite:///{tmp_path / 'optuna.db'}", study_name="st")
        idx = np.arange(0, 300, 6)  # 50 texts, every class
        texts = [ag_news_small.texts[i] for i in idx]
        with mlflow.start_run():
            study = run_study(config, ag_news_small_embeddings[idx], ag_news_small.labels[idx], n_clusters=4,
                              texts=texts, echo=lambda _: None)
        trial = study.best_trial
        assert trial.state == optuna.trial.TrialState.COMPLETE
        assert trial.user_attrs["n_parameters"] > 0 and 0 <= trial.user_attrs["acc"] <= 1
        run = mlflow.get_run(trial.user_attrs["mlflow_run_id"])
        assert run.data.params["method"] == "selftrain" and "loss" in run.data.metrics
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, ag_news_csv):
    """`python -m experiments evaluate --method selftrain` on 48 articles, registering the model."""
    root = tmp_path_factory.mktemp("selftrain")
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID")}
    env.update({"MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db", "HF_HUB_OFFLINE": "1",
                "CLUSTERING_CACHE_DIR": str(root / "cache")})
    cmd = [sys.executable, "-m", "experiments", "evaluate", "--method", "selftrain", "--data", str(ag_news_csv),
           "--n_per_class", "12", "--n_seeds", "1", "--params", TINY, "--tsne_points", "48",
           "--model_name", "st-clusters", "--experiment_name", "st", "--study_name", "st"]
    proc = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=600)  # its mlruns/ there
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"uri": env["MLFLOW_TRACKING_URI"], "output": proc.stdout}


def test_evaluate_logs_a_selftrain_run(evaluated):
    client = mlflow.MlflowClient(evaluated["uri"])
    runs = client.search_runs([client.get_experiment_by_name("st").experiment_id])
    final = next(r for r in runs if r.data.tags.get("stage") == "final")
    assert final.data.params["param_method"] == "selftrain"
    assert {"acc_mean", "nmi_mean", "fit_seconds_mean"} <= set(final.data.metrics)
    assert "Self-training" in evaluated["output"]


def test_registered_model_carries_the_fine_tuned_encoder(evaluated, ag_news_small):
    from clustering.embed import embed_texts

    mlflow.set_tracking_uri(evaluated["uri"])
    try:
        model = mlflow.pyfunc.load_model("models:/st-clusters@champion")
    finally:
        mlflow.set_tracking_uri(None)
    wrapped = model.unwrap_python_model()
    assert wrapped.estimator.input_kind == "texts"  # it embeds with the encoder it carries
    texts = ag_news_small.texts[:20]
    tuned = wrapped.estimator.transform(texts)
    pristine = embed_texts(texts, cache_dir=False, show_progress=False)
    assert not np.allclose(tuned, pristine, atol=1e-4)  # it is the fine-tuned encoder, not the stock one
    out = model.predict(pd.DataFrame({"text": texts}))
    assert out["cluster"].between(0, 3).all() and out["confidence"].between(0, 1).all()
    np.testing.assert_array_equal(out["cluster"], wrapped.estimator.predict_proba(texts).argmax(1))


def test_main_with_selftrain_tunes_evaluates_and_registers_it(tmp_path, ag_news_csv):
    """`main --method selftrain`: the tuned self-training point stands alone beside the seed report's DEC."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID")}
    env.update({"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db", "HF_HUB_OFFLINE": "1",
                "CLUSTERING_CACHE_DIR": str(tmp_path / "cache")})
    cmd = [sys.executable, "-m", "experiments", "main", "--method", "selftrain", "--data", str(ag_news_csv),
           "--n_per_class", "12", "--n_seeds", "1", "--n_trials", "1", "--max_epochs", "1",
           "--max_pretrain_epochs", "2", "--tsne_points", "48", "--storage", f"sqlite:///{tmp_path}/optuna.db",
           "--model_name", "st-main", "--experiment_name", "st-main", "--study_name", "st-main"]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)  # its mlruns/ there
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([client.get_experiment_by_name("st-main").experiment_id])
    finals = {r.data.tags["method"] for r in runs if r.data.tags.get("stage") == "final"}
    assert finals == {"Self-training (tuned)", "DEC (seed report settings)"}
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    try:
        champion = mlflow.pyfunc.load_model("models:/st-main@champion").unwrap_python_model()
    finally:
        mlflow.set_tracking_uri(None)
    # the fine-tuned encoder travelled inside the estimator
    assert champion.estimator.input_kind == "texts" and champion.estimator.n_trainable_parameters() > 0
