"""Tables for people: the comparison of methods over seeds, and the error analysis.

Pure functions over arrays and dicts (no MLflow), so they are easy to test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clustering.metrics import label_mapping

COLUMNS = ["acc", "nmi", "ari", "purity", "silhouette", "latent_silhouette", "davies_bouldin", "calinski_harabasz"]
# Figures published elsewhere, shown beside ours: the seed report's (the course report this
# project grew from; it does not say in which space it measured its silhouettes) and the
# literature's. The run's comparison table and benchmarks/RESULTS.md both print them.
PUBLISHED = [
    {"source": "seed report", "corpus": "ag_news", "method": "SBERT + AE + DEC",
     "data": "5,000 balanced AG News articles, one run", "purity": "0.78", "silhouette": "0.52"},
    {"source": "seed report", "corpus": "ag_news", "method": "TF-IDF + KMeans", "data": "same 5,000",
     "silhouette": "0.38"},
    {"source": "SCCL (Zhang et al., NAACL 2021)", "corpus": "ag_news", "data": "8,000-article AG News sample",
     "acc": "0.882", "nmi": "0.682"},
    {"source": "Deep ECIC (Pugachev and Burtsev, 2021)", "corpus": "ag_news", "data": "AG News", "acc": "0.865"},
    {"source": "SCCL (Zhang et al., NAACL 2021)", "corpus": "stackoverflow", "data": "StackOverflow",
     "acc": "0.755", "nmi": "0.745"},
    {"source": "RSTC (Zheng et al., ACL 2023)", "corpus": "stackoverflow", "data": "StackOverflow", "acc": "0.833"},
    {"source": "SCCL (Zhang et al., NAACL 2021)", "corpus": "biomedical", "data": "Biomedical",
     "acc": "0.462", "nmi": "0.415"},
    {"source": "RSTC (Zheng et al., ACL 2023)", "corpus": "biomedical", "data": "Biomedical", "acc": "0.484"},
]
SEED_REPORT = [{"method": f"seed report: {p['method']}", **{k: p[k] for k in ("purity", "silhouette") if k in p}}
               for p in PUBLISHED if p["source"] == "seed report"]


def summarise(per_seed: dict[str, list[dict[str, float]]]) -> pd.DataFrame:
    """Mean and std over seeds: one row per method, columns ``<metric>_mean``/``_std``.

    Parameters
    ----------
    per_seed : dict of str to list of dict
        Per method, the metrics of each seed's run.

    Returns
    -------
    summary : DataFrame
        ``method``, ``n_seeds`` and ``<metric>_mean``/``<metric>_std`` for the metrics of
        ``COLUMNS`` that some run has.

    Examples
    --------
    >>> summarise({"kmeans": [{"acc": 0.5}, {"acc": 1.0}]})
       method  n_seeds  acc_mean  acc_std
    0  kmeans        2      0.75     0.25
    """
    from experiments.evaluation import summarise as mean_std

    return pd.DataFrame([{"method": method, "n_seeds": len(runs), **mean_std(runs, COLUMNS)}
                         for method, runs in per_seed.items()])


def comparison_table(summary: pd.DataFrame, *, with_seed_report: bool = True) -> pd.DataFrame:
    """``mean ± std`` strings per metric, the seed report's figures below for reference.

    Parameters
    ----------
    summary : DataFrame
        ``summarise``'s table.
    with_seed_report : bool, default=True
        Add the seed report's rows (``SEED_REPORT``) below the methods.

    Returns
    -------
    table : DataFrame
        ``method``, ``seeds`` and a string per metric of ``COLUMNS`` present ("" where a row has none).

    Examples
    --------
    >>> comparison_table(summarise({"kmeans": [{"acc": 0.5}, {"acc": 1.0}]}), with_seed_report=False)
       method seeds            acc
    0  kmeans     2  0.750 ± 0.250
    """
    rows = []
    for _, r in summary.iterrows():
        row = {"method": r["method"], "seeds": str(int(r["n_seeds"]))}
        for col in COLUMNS:
            if f"{col}_mean" in r and pd.notna(r[f"{col}_mean"]):
                row[col] = f"{r[f'{col}_mean']:.3f} ± {r[f'{col}_std']:.3f}"
        rows.append(row)
    if with_seed_report:
        rows += SEED_REPORT
    table = pd.DataFrame(rows)
    return table[[c for c in ["method", "seeds", *COLUMNS] if c in table.columns]].astype(object).fillna("")


LENGTH_BUCKETS = [(0, 15, "< 15 words"), (15, 30, "15-29 words"), (30, 45, "30-44 words"), (45, 10**9, ">= 45 words")]


def accuracy_by_length(texts: list[str], labels_true, labels_pred) -> pd.DataFrame:
    """Accuracy per text-length bucket, clusters mapped to classes once on the whole set.

    Parameters
    ----------
    texts : list of str
        The texts; their length is counted in words (split on whitespace).
    labels_true : array-like of shape (n_samples,)
        The true classes.
    labels_pred : array-like of shape (n_samples,)
        The clusters.

    Returns
    -------
    table : DataFrame
        ``bucket`` (of ``LENGTH_BUCKETS``), ``n`` and ``accuracy``, for the buckets that hold texts.

    Examples
    --------
    >>> texts = ["short text", "short text", " ".join(["word"] * 20), " ".join(["word"] * 20)]
    >>> accuracy_by_length(texts, [0, 0, 1, 1], [1, 1, 0, 1])
            bucket  n  accuracy
    0   < 15 words  2       1.0
    1  15-29 words  2       0.5
    """
    labels_true, labels_pred = np.asarray(labels_true), np.asarray(labels_pred)
    mapping = label_mapping(labels_true, labels_pred)
    mapped = np.array([mapping.get(int(c), -1) for c in labels_pred])
    words = np.array([len(t.split()) for t in texts])
    rows = []
    for lo, hi, name in LENGTH_BUCKETS:
        mask = (words >= lo) & (words < hi)
        if mask.any():
            rows.append({"bucket": name, "n": int(mask.sum()), "accuracy": float((mapped[mask] == labels_true[mask]).mean())})
    return pd.DataFrame(rows)


def confused_pairs(labels_true, labels_pred, label_names=None, *, top: int = 5) -> pd.DataFrame:
    """The most frequent (true class, class its cluster maps to) errors, both directions summed.

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        The true classes.
    labels_pred : array-like of shape (n_samples,)
        The clusters, mapped to classes once on the whole set.
    label_names : list of str, default=None
        A name per class; None: the classes' numbers.
    top : int, default=5
        The most pairs to list.

    Returns
    -------
    table : DataFrame
        ``pair`` (``"a <-> b"``), ``errors`` and ``share_of_errors``, the most frequent first.

    Examples
    --------
    >>> confused_pairs([0, 0, 1, 1, 2, 2], [0, 0, 1, 2, 2, 1], ["world", "sports", "business"])
                      pair  errors  share_of_errors
    0  sports <-> business       2              1.0
    """
    labels_true, labels_pred = np.asarray(labels_true), np.asarray(labels_pred)
    mapping = label_mapping(labels_true, labels_pred)
    mapped = np.array([mapping.get(int(c), -1) for c in labels_pred])
    name = (lambda i: str(label_names[i]) if label_names is not None and 0 <= i < len(label_names) else str(i))
    counts: dict[tuple[int, int], int] = {}
    for t, p in zip(labels_true, mapped):
        if t != p and p >= 0:
            key = tuple(sorted((int(t), int(p))))
            counts[key] = counts.get(key, 0) + 1
    rows = [{"pair": f"{name(a)} <-> {name(b)}", "errors": n, "share_of_errors": n / max(1, int((labels_true != mapped).sum()))}
            for (a, b), n in sorted(counts.items(), key=lambda kv: -kv[1])[:top]]
    return pd.DataFrame(rows, columns=["pair", "errors", "share_of_errors"])
