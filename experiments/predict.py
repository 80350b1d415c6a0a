"""The `predict` entry point: cluster the texts of a file with a registered model."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def predict_file(model_uri: str, input_path: str, output_path: str, *, text_columns: str = "") -> int:
    """Read texts with the library's loader, predict, write a CSV atomically; return the row count."""
    import mlflow
    import pandas as pd

    from clustering.data import load_corpus

    corpus = load_corpus(input_path, text_columns=text_columns or None, label_column="", clean=False)
    model = mlflow.pyfunc.load_model(model_uri)
    out = model.predict(pd.DataFrame({"text": corpus.texts}))
    out.insert(0, "text", corpus.texts)
    output = Path(output_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    os.close(fd)
    try:
        out.to_csv(tmp, index=False)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"wrote {len(out)} rows to {output}", flush=True)
    return len(out)
