"""Embedding precision: how much faster than a bare ``SentenceTransformer.encode``, and what it
costs MiniLM + KMeans in ACC and NMI on AG News, StackOverflow and Biomedical.

Routes (each a ``precision`` of ``clustering.embed.embed_texts`` unless marked):

- **bare encode**: ``SentenceTransformer.encode(texts, batch_size=64, normalize_embeddings=True)``
  on the float32 model, the baseline of every ratio;
- **float32**: ``embed_texts`` as it was (cache off): the same numbers as the bare encode;
- **bfloat16**: weights and activations in bfloat16, the embedding normalised in float32;
- **bfloat16-mixed**: float32 weights under ``torch.autocast(dtype=bfloat16)``: linear layers
  and attention take bfloat16 inputs, the residual stream and LayerNorm stay float32;
- **int8**: PyTorch dynamic quantization of every linear layer, weights per output channel;
- **int8 per tensor** (benchmark only): the same with one scale per weight matrix, the
  route an earlier probe measured (cosine 0.94 to float32).

Speed: on a seeded sample of ``--timing_texts`` texts per corpus, every route encodes the
same texts in each of ``--rounds`` rounds, in an order that rotates from round to round; a
route's ratio is the median over rounds of (bare encode time / its time) in the same round,
so load that drifts between rounds cancels. sentence-transformers already sorts each call's
texts by length before batching (so padding is small), for the bare encode as for us: no
route gains from that here.

Quality: each route embeds every text of each corpus once (cached on disk under a key of its
own), then MiniLM + KMeans (``EmbeddingKMeans``, the suite's starting point, k = the true
number of classes, n_init 10) runs with seeds 0 .. ``--n_seeds`` - 1; ACC and NMI are their
means. Labels only score. A route's change from float32 is taken seed by seed (same seed,
same rows: a paired difference), and reported as the mean of those differences (= the
difference of the means) with its standard error, sd / sqrt(n_seeds). A route **holds the
quality** when its mean ACC and NMI are within 0.005 of float32's on every corpus, and
**meets the goal** when it also runs at least 1.5x the bare encode; whether each 95%
interval (mean +- 1.96 SE) lies inside +-0.005 is reported beside that, since on Biomedical,
whose 20 clusters KMeans finds unreliably, one seed's ACC varies by ~0.02. A control row
clusters the float32 embeddings again with their rows shuffled: the same seeds then take
other KMeans paths, so its change from float32 (zero in expectation) shows what the seeds
alone move the means by at this number of seeds; 5 seeds moved Biomedical's by 0.008.

Results go to ``benchmarks/results/embeddings.json``; ``RESULTS.md`` is regenerated from it.

    python -m benchmarks.embeddings                                   # all routes, all corpora
    python -m benchmarks.embeddings --routes bfloat16 --corpora ag_news --timing_texts 300
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import dataclass

import numpy as np

from benchmarks import common


# -- its section of RESULTS.md ------------------------------------------------------------
# -- embedding precision --------------------------------------------------------------------------


# -- embeddings (benchmarks.embeddings) -------------------------------------------------------------
ROUTES = {
    "bare": "bare SentenceTransformer.encode (float32)",
    "float32": "embed_texts, precision='float32' (what precision='auto' gives without native bfloat16)",
    "bfloat16": "embed_texts, precision='bfloat16'",
    "bfloat16-mixed": "embed_texts, precision='bfloat16-mixed' (autocast)",
    "int8": "embed_texts, precision='int8' (per channel)",
    "int8_per_tensor": "int8, one scale per weight matrix (benchmark only)",
}
# Not a route: KMeans on the float32 embeddings with their rows shuffled. Nothing about the
# embeddings changes, only KMeans' path, so its change from float32 is the noise floor of the
# comparison at this number of seeds.
CONTROL = "float32_shuffled"
SPEED_GOAL = 1.5  # route throughput / bare encode throughput, at least
QUALITY_TOLERANCE = 0.005  # |route - float32| in mean ACC and in mean NMI, at most, on every corpus


def _delta_text(deltas: dict | None, corpus: str) -> str:
    """" (+0.0040 ± 0.0010 / -0.0010 ± 0.0005)": the change from float32 in ACC / NMI, paired by
    seed, ± its standard error; empty where not measured."""
    d = (deltas or {}).get(corpus)
    if not d:
        return ""
    return " (" + " / ".join(f"{d[m]['mean']:+.4f} ± {d[m]['se']:.4f}" for m in ("acc", "nmi")) + ")"


def _ci_text(s: dict) -> str:
    return "yes" if s["ci_within"] else ("no (outside)" if s["ci_outside"] else "undecided")


def embeddings_rows(result: dict) -> list[dict]:
    """One row per route: throughput, ratio to the bare encode, cosine to it, and per corpus
    mean ACC / NMI with the difference to float32 ± its standard error."""

    summary, quality = result["summary"], result.get("quality") or {}
    corpora = result["config"]["corpus_list"]
    rows = []
    for route in result["config"]["route_list"]:
        s = summary[route]
        cos = [result["cosine"][c][route] for c in corpora]
        row = {"route": ROUTES.get(route, route), "texts/s": f"{s['texts_per_s']:,.0f}",
               "x bare encode": f"{s['ratio']:.2f} ({s['ratio_min']:.2f}-{s['ratio_max']:.2f})",
               "cosine to float32 (mean / min)": f"{np.mean([c['mean'] for c in cos]):.6f} / "
                                                 f"{min(c['min'] for c in cos):.6f}"}
        for c in corpora:
            runs, ref = quality.get(c, {}).get("float32" if route == "bare" else route), quality.get(c, {}).get("float32")
            if runs and ref:
                acc, nmi = (float(np.mean([r[m] for r in runs])) for m in ("acc", "nmi"))
                row[f"{common.CORPUS_NAMES.get(c, c)} ACC / NMI (vs float32)"] = (
                    f"{acc:.4f} / {nmi:.4f}" + ("" if route in ("bare", "float32") else _delta_text(s.get("deltas"), c)))
        if "holds_quality" in s and route not in ("bare", "float32"):
            row["within 0.005 everywhere"] = "yes" if s["holds_quality"] else "no"
            if "ci_within" in s:  # results from before the paired standard errors lack it
                row["95% intervals inside ±0.005"] = _ci_text(s)
            row[">= 1.5x and within"] = "**yes**" if s["meets_goal"] else "no"
        rows.append(row)
    if CONTROL in summary:
        row = {"route": "control: float32, rows shuffled (KMeans noise)"}
        for c in corpora:
            runs = quality[c][CONTROL]
            acc, nmi = (float(np.mean([r[m] for r in runs])) for m in ("acc", "nmi"))
            row[f"{common.CORPUS_NAMES.get(c, c)} ACC / NMI (vs float32)"] = (
                f"{acc:.4f} / {nmi:.4f}" + _delta_text(summary[CONTROL].get("deltas"), c))
        row["within 0.005 everywhere"] = "yes" if summary[CONTROL]["holds_quality"] else "no"
        if "ci_within" in summary[CONTROL]:
            row["95% intervals inside ±0.005"] = _ci_text(summary[CONTROL])
        rows.append(row)
    return rows


def embeddings_verdicts(result: dict) -> list[str]:
    """The goal, route by route, one sentence each."""

    out = []
    for route, s in result["summary"].items():
        if route in ("bare", "float32", CONTROL) or "holds_quality" not in s:
            continue
        verdict = "**meets the goal**" if s["meets_goal"] else "misses the goal"
        out.append(f"{ROUTES.get(route, route)}: {s['ratio']:.2f}x the bare encode (goal >= {SPEED_GOAL}); largest "
                   f"change in mean ACC {s['worst_acc_delta']:+.4f}, in mean NMI {s['worst_nmi_delta']:+.4f} "
                   f"(tolerance {QUALITY_TOLERANCE}): {verdict}; {_ci_sentence(s)}.")
    control = result["summary"].get(CONTROL)
    if control:
        out.append(f"Noise floor: the float32 embeddings themselves, rows shuffled, move the {result['config']['n_seeds']}-"
                   f"seed means by up to {control['worst_acc_delta']:+.4f} ACC and {control['worst_nmi_delta']:+.4f} NMI"
                   + (f"; {_ci_sentence(control)}." if "ci_within" in control else "."))
    fp32 = result["summary"].get("float32")
    if fp32:
        out.append(f"`embed_texts` at float32 runs at {fp32['ratio']:.2f}x the bare encode: it adds no speed trick of "
                   f"its own (sentence-transformers already sorts texts by length before batching, for both).")
    return out


def _ci_sentence(s: dict) -> str:
    if s.get("ci_within"):
        return f"every 95% interval lies inside ±{QUALITY_TOLERANCE}"
    if s.get("ci_outside"):
        return f"some 95% interval lies wholly outside ±{QUALITY_TOLERANCE}"
    return f"some 95% interval straddles ±{QUALITY_TOLERANCE}: these seeds cannot tell"


def markdown(result: dict) -> str:
    cfg = result["config"]
    n = ", ".join(f"{common.CORPUS_NAMES.get(c, c)} {result['n_texts'][c]:,}" for c in cfg["corpus_list"])
    parts = [common.machine_line(result.get("machine")),
             f"Speed: {cfg['timing_texts']:,} seeded texts per corpus, every route on the same texts in each of "
             f"{cfg['rounds']} rounds (order rotating); 'x bare encode' is the median (and range) over rounds and "
             f"corpora of bare-encode time / route time within one round; texts/s is over the three samples together. "
             f"Quality: every text of each corpus ({n}), MiniLM + KMeans (`EmbeddingKMeans`, k = the true number of "
             f"classes, n_init 10) with seeds 0-{cfg['n_seeds'] - 1}, mean ACC / NMI; in brackets the change from "
             f"float32 ± its standard error, the runs paired by seed (sd of the per-seed differences / sqrt(seeds)); "
             f"'95% intervals inside' asks whether every change ± 1.96 SE lies inside ±{QUALITY_TOLERANCE}. "
             f"Cosine: each text's embedding against the bare encode's, over the timing samples.",
             common.markdown_table(embeddings_rows(result)),
             "\n".join(f"- {line}" for line in embeddings_verdicts(result))]
    return "\n\n".join(parts)

OUT = common.RESULTS_DIR / "embeddings.json"


@dataclass(frozen=True)
class EmbeddingsConfig:
    routes: str = ",".join(ROUTES)
    corpora: str = ",".join(common.CORPORA)
    timing_texts: int = 400  # per corpus
    rounds: int = 3
    n_seeds: int = 40  # 5 left Biomedical's seed noise (~0.008 in mean ACC) above the tolerance
    batch_size: int = 64
    quality: bool = True  # embed the full corpora and cluster them (slow the first time)

    def route_list(self) -> list[str]:
        return _pick(self.routes, ROUTES, "route")

    def corpus_list(self) -> list[str]:
        return _pick(self.corpora, common.CORPORA, "corpus")


def _pick(text: str, known: dict, what: str) -> list[str]:
    chosen = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in chosen if c not in known]
    if bad:
        raise ValueError(f"unknown {what}(s) {bad}; choose from {', '.join(known)}")
    return chosen


# -- the routes ---------------------------------------------------------------------------------
def _per_tensor_int8_model():
    """MiniLM with every linear layer dynamically quantized, one scale per weight matrix."""
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    from clustering.embed import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eager-mode quantization's notice that torchao is its future
        # Not in place: a quantized copy; the cached float32 model stays as it is.
        return quantize_dynamic(load_model(device="cpu"), {torch.nn.Linear}, dtype=torch.qint8)


def encoders(routes: list[str], batch_size: int) -> dict:
    """``route -> f(texts) -> (n, 384) float32``, uncached, every model loaded up front."""
    from clustering.embed import embed_texts, load_model

    out = {}
    for route in routes:
        if route == "bare":
            model = load_model(device="cpu")
            out[route] = lambda texts, m=model: np.asarray(
                m.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False))
        elif route == "int8_per_tensor":
            model = _per_tensor_int8_model()
            out[route] = lambda texts, m=model: _unit(m.encode(texts, batch_size=batch_size, show_progress_bar=False))
        else:
            load_model(device="cpu", precision=route)  # loading is not what is timed
            out[route] = lambda texts, p=route: embed_texts(texts, batch_size=batch_size, cache_dir=False,
                                                            device="cpu", show_progress=False, precision=p)
    return out


def _unit(emb) -> np.ndarray:
    emb = np.asarray(emb, dtype=np.float32)
    return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)


def full_embeddings(route: str, texts: list[str], batch_size: int) -> np.ndarray:
    """All of a corpus' embeddings by ``route``, computed once and cached on disk."""
    from clustering import embed

    if route in ("bare", "float32"):
        return embed.embed_texts(texts, batch_size=batch_size, device="cpu", show_progress=False, precision="float32")
    if route in embed.PRECISIONS:
        return embed.embed_texts(texts, batch_size=batch_size, device="cpu", show_progress=False, precision=route)
    # A benchmark-only route: its own key, derived from the float32 one, in the same cache.
    key = hashlib.sha256(f"{route}:{embed.cache_key(texts)}".encode()).hexdigest()
    path = embed.default_cache_dir() / f"{key}.npy"
    cached = embed._read_cache(path, len(texts))
    if cached is not None:
        return cached
    emb = encoders([route], batch_size)[route](texts)
    embed._write_cache(path, emb)
    return emb


