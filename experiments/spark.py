"""`predict` on Apache Spark: the registered pyfunc as a pandas UDF over a DataFrame (``mlflow.pyfunc.spark_udf``).

``local[*]`` on one machine, ``spark://host:7077`` (or any master URL) on a cluster; ``docs/distributed.md``.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path

from experiments.predict import output_names

# Texts per call of the model on an executor: each call embeds its batch at once.
BATCH = 2048
# CSV types are inferred as the local path does (one more pass over the file; parquet needs none)
_READERS = {".parquet": ("parquet", {}),
            ".csv": ("csv", {"header": True, "inferSchema": True, "multiLine": True, "escape": '"'}),
            ".tsv": ("csv", {"header": True, "inferSchema": True, "sep": "\t"}), ".jsonl": ("json", {}),
            ".json": ("json", {})}


def session(master: str | None = None, *, app: str = "deep-text-clustering"):
    """The Spark session ``predict_spark`` runs in.

    Parameters
    ----------
    master : str or None, default=None
        A Spark master URL; None: ``$SPARK_MASTER``, else ``local[*]`` (every core of this machine).
    app : str, default="deep-text-clustering"
        The application's name in Spark's UI.

    Returns
    -------
    spark : pyspark.sql.SparkSession
        Its executors run this Python (``PYSPARK_PYTHON`` unless set), so they import the same packages.

    Raises
    ------
    RuntimeError
        Without PySpark or a Java runtime (one line saying how to install it).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise RuntimeError("engine=spark needs PySpark: pip install 'deep-text-clustering[spark]'") from None
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        raise RuntimeError("engine=spark needs a Java 17+ runtime: apt-get install default-jre-headless, "
                           "or set JAVA_HOME")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    master = master or os.environ.get("SPARK_MASTER") or "local[*]"
    return (SparkSession.builder.master(master).appName(app)
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(BATCH))
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate())


def _format(path: Path) -> str:
    """The reader of a file by its suffix (``.gz`` and the like looked through), or of a folder by its files'."""
    from clustering.data import DataError

    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file() and not p.name.startswith(("_", "."))]
        kinds = {_format(p) for p in files}
        if len(kinds) != 1:
            raise DataError(f"{path} must hold files of one format ({', '.join(_READERS)}); found "
                            f"{', '.join(sorted(kinds)) or 'none'}")
        return kinds.pop()
    suffixes = [s for s in path.suffixes if s not in (".gz", ".bz2", ".xz", ".zst", ".snappy")]
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in _READERS:
        raise DataError(f"cannot read {path}: use a {', '.join(_READERS)} file or a folder of them")
    return suffix


def read_frame(spark, input_path: str):
    """``input_path`` (a file or a folder of files of one format) as a Spark DataFrame.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
    input_path : str
        A .csv, .tsv, .parquet, .jsonl or .json file, compressed or not, or a folder of them.

    Returns
    -------
    frame : pyspark.sql.DataFrame

    Raises
    ------
    clustering.data.DataError
        If the path does not exist or its format is not one of those.
    """
    from clustering.data import DataError

    path = Path(input_path).expanduser()
    if not path.exists():
        raise DataError(f"no such file or folder: {input_path}")
    reader, options = _READERS[_format(path)]
    return getattr(spark.read.options(**options), reader)(str(path))


def text_column(frame, text_columns: str = ""):
    """The text of each row: the columns named (joined by a space, nulls left out), else ``text``,
    else ``title`` and ``description``, as ``clustering.data.read_rows`` reads them.

    Raises
    ------
    clustering.data.DataError
        If a column named is missing, or none of the defaults is there.
    """
    from pyspark.sql import functions as F

    from clustering.data import DataError

    columns = list(frame.columns)
    wanted = [c.strip() for c in text_columns.split(",") if c.strip()]
    if not wanted:
        wanted = ["text"] if "text" in columns else (
            ["title", "description"] if {"title", "description"} <= set(columns) else [])  # as read_rows
    missing = [c for c in wanted if c not in columns]
    if missing or not wanted:
        raise DataError(f"no text column {', '.join(missing) or '(text, or title and description)'}; "
                        f"the input has {', '.join(columns)}: pass --text_columns")
    return F.concat_ws(" ", *[F.col(c).cast("string") for c in wanted])


