"""The registered model: raw texts in, clusters out, as an ``mlflow.pyfunc`` model.

It carries everything it needs: the fitted estimator (whole: an estimator that adapts the
sentence encoder carries the adapted encoder inside it), the cleaning setting, the
embedding model's name (for estimators that cluster embeddings) and the ``clustering``
package itself, so ``mlflow.pyfunc.load_model(uri).predict(df)`` works in a
fresh process with nothing but the pip requirements installed.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import pandas as pd

PACKAGE_DIR = Path(__file__).resolve().parents[1]
DISTRIBUTION = "deep-text-clustering"


def pip_requirements() -> list[str]:
    """What the served model needs, from the one source of pins (``pyproject.toml``).

    The project's own dependencies and its ``mlflow`` pin, read from the installed
    distribution's metadata (or from ``pyproject.toml`` beside the package when it is not
    installed). The ``clustering`` package itself travels as the model's code.

    Returns
    -------
    requirements : list of str
        pip requirement strings, without whitespace.
    """
    import re
    from importlib import metadata

    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        import tomllib

        project = tomllib.loads((PACKAGE_DIR / "pyproject.toml").read_text())["project"]
        requires = project["dependencies"] + [f'{r}; extra == "experiments"'
                                              for r in project["optional-dependencies"]["experiments"]]
    core = [r for r in requires if ";" not in r]
    mlflow_pin = [r.split(";")[0].strip() for r in requires if re.match(r"mlflow\b", r)]
    return [re.sub(r"\s+", "", r) for r in core + mlflow_pin]
EXAMPLE = pd.DataFrame({"text": [
    "Stocks fell sharply on Wall Street as oil prices hit a record high.",
    "The striker scored twice as the home side won the cup final.",
]})


class TextClusterModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: DataFrame with a ``text`` column -> ``cluster``, ``confidence``.

    Made empty by ``log_text_cluster_model``; MLflow fills it from the model's artifacts
    (``load_context``) when the model is loaded.

    Attributes
    ----------
    estimator : estimator
        The fitted estimator of the library (``clustering.base`` contract).
    meta : dict
        What was logged with it: ``embedding_model``, ``embedding_precision``, ``clean``,
        ``n_clusters``, ``estimator``, ``input_kind``, ``label_names``, ``cluster_names``.
    embedding_model : str
        The sentence encoder that embeds the texts, for estimators that take embeddings.
    """

    def load_context(self, context):
        """Load the estimator and its metadata from ``context.artifacts``.

        Parameters
        ----------
        context : mlflow.pyfunc.PythonModelContext
            MLflow's context, whose ``artifacts`` hold ``estimator`` and ``meta`` (and, in
            models registered before the estimator carried its own encoder, ``embedding_model``).
        """
        import joblib

        self.estimator = joblib.load(context.artifacts["estimator"])
        self.meta = json.loads(Path(context.artifacts["meta"]).read_text())
        # Models registered before the estimator carried its own encoder have it as an artifact.
        self.embedding_model = context.artifacts.get("embedding_model") or self.meta["embedding_model"]

    def predict(self, context, model_input, params=None):
        """Cluster raw texts: clean them as in training, embed them if the estimator needs it, assign.

        Parameters
        ----------
        context : mlflow.pyfunc.PythonModelContext
            MLflow's context (unused: ``load_context`` has read it).
        model_input : DataFrame or list of str
            A DataFrame with a ``text`` column, or the texts; a missing text counts as ``""``.
        params : dict, default=None
            ``{"return_latent": True}`` adds the ``latent`` column.

        Returns
        -------
        out : DataFrame
            One row per text: ``cluster`` (int64) and ``confidence`` (the largest soft
            assignment, float64), and with ``return_latent`` also ``latent`` (a list per row).

        Raises
        ------
        ValueError
            If ``model_input`` is a DataFrame without a ``text`` column.
        """
        from clustering.data import clean_text
        from clustering.embed import embed_texts

        if isinstance(model_input, pd.DataFrame):
            if "text" not in model_input.columns:
                raise ValueError(f"input needs a 'text' column; got columns {list(model_input.columns)}")
            texts = model_input["text"]
        else:
            texts = pd.Series(list(model_input))
        texts = ["" if t is None or (isinstance(t, float) and t != t) else str(t) for t in texts]
        if self.meta.get("clean", True):
            texts = [clean_text(t) for t in texts]
        if self.estimator.input_kind == "texts":  # it embeds them itself, with its own encoder
            X = texts
        else:
            # in the arithmetic the model was fitted on (models from before precisions: float32)
            X = embed_texts(texts, model=self.embedding_model, cache_dir=False, show_progress=False,
                            precision=self.meta.get("embedding_precision", "float32"))
        proba = self.estimator.predict_proba(X)
        out = pd.DataFrame({"cluster": proba.argmax(1).astype("int64"), "confidence": proba.max(1).astype("float64")})
        if (params or {}).get("return_latent"):
            out["latent"] = list(self.estimator.transform(X).astype("float64"))
        return out