# -- measuring ----------------------------------------------------------------------------------
def time_routes(samples: dict[str, list[str]], fns: dict, rounds: int) -> dict:
    """Seconds per (corpus, route, round); the route order rotates each round."""
    routes = list(fns)
    seconds = {c: {r: [] for r in routes} for c in samples}
    for i in range(rounds):
        order = routes[i % len(routes):] + routes[: i % len(routes)]
        for corpus, texts in samples.items():
            for route in order:
                start = time.perf_counter()
                fns[route](texts)
                seconds[corpus][route].append(time.perf_counter() - start)
    return seconds


def cluster_scores(X: np.ndarray, labels: np.ndarray, seeds: list[int]) -> list[dict]:
    """ACC and NMI of MiniLM + KMeans (k = the number of true classes) per seed."""
    from sklearn.metrics import normalized_mutual_info_score

    from clustering.baselines import EmbeddingKMeans
    from clustering.metrics import cluster_accuracy

    k = len(np.unique(labels))
    runs = []
    for seed in seeds:
        pred = EmbeddingKMeans(n_clusters=k, random_state=seed).fit(X).labels_
        runs.append({"seed": seed, "acc": cluster_accuracy(labels, pred),
                     "nmi": float(normalized_mutual_info_score(labels, pred))})
    return runs