def predict_spark(model_uri: str, input_path: str, output_path: str, *, text_columns: str = "",
                  master: str | None = None) -> int:
    """Cluster every row of ``input_path`` with the pyfunc at ``model_uri`` on Spark; write a parquet folder.

    The model runs inside a pandas UDF (``mlflow.pyfunc.spark_udf``): each executor's Python loads it
    once and embeds its rows in batches of ``BATCH``. Every input row comes out with every input
    column, an id (``id`` when the input has one, else ``row_id``) and ``cluster``, ``confidence``
    and ``reason`` as ``experiments.predict.predict_rows`` gives them (a row without text gets no
    cluster and ``reason="no text"``). The folder is written beside ``output_path`` and moved
    into place once complete, so a failed job leaves no half-written output.

    Parameters
    ----------
    model_uri : str
        An MLflow model URI (``models:/<name>@champion``, ``runs:/<id>/model``, a path).
    input_path : str
        A file or a folder (``read_frame``).
    output_path : str
        The parquet folder to write (replaced if it exists).
    text_columns : str, default=""
        Comma-separated text columns (``text_column``).
    master : str or None, default=None
        The Spark master (``session``).

    Returns
    -------
    n_rows : int
        The rows written: every input row.

    Raises
    ------
    clustering.data.DataError
        If the input cannot be read or has no text column, or ``output_path`` cannot be written.
    """
    import mlflow
    from pyspark.sql import functions as F

    from clustering.data import DataError

    output = Path(output_path).expanduser().absolute()
    try:  # before Spark starts: a place that cannot be written fails now, under the name given
        output.parent.mkdir(parents=True, exist_ok=True)
        probe = output.parent / f".{output.name}.{uuid.uuid4().hex}.probe"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise DataError(f"cannot write {output_path}: {exc.strerror or exc}; choose another --output") from None
    spark = session(master)
    frame = read_frame(spark, input_path)
    text = text_column(frame, text_columns)
    if "id" not in frame.columns:
        frame = frame.withColumn("row_id", F.monotonically_increasing_id())
    names = output_names(frame.columns)
    keep = [F.col(f"`{c}`") for c in frame.columns]
    frame = frame.withColumn("__text", text)
    has_text = F.length(F.trim(F.col("__text"))) > 0
    model = mlflow.pyfunc.spark_udf(spark, model_uri, result_type="cluster long, confidence double",
                                    env_manager="local")
    scored = (frame.filter(has_text).withColumn("__p", model(F.struct(F.col("__text").alias("text"))))
              .select(*keep, F.col("__p.cluster").alias(names["cluster"]),
                      F.col("__p.confidence").alias(names["confidence"]), F.lit("").alias(names["reason"])))
    blank = frame.filter(~has_text).select(*keep, F.lit(None).cast("long").alias(names["cluster"]),
                                           F.lit(None).cast("double").alias(names["confidence"]),
                                           F.lit("no text").alias(names["reason"]))
    tmp = output.parent / f".{output.name}.{uuid.uuid4().hex}.tmp"
    try:
        scored.unionByName(blank).write.parquet(str(tmp))
        if output.exists():
            shutil.rmtree(output) if output.is_dir() else output.unlink()
        os.replace(tmp, output)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    counts = spark.read.parquet(str(output)).agg(
        F.count(F.lit(1)).alias("rows"), F.sum((F.col(names["reason"]) == "no text").cast("long")).alias("blank"))
    n_rows, n_blank = counts.first()
    n_blank = n_blank or 0
    note = f" ({n_blank} without text: no cluster, reason 'no text')" if n_blank else ""
    print(f"wrote {n_rows} rows to {output} (parquet, Spark {spark.sparkContext.master}){note}", flush=True)
    return n_rows


def embed_spark(texts, *, model: str, precision: str, master: str | None = None, cache_dir=None, partitions=None):
    """``clustering.embed.embed_texts`` of ``texts`` with the rows computed on Spark: the same vectors,
    through the same cache.

    A cached result is read without starting Spark. Otherwise the texts are split into partitions,
    each executor's Python embeds its partitions (``mapInPandas``; the model is loaded once per
    worker and reused), and the rows come back in the texts' order and are cached under the key a
    local run uses, so a later local run, or a study's trials, read them.

    Parameters
    ----------
    texts : sequence of str
    model : str
        The sentence-transformers model name or folder (every executor must be able to load it).
    precision : str
        A resolved precision (``clustering.embed.resolve_precision``), the same on every executor.
    master : str or None, default=None
        The Spark master (``session``).
    cache_dir : str, path-like, None or False, default=None
        As ``embed_texts``'s.
    partitions : int or None, default=None
        Partitions of the texts; None: Spark's default parallelism, at least one per 20,000 texts.

    Returns
    -------
    embeddings : ndarray of shape (n_texts, dim), float32
        L2-normalised rows.
    """
    from clustering.embed import embed_texts

    def on_spark(texts: list[str]):
        import numpy as np
        import pandas as pd

        spark = session(master)
        n = partitions or max(spark.sparkContext.defaultParallelism, -(-len(texts) // 20000))
        frame = spark.createDataFrame(pd.DataFrame({"i": np.arange(len(texts), dtype=np.int64), "text": texts}))

        def embed_batches(batches):
            from clustering.embed import embed_texts

            for batch in batches:
                rows = embed_texts(batch["text"].tolist(), model=model, precision=precision, cache_dir=False,
                                   show_progress=False)
                yield pd.DataFrame({"i": batch["i"].to_numpy(), "v": list(rows)})

        out = frame.repartition(n).mapInPandas(embed_batches, schema="i long, v array<float>").toPandas()
        return np.stack(out["v"].to_numpy()[np.argsort(out["i"].to_numpy())])

    return embed_texts(texts, model=model, precision=precision, cache_dir=cache_dir, encode=on_spark)