def signature():
    """The model's signature: a ``text`` string in; ``cluster`` and ``confidence`` out; ``return_latent``.

    Returns
    -------
    signature : mlflow.models.ModelSignature
        Inputs, outputs and the ``return_latent`` parameter (boolean, default False).
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string", "text")]),
        outputs=Schema([ColSpec("long", "cluster"), ColSpec("double", "confidence")]),
        params=ParamSchema([ParamSpec("return_latent", "boolean", False)]),
    )


# What the model's code does not need: the bundled corpora (clustering/datasets), caches, tests.
CODE_IGNORE = ("datasets", "__pycache__", "*.pyc")


def code_paths(folder: Path) -> list[str]:
    """Copies of the ``clustering`` and ``experiments`` packages in ``folder`` without ``CODE_IGNORE``.

    The model's code, without the bundled corpora every model would otherwise carry.

    Parameters
    ----------
    folder : Path
        Where the copies go; it must not hold them yet.

    Returns
    -------
    paths : list of str
        The two copied package folders, for ``mlflow.pyfunc.log_model(code_paths=...)``.
    """
    import shutil

    out = []
    for package in ("clustering", "experiments"):
        target = folder / package
        shutil.copytree(PACKAGE_DIR / package, target, ignore=shutil.ignore_patterns(*CODE_IGNORE))
        out.append(str(target))
    return out


def log_text_cluster_model(estimator, *, embedding_model: str, clean: bool, label_names=None,
                           cluster_names=None, registered_model_name: str | None = None, name: str = "model",
                           embedding_precision: str = "float32"):
    """Log a fitted estimator of the library (``clustering.base`` contract) as a pyfunc in the active run.

    A log that fails half-way (a full disk) removes the logged model it made and its files.

    Parameters
    ----------
    estimator : estimator
        The fitted estimator, pickled whole.
    embedding_model : str
        The sentence encoder that embeds the texts, for estimators that take embeddings.
    clean : bool
        Whether the model cleans its texts (``clustering.data.clean_text``) as in training.
    label_names : list of str, default=None
        The corpus' class names, kept in the model's metadata.
    cluster_names : list of str, default=None
        A name per cluster, kept in the model's metadata.
    registered_model_name : str, default=None
        Register the model under this name; None: log it only.
    name : str, default="model"
        The logged model's name in the run.
    embedding_precision : str, default="float32"
        The precision the estimator's embeddings were computed in (resolved, never ``"auto"``).

    Returns
    -------
    model_info : mlflow.models.model.ModelInfo
        What ``mlflow.pyfunc.log_model`` returns.
    """
    import joblib

    with tempfile.TemporaryDirectory() as tmp:
        # pickled whole; the contract's pickling puts torch modules on the CPU
        joblib.dump(estimator, Path(tmp) / "estimator.joblib")
        meta = {"embedding_model": embedding_model, "embedding_precision": embedding_precision, "clean": clean,
                "n_clusters": int(estimator.n_clusters),
                "estimator": type(estimator).__name__, "input_kind": estimator.input_kind,
                "label_names": label_names, "cluster_names": cluster_names}
        (Path(tmp) / "meta.json").write_text(json.dumps(meta, indent=2))
        artifacts = {"estimator": str(Path(tmp) / "estimator.joblib"), "meta": str(Path(tmp) / "meta.json")}
        before = _last_logged_model_id()
        try:
            return mlflow.pyfunc.log_model(
                name=name,
                python_model=TextClusterModel(),
                artifacts=artifacts,
                code_paths=code_paths(Path(tmp) / "code"),
                signature=signature(),
                input_example=EXAMPLE,
                pip_requirements=pip_requirements(),
                registered_model_name=registered_model_name,
            )
        except BaseException:
            _remove_partial_model(before)
            raise


def _last_logged_model_id() -> str | None:
    """The id of this thread's last logged model, if it is in the current store (else None)."""
    try:
        logged = mlflow.last_logged_model()
    except Exception:  # logged to another store, or deleted since
        return None
    return None if logged is None else logged.model_id


def _remove_partial_model(earlier: str | None) -> None:
    """After a failed ``log_model``: delete the logged model it made and the files it copied so far.

    MLflow makes the logged model (and sets it as the last one) before it copies the
    artifacts, so a copy that fails half-way (a full disk) would leave a half-written model
    folder behind; a local one is removed, and the logged model with it. Best effort: a
    second failure here must not hide the first.
    """
    import contextlib
    import shutil

    with contextlib.suppress(Exception):
        logged = mlflow.last_logged_model()
        if logged is None or logged.model_id == earlier:  # the failure came before it made one
            return
        location = logged.artifact_location or ""
        if location.startswith("file:") or "://" not in location:
            import urllib.parse

            folder = Path(urllib.parse.unquote(urllib.parse.urlparse(location).path) if location.startswith("file:")
                          else location)
            shutil.rmtree(folder.parent if folder.name == "artifacts" else folder, ignore_errors=True)
        mlflow.MlflowClient().delete_logged_model(logged.model_id)


def set_champion(model_name: str, version) -> None:
    """Point the registered model's ``champion`` alias at ``version``.

    Parameters
    ----------
    model_name : str
        The registered model.
    version : int or str
        Its version.
    """
    mlflow.MlflowClient().set_registered_model_alias(model_name, "champion", str(version))