def summarize(result: dict) -> dict:
    """Per route: median ratio to the bare encode, texts/s, and the quality verdict."""
    routes, corpora = result["config"]["route_list"], result["config"]["corpus_list"]
    out = {}
    for route in routes:
        ratios, rates = [], []
        for corpus in corpora:
            t = result["seconds"][corpus]
            ratios += [b / s for b, s in zip(t["bare"], t[route])]
            rates.append(result["timing_texts"][corpus] / float(np.median(t[route])))
        row = {"ratio": float(np.median(ratios)), "ratio_min": float(min(ratios)), "ratio_max": float(max(ratios)),
               "texts_per_s": float(len(corpora) / np.sum([1 / r for r in rates]))}  # harmonic: same texts each
        quality = result.get("quality") or {}
        row.update(_quality_verdict(quality, route, corpora))
        if "holds_quality" in row:
            row["meets_goal"] = row["holds_quality"] and row["ratio"] >= SPEED_GOAL
        out[route] = row
    if all(CONTROL in (result.get("quality") or {}).get(c, {}) for c in corpora):
        out[CONTROL] = _quality_verdict(result["quality"], CONTROL, corpora)
    return out


def paired_delta(runs: list[dict], ref: list[dict], metric: str) -> tuple[float, float]:
    """Mean and standard error of ``runs[i][metric] - ref[i][metric]``, the runs paired by seed.

    The mean equals the difference of the two means; the standard error (sd of the per-seed
    differences / sqrt(n), 0 for one seed) is smaller than the unpaired one when a seed's two
    runs agree more than two seeds do.
    """
    ref_by_seed = {r["seed"]: r[metric] for r in ref}
    if sorted(ref_by_seed) != sorted(r["seed"] for r in runs):
        raise ValueError("paired differences need the same seeds on both sides")
    d = np.array([r[metric] - ref_by_seed[r["seed"]] for r in runs])
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
    return float(d.mean()), se


