"""The `predict` entry point: cluster the texts of a file with a registered model.

Every input row comes out, in order, with every input column: a row without text gets no
cluster and a ``reason``. The output is written atomically, and a place it cannot be written
is found before the model loads.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

OUTPUT_COLUMNS = ("cluster", "confidence", "reason")


def output_names(columns) -> dict[str, str]:
    """The name of each of ``OUTPUT_COLUMNS`` in the output: ``predicted_<name>`` where the input has it."""
    return {c: (f"predicted_{c}" if c in columns else c) for c in OUTPUT_COLUMNS}


def predict_rows(model, frame, texts: list[str]):
    """``frame`` (every input column) with ``cluster``, ``confidence`` and ``reason`` from ``model``.

    ``model.predict`` (a pyfunc) sees only the rows with text; the others keep an empty
    ``cluster`` and ``reason="no text"``. Output columns that the input already has are
    written as ``predicted_<name>`` instead, so no input column is overwritten.

    Parameters
    ----------
    model : mlflow.pyfunc.PyFuncModel
        The model (anything whose ``predict`` takes a ``text`` DataFrame and answers
        ``cluster`` and ``confidence``).
    frame : DataFrame
        The input rows.
    texts : list of str
        The text of each row of ``frame``, in order (blank: no text).

    Returns
    -------
    out : DataFrame
        A copy of ``frame`` with ``cluster`` (Int64, empty without text), ``confidence``
        (float64, NaN without text) and ``reason`` ("" or "no text").
    """
    import pandas as pd

    has_text = [bool(t.strip()) for t in texts]
    cluster = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    confidence = pd.Series(float("nan"), index=frame.index, dtype="float64")
    rows = [i for i, ok in enumerate(has_text) if ok]
    if rows:
        answer = model.predict(pd.DataFrame({"text": [texts[i] for i in rows]}))
        cluster.iloc[rows] = answer["cluster"].to_numpy()
        confidence.iloc[rows] = answer["confidence"].to_numpy()
    names = output_names(frame.columns)
    out = frame.copy()
    out[names["cluster"]] = cluster
    out[names["confidence"]] = confidence
    out[names["reason"]] = ["" if ok else "no text" for ok in has_text]
    return out


def load_model(model_uri: str):
    """The pyfunc at ``model_uri`` (one place, so a test can stand another model in).

    Parameters
    ----------
    model_uri : str
        An MLflow model URI (``models:/<name>@champion``, ``runs:/<id>/model``, a path).

    Returns
    -------
    model : mlflow.pyfunc.PyFuncModel
        The loaded model.
    """
    import mlflow

    return mlflow.pyfunc.load_model(model_uri)


def predict_file(model_uri: str, input_path: str, output_path: str, *, text_columns: str = "") -> int:
    """Read every row, predict the ones with text (``predict_rows``), write a CSV atomically.

    The output's folder is made, and a temporary file in it opened, before the model loads.

    Parameters
    ----------
    model_uri : str
        The MLflow model URI.
    input_path : str
        The file to read (``clustering.data.read_rows``).
    output_path : str
        The CSV to write.
    text_columns : str, default=""
        The text columns, comma-separated (joined with a space); "": ``text``, or ``title`` and
        ``description``.

    Returns
    -------
    n_rows : int
        The rows written: every input row.

    Raises
    ------
    clustering.data.DataError
        If the input cannot be read or has no such text columns, or ``output_path`` cannot be written.
    """
    from clustering.data import DataError, read_rows

    frame, texts = read_rows(input_path, text_columns=text_columns or None)
    output = Path(output_path)
    try:  # before the model loads: a place that cannot be written fails now, under the name given
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    except OSError as exc:
        raise DataError(f"cannot write {output_path}: {exc.strerror or exc}; choose another --output") from None
    os.close(fd)
    try:
        out = predict_rows(load_model(model_uri), frame, texts)
        out.to_csv(tmp, index=False)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    blank = sum(not t.strip() for t in texts)  # the rows predict_rows gave reason "no text"
    note = f" ({blank} without text: no cluster, reason 'no text')" if blank else ""
    print(f"wrote {len(out)} rows to {output}{note}", flush=True)
    return len(out)
