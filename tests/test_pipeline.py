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