Z95 = 1.96


def _quality_verdict(quality: dict, route: str, corpora: list[str]) -> dict:
    """Whether ``route``'s mean ACC and NMI are within the tolerance of float32's on every corpus,
    its largest change in each (signed), each corpus' change with its standard error, and
    whether every 95% interval lies inside the tolerance (``ci_within``) or some one wholly
    outside it (``ci_outside``)."""
    deltas = {c: {m: paired_delta(quality[c][route], quality[c]["float32"], m) for m in ("acc", "nmi")}
              for c in corpora if route in quality.get(c, {}) and "float32" in quality.get(c, {})}
    if len(deltas) < len(corpora):
        return {}
    pairs = [mean_se for d in deltas.values() for mean_se in d.values()]
    return {"holds_quality": all(abs(mean) <= QUALITY_TOLERANCE for mean, _ in pairs),
            "ci_within": all(abs(mean) + Z95 * se <= QUALITY_TOLERANCE for mean, se in pairs),
            "ci_outside": any(abs(mean) - Z95 * se > QUALITY_TOLERANCE for mean, se in pairs),
            "worst_acc_delta": max((d["acc"][0] for d in deltas.values()), key=abs),
            "worst_nmi_delta": max((d["nmi"][0] for d in deltas.values()), key=abs),
            "deltas": {c: {m: {"mean": mean, "se": se} for m, (mean, se) in d.items()} for c, d in deltas.items()}}


