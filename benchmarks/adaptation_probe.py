"""Does adapting MiniLM on the pseudo-labelling clusterer's partition help? A probe for issue 14.

For each seed: ``PseudoLabelClusterer`` (defaults) clusters the texts on frozen MiniLM; a copy
of the encoder is then fine-tuned once, under bfloat16 autocast, by the self-training loop
(``clustering._selftrain_loop.train_round``) in one of these ways:

- ``ecic``: cross-entropy to the partition on the ``confident_fraction`` of each cluster with
  the largest posterior margin, plus neighbour InfoNCE, top two layers, lr 2e-4 (iterative
  classification over an SBERT start, as Deep ECIC does, one round);
- ``contrastive``: neighbour InfoNCE alone, every layer, lr 2e-5, every text (SCCL's
  instance term with mined neighbours instead of augmentations);
- ``ce``: cross-entropy alone to the confident 70% of each cluster, every layer, lr 2e-5
  (Deep ECIC's classification step without the neighbour term, at a fine-tuning rate);
- ``ce-oracle`` (reads labels): ``ce`` on the same texts with their true labels, the
  ceiling of this step with perfect pseudo-labels; "held out" scores the texts outside the core;
- ``ce-oracle-random`` (reads labels): the same on as many texts drawn at random instead of
  the core (plain supervised fine-tuning: what the step can do with labels to learn from);
- ``sccl``: SCCL's two terms, every layer, lr 2e-5, every text: DEC's KL to the sharpened
  target of each batch plus InfoNCE against a second dropout view of each text (SimCSE's
  augmentation instead of SCCL's word substitutions).

The adapted embeddings are then clustered three ways: k-means, ``PseudoLabelClusterer``
again, and a logistic regression trained on the confident core and applied to every text.
Labels only score, except in the oracle variants. Too slow for ``make bench`` (1.5-4 min per
seed on AG News at 2 threads; every layer at 1 thread, 7 min); writes
``benchmarks/results/adaptation_probe.json`` and prints a table.

    python -m benchmarks.adaptation_probe --corpus ag_news --variant ecic --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import copy
import json
import resource
import time

import numpy as np

from benchmarks import common

OUT = common.RESULTS_DIR / "adaptation_probe.json"
VARIANTS = {
    "ecic": {"trainable_layers": 2, "loss": "ce", "lr": 2e-4, "confident_fraction": 0.7, "positives": "neighbors"},
    "contrastive": {"trainable_layers": None, "loss": "none", "lr": 2e-5, "confident_fraction": 1.0,
                    "positives": "neighbors"},
    "sccl": {"trainable_layers": None, "loss": "kl", "lr": 2e-5, "confident_fraction": 1.0, "positives": "dropout"},
    "ce": {"trainable_layers": None, "loss": "ce", "lr": 2e-5, "confident_fraction": 0.7, "positives": None},
    "ce-oracle": {"trainable_layers": None, "loss": "ce", "lr": 2e-5, "confident_fraction": 0.7, "positives": None,
                  "oracle": True},
    "ce-oracle-random": {"trainable_layers": None, "loss": "ce", "lr": 2e-5, "confident_fraction": 0.7,
                         "positives": None, "oracle": True, "random_texts": True},
}


def probe(texts, y, X, *, variant: str, seed: int) -> dict:
    import torch
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import normalized_mutual_info_score

    from clustering._selftrain_loop import confident_mask, nearest_neighbors, train_round
    from clustering._transformer import freeze_lower_layers, text_embedders
    from clustering.centroids import l2_normalize
    from clustering.embed import load_model
    from clustering.metrics import cluster_accuracy
    from clustering.pseudolabel import PseudoLabelClusterer

    settings = VARIANTS[variant]
    k = len(np.unique(y))
    start = time.perf_counter()
    scores = {}

    def score(name, labels):
        scores[name] = {"acc": cluster_accuracy(y, labels), "nmi": float(normalized_mutual_info_score(y, labels))}

    frozen = PseudoLabelClusterer(k, random_state=seed).fit(texts, embeddings=X)
    score("pseudolabel, frozen", frozen.labels_)
    # the confident core: the largest top-two posterior margins, the same share of every cluster
    keep = np.flatnonzero(confident_mask(frozen.predict_proba(texts, embeddings=X), frozen.labels_,
                                         settings["confident_fraction"]))
    if settings.get("random_texts"):  # the core's size, drawn at random
        keep = np.sort(np.random.default_rng(seed).choice(len(y), len(keep), replace=False))
    scores["core"] = {"acc": cluster_accuracy(y[keep], frozen.labels_[keep]), "n": len(keep)}

    # what the encoder is trained towards: the partition, or (oracle) the true labels of the same texts
    targets = y if settings.get("oracle") else frozen.labels_
    torch.manual_seed(seed)
    encoder = copy.deepcopy(load_model("all-MiniLM-L6-v2", "cpu"))
    encoder.max_seq_length = 64
    n_frozen = freeze_lower_layers(encoder, settings["trainable_layers"])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        embed, embed_all = text_embedders(encoder, texts, n_frozen, 128)
    centers = l2_normalize(np.stack([X[targets == c].mean(0) for c in range(k)]))
    encoder.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        train_round(embed, [p for p in encoder.parameters() if p.requires_grad], keep, targets, centers,
                    loss=settings["loss"], epochs=1, lr=settings["lr"], head_lr=1e-3, batch_size=64,
                    temperature=0.1, contrastive_weight=1.0 if settings["positives"] else 0.0, random_state=seed,
                    neighbors=nearest_neighbors(X, 10) if settings["positives"] == "neighbors" else None)
    encoder.eval()
    adapted = embed_all()
    score("k-means, adapted", KMeans(k, n_init=10, random_state=seed).fit_predict(adapted))
    score("pseudolabel, adapted", PseudoLabelClusterer(k, random_state=seed).fit(texts, embeddings=adapted).labels_)
    core_lr = LogisticRegression(max_iter=300).fit(adapted[keep], targets[keep])
    score("core classifier, adapted", core_lr.predict(adapted))
    if settings.get("oracle"):
        rest = np.setdiff1d(np.arange(len(y)), keep)
        frozen_lr = LogisticRegression(max_iter=300).fit(X[keep], y[keep])
        scores["held out: classifier, frozen"] = {"acc": float(np.mean(frozen_lr.predict(X[rest]) == y[rest])),
                                                   "nmi": float("nan")}
        scores["held out: classifier, adapted"] = {"acc": float(np.mean(core_lr.predict(adapted[rest]) == y[rest])),
                                                    "nmi": float("nan")}
    return {"seed": seed, "scores": scores, "seconds": time.perf_counter() - start}


def main(argv=None) -> int:
    from benchmarks.sota import load

    parser = argparse.ArgumentParser(prog="python -m benchmarks.adaptation_probe", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="ag_news", choices=["ag_news", "stackoverflow", "biomedical"])
    parser.add_argument("--variant", default="ecic", choices=sorted(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    texts, y, X = load(args.corpus, False)
    runs = [probe(texts, y, X, variant=args.variant, seed=s) for s in args.seeds]
    names = [n for n in runs[0]["scores"] if n != "core"]
    print(f"| {args.corpus}, {args.variant} ({len(runs)} seeds) | ACC | NMI |\n|---|---|---|")
    for name in names:
        acc = [r["scores"][name]["acc"] for r in runs]
        nmi = [r["scores"][name]["nmi"] for r in runs]
        print(f"| {name} | {np.mean(acc):.3f} ± {np.std(acc):.3f} | {np.mean(nmi):.3f} ± {np.std(nmi):.3f} |")
    core = [r["scores"]["core"]["acc"] for r in runs]
    print(f"confident core: ACC {np.mean(core):.3f}; {np.mean([r['seconds'] for r in runs]):.0f} s per seed; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results[f"{args.corpus}/{args.variant}"] = {"runs": runs, **common.machine_info(
        f"python -m benchmarks.adaptation_probe --corpus {args.corpus} --variant {args.variant} "
        f"--seeds {' '.join(map(str, args.seeds))}")}
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