def run(config: EmbeddingsConfig, command: str, echo=print) -> dict:
    from clustering.data import load_corpus

    routes, corpora = config.route_list(), config.corpus_list()
    if "bare" not in routes or "float32" not in routes:
        raise ValueError("routes must include bare and float32: the ratios and deltas are taken against them")
    threads = common.limit_threads()
    data = {}
    for name in corpora:
        path = common.SHARED_DATA / common.CORPORA[name]
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: this benchmark needs the shared corpora beside the repository")
        data[name] = load_corpus(path)
    rng = np.random.default_rng(0)
    samples = {c: [data[c].texts[i] for i in rng.choice(len(data[c].texts), min(config.timing_texts, len(data[c].texts)),
                                                         replace=False)] for c in corpora}
    echo(f"timing {len(routes)} routes on {sum(map(len, samples.values())):,} texts, {config.rounds} rounds, "
         f"{threads} thread(s)")
    fns = encoders(routes, config.batch_size)
    ref = {c: fns["bare"](samples[c]) for c in corpora}  # also warms every code path up
    cosine = {c: {r: (_unit(fns[r](samples[c])) * ref[c]).sum(1) for r in routes} for c in corpora}
    seconds = time_routes(samples, fns, config.rounds)

    quality = {}
    if config.quality:
        seeds = list(range(config.n_seeds))
        for c in corpora:
            quality[c] = {}
            for route in routes:
                if route == "bare":
                    continue
                start = time.perf_counter()
                X = full_embeddings(route, data[c].texts, config.batch_size)
                quality[c][route] = cluster_scores(X, np.asarray(data[c].labels), seeds)
                acc = np.mean([r["acc"] for r in quality[c][route]])
                nmi = np.mean([r["nmi"] for r in quality[c][route]])
                echo(f"{c} {route}: ACC {acc:.4f} NMI {nmi:.4f} ({time.perf_counter() - start:.0f} s)")
                if route == "float32":  # the control: same embeddings, rows in another order
                    order = np.random.default_rng(1).permutation(len(X))
                    quality[c][CONTROL] = cluster_scores(X[order], np.asarray(data[c].labels)[order], seeds)
    result = {"config": {**dataclasses.asdict(config), "route_list": routes, "corpus_list": corpora},
              "machine": common.machine_info(command), "n_texts": {c: len(data[c].texts) for c in corpora},
              "timing_texts": {c: len(samples[c]) for c in corpora}, "seconds": seconds,
              "cosine": {c: {r: {"mean": float(v.mean()), "min": float(v.min())} for r, v in cs.items()}
                         for c, cs in cosine.items()},
              "quality": quality}
    result["summary"] = summarize(result)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.embeddings", description=__doc__.splitlines()[0])
    for field in dataclasses.fields(EmbeddingsConfig):
        kind = (lambda s: s.lower() in ("1", "true", "yes")) if field.type in (bool, "bool") else type(field.default)
        parser.add_argument(f"--{field.name}", type=kind, default=field.default, help=f"default: {field.default}")
    args = parser.parse_args(argv)
    config = EmbeddingsConfig(**vars(args))
    try:
        config.route_list(), config.corpus_list()
    except ValueError as exc:
        parser.error(str(exc))
    command = "python -m benchmarks.embeddings" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    result = run(config, command, echo=lambda line: print(line, flush=True))
    common.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")

    print(common.markdown_table(embeddings_rows(result)))
    for line in embeddings_verdicts(result):
        print("-", line)
    common.regenerate_results()
    print(f"{common.relative(OUT)} written; {common.relative(common.RESULTS_MD)} regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
