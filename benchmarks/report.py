"""Tables from the raw results in ``benchmarks/results/``, and ``RESULTS.md`` made of them.

Pure functions of the JSON the three parts write (no timing, no MLflow), so they are tested
on tiny inputs in ``tests/test_benchmarks.py``. ``write_results_md`` is called at the end of
every part and renders whichever results exist.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.common import machine_line as _machine_line, markdown_table, summarise

EMBED_GOAL = 0.95  # embed_texts throughput / bare encode throughput, at least
TRACKING_GOAL = 1.05  # tracked trial time / untracked trial time, at most

def _read(name: str, results_dir: Path) -> dict | None:
    path = results_dir / name
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _seconds(s: float) -> str:
    if s >= 100:
        return f"{s:,.0f} s"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


# -- speed ------------------------------------------------------------------------------------
def speed_rows(bench: dict) -> list[dict]:
    """One row per pytest-benchmark entry: time statistics and throughput."""
    rows = []
    for b in bench.get("benchmarks", []):
        s, info = b["stats"], b.get("extra_info", {})
        row = {"benchmark": info.get("label", b["name"]), "rounds": s["rounds"], "min": _seconds(s["min"]),
               "median": _seconds(s["median"]), "mean ± std": f"{_seconds(s['mean'])} ± {_seconds(s['stddev'])}"}
        if info.get("items"):
            row["throughput (median)"] = f"{info['items'] / s['median']:,.0f} {info.get('unit', 'items')}/s"
        rows.append(row)
    return rows


def _by_key(bench: dict) -> dict[str, dict]:
    return {b.get("extra_info", {}).get("key", b["name"]): b for b in bench.get("benchmarks", [])}


def _pairs(bench: dict, group: str) -> list[dict]:
    return [p for b in bench.get("benchmarks", []) if b.get("extra_info", {}).get("pair_group") == group
            for p in b["extra_info"].get("pairs", [])]


def _median_ratio(pairs: list[dict], ratio) -> tuple[float, int, float, float] | None:
    """Median, count, min and max of ``ratio(pair)`` over the pairs that have what it needs."""
    values = []
    for p in pairs:
        try:
            values.append(ratio(p))
        except (KeyError, ZeroDivisionError):
            pass
    return (float(np.median(values)), len(values), min(values), max(values)) if values else None


def speed_ratios(bench: dict) -> list[str]:
    """The derived figures and the issue's goals, one sentence each.

    Each ratio is given three ways. "Inside one call" compares parts of the same call
    (encode time within ``embed_texts``; time within MLflow calls within a trial), so load
    that drifts between calls cannot bias it: it decides the goal. "Interleaved pairs"
    compares the two variants run back to back; "minima" compares pytest-benchmark's best rounds.
    """
    out, by = [], _by_key(bench)
    embed, bare = by.get("embed_texts"), by.get("bare_encode")
    if embed and bare:
        pairs = _pairs(bench, "embedding")
        inside = _median_ratio(pairs, lambda p: p["encode_inside_embed_texts"] / p["embed_texts"])
        paired = _median_ratio(pairs, lambda p: p["bare_encode"] / p["embed_texts"])
        ratio_min = bare["stats"]["min"] / embed["stats"]["min"]
        main = inside[0] if inside else ratio_min
        verdict = "met" if main >= EMBED_GOAL else f"MISSED by {EMBED_GOAL - main:.3f}"
        out.append(f"**Embedding throughput, `embed_texts` (cache off) / bare `SentenceTransformer.encode`**, same "
                   f"{embed['extra_info'].get('items', '?')} texts, same model object: "
                   + (f"**{inside[0]:.3f}** inside one call (encode time / `embed_texts` time, median of "
                      f"{inside[1]} calls); " if inside else "")
                   + (f"{paired[0]:.3f} from {paired[1]} interleaved pairs (range {paired[2]:.3f}-{paired[3]:.3f}); "
                      if paired else "")
                   + f"{ratio_min:.3f} from the minima. Goal >= {EMBED_GOAL}: {verdict}.")
    hit = by.get("embed_cache_hit")
    if hit and embed:
        per_text_miss = embed["stats"]["median"] / embed["extra_info"]["items"]
        out.append(f"**Cache hit** on {hit['extra_info']['items']:,} texts: {_seconds(hit['stats']['median'])} "
                   f"(encoding them would take about {_seconds(per_text_miss * hit['extra_info']['items'])} "
                   f"at the rate above).")
    ae1, ae_default = by.get("ae_epoch_1_thread"), by.get("ae_epoch_default_threads")
    if ae1 and ae_default:
        out.append(f"**Threads**: an AE epoch with torch's default of "
                   f"{ae_default['extra_info'].get('threads')} threads took "
                   f"{ae_default['stats']['median'] / ae1['stats']['median']:.2f}x as long as with 1 thread "
                   f"(medians, same run).")
    dec0 = by.get("dec_fit_0_epochs")
    decn = next((b for k, b in by.items() if k.startswith("dec_fit_") and b["extra_info"].get("epochs")), None)
    if dec0 and decn:
        n_epochs = decn["extra_info"]["epochs"]
        by_difference = (decn["stats"]["median"] - dec0["stats"]["median"]) / n_epochs
        gap = decn["extra_info"].get("epoch_gap_s")
        rows = decn["extra_info"].get("rows", decn["extra_info"].get("items", 0))
        out.append(f"**DEC epoch** on {rows:,} x 384, batch 64: "
                   + (f"{_seconds(gap)} (median gap between epoch callbacks); " if gap else "")
                   + f"{_seconds(by_difference)} (fit with {n_epochs} epochs minus fit with 0, over {n_epochs}; "
                   f"medians).")
    tracked, untracked = by.get("trial_tracked"), by.get("trial_untracked")
    if tracked and untracked:
        pairs = _pairs(bench, "trial")
        inside = _median_ratio(pairs, lambda p: p["trial_tracked"] / (p["trial_tracked"] - p["seconds_in_mlflow"]))
        spent = _median_ratio(pairs, lambda p: p["seconds_in_mlflow"])
        paired = _median_ratio(pairs, lambda p: p["trial_tracked"] / p["trial_untracked"])
        ratio_min = tracked["stats"]["min"] / untracked["stats"]["min"]
        main = inside[0] if inside else ratio_min
        verdict = "met" if main <= TRACKING_GOAL else f"MISSED by {main - TRACKING_GOAL:.3f}"
        out.append(f"**Tracking overhead, one Optuna trial with MLflow / without** "
                   f"({tracked['extra_info'].get('description', '')}): "
                   + (f"**{inside[0]:.3f}** inside one trial (trial time / trial time less the "
                      f"{_seconds(spent[0])} spent in MLflow calls, median of {inside[1]} tracked trials); "
                      if inside else "")
                   + (f"{paired[0]:.3f} from {paired[1]} interleaved pairs (range {paired[2]:.3f}-{paired[3]:.3f}); "
                      if paired else "")
                   + f"{ratio_min:.3f} from the minima. Goal <= {TRACKING_GOAL}: {verdict}.")
    return out


def speed_markdown(bench: dict) -> str:
    parts = [_machine_line(bench.get("bench_machine")), markdown_table(speed_rows(bench))]
    ratios = speed_ratios(bench)
    if ratios:
        parts.append("\n".join(f"- {line}" for line in ratios))
    return "\n\n".join(p for p in parts if p)


# -- scale ------------------------------------------------------------------------------------
def scale_markdown(result: dict) -> str:

    settings = result.get("settings", {})
    note = (f"7,600 rows: the real AG News test embeddings. Larger sizes: **synthetic** Gaussian-mixture "
            f"embeddings ({result.get('synthetic_source', '')}), L2-normalised. Each size runs in its own "
            f"process; peak RSS is that process's `ru_maxrss`. DEC runs with `tol=0` so every epoch runs; "
            f"sizes above {settings.get('big_rows', 0):,} rows ran {settings.get('big_pretrain_epochs')} AE + "
            f"{settings.get('big_epochs')} DEC epochs instead of {settings.get('pretrain_epochs')} + "
            f"{settings.get('epochs')} to keep the run short: compare the per-row-epoch columns across sizes. "
            f"Growth exponents are against the previous size (n^1.00 = linear). Evaluate = ACC/NMI/ARI/purity "
            f"+ silhouette on a 10,000-row sample + Davies-Bouldin + Calinski-Harabasz in the 384-d space.")
    lines = "\n".join(f"- {g}" for g in goals(result["records"]))
    return "\n\n".join([_machine_line(result.get("machine")), note, markdown_table(scale_table(result["records"])),
                        lines])


# -- quality ------------------------------------------------------------------------------------
QUALITY_HEADERS = {"acc": "ACC", "nmi": "NMI", "ari": "ARI", "purity": "purity",
                   "silhouette_sbert": "silhouette, SBERT space (cosine)", "silhouette_own": "silhouette, own space"}


def quality_rows(dataset: dict, methods: dict, own_space: dict) -> list[dict]:
    """``mean ± std`` per method over seeds, then the published figures."""

    rows = []
    for method, runs in dataset["runs"].items():
        s = summarise(runs)
        row = {"method": methods.get(method, method), "seeds": str(s["n_seeds"])}
        for col, header in QUALITY_HEADERS.items():
            row[header] = f"{s[col + '_mean']:.3f} ± {s[col + '_std']:.3f}" if col + "_mean" in s else "-"
        row["own space"] = own_space.get(method, "")
        row["fit time"] = f"{s['fit_s_mean']:.1f} ± {s['fit_s_std']:.1f} s" if "fit_s_mean" in s else "-"
        row["peak RSS"] = f"{s['peak_rss_mib_max']:.0f} MiB" if "peak_rss_mib_max" in s else "-"
        rows.append(row)
    from experiments.report import PUBLISHED

    for pub in (p for p in PUBLISHED if p["corpus"] == "ag_news" and p["source"] in ("seed report", "SCCL (Zhang et al., NAACL 2021)")):
        name = f"{pub['source']}, {pub['method']} ({pub['data']})" if "method" in pub else f"{pub['source']}, {pub['data']}"
        row = {"method": f"published: {name}", "seeds": ""}
        for col, header in QUALITY_HEADERS.items():
            row[header] = pub.get("silhouette" if col == "silhouette_own" else col, "")
        row["own space"] = "not stated" if pub["source"] == "seed report" else ""
        rows.append(row)
    return rows


# The project's target for label-free clustering of the AG News test split (issue 6).
GOAL = {"acc": 0.89, "nmi": 0.70}


def goal_line(dataset: dict, methods: dict) -> str:
    """How far the best row (by mean ACC, 5 seeds or more) is from ``GOAL``; "" if none qualifies."""

    scored = [(summarise(runs), m) for m, runs in dataset["runs"].items() if len(runs) >= 5]
    if not scored:
        return ""
    s, method = max(scored, key=lambda pair: pair[0].get("acc_mean", float("-inf")))
    gaps = {k: target - s[f"{k}_mean"] for k, target in GOAL.items()}
    verdict = "met" if all(g <= 0 for g in gaps.values()) else "not met: short by " + ", ".join(
        f"{g:.3f} {k.upper()}" for k, g in gaps.items() if g > 0)
    return (f"Goal: label-free ACC >= {GOAL['acc']} and NMI >= {GOAL['nmi']}, mean of 5 seeds. Best row here: "
            f"{methods.get(method, method)}, ACC {s['acc_mean']:.3f} / NMI {s['nmi_mean']:.3f}: {verdict}.")


def quality_markdown(result: dict) -> str:
    parts = [_machine_line(result.get("machine"))]
    tuned = result.get("tuned")
    if tuned:
        shown = ", ".join(f"{k}={v}" for k, v in tuned["params"].items())
        parts.append(f"Tuned best: {tuned['source']}. Parameters: {shown}.")
    for d in result["datasets"]:
        parts.append(f"**{d['name']}**, mean ± std over seeds (fit time per seed on this machine; peak RSS: the "
                     "benchmark process' peak after the method's last fit, an upper bound):\n\n"
                     + markdown_table(quality_rows(d, result.get("methods", {}), result.get("own_space", {}))))
        if d.get("key") == "test":
            parts.append(goal_line(d, result.get("methods", {})))
        commands: dict[str, list[str]] = {}
        for method, info in (d.get("provenance") or {}).items():
            key = (f"`{info.get('command')}` ({info.get('date')}, {info.get('torch_threads')} torch thread(s), "
                   f"load average {(info.get('load_average') or ['?'])[0]})")
            commands.setdefault(key, []).append(result.get("methods", {}).get(method, method))
        if len(commands) > 1:
            parts.append("These rows come from more than one run (`--merge 1`):\n\n"
                         + "\n".join(f"- {', '.join(methods)}: {key}" for key, methods in commands.items()))
    if result.get("total_s"):
        parts.append(f"The quality part took {result['total_s'] / 60:.1f} min; MLflow experiment "
                     f"`{result.get('config', {}).get('experiment_name', 'benchmark')}`, parent run "
                     f"`{result.get('mlflow_run_id', '?')}`.")
    return "\n\n".join(p for p in parts if p)


# -- selection ----------------------------------------------------------------------------------
SELECTION_ROWS = ("SBERT + KMeans", "DEC (seed report settings)", "IDEC (seed report settings)",
                  "study's best trial", "oracle trial (labels)")
_OLD_NAMES = {"default champion": "study's best trial"}  # results written before the rename


def suite_champion(rows: dict) -> str:
    """The row ``mlflow run .`` registers among MiniLM + KMeans, the study's best trial and the
    seed report's DEC, by the suite's own rule (``entry_points._best_candidate``)."""
    from experiments.config import RunConfig
    from experiments.entry_points import _best_candidate

    candidates = {name: ([{"objective": r["objective"] if "objective" in r else r["silhouette"]} for r in rows[name]], [], "")
                  for name in ("SBERT + KMeans", "study's best trial", "DEC (seed report settings)")}
    return _best_candidate(RunConfig(), candidates)


def _mean_std(runs: list[dict], key: str) -> str:
    values = [r[key] for r in runs]
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def selection_markdown(cases: list[dict]) -> str:
    """The starting-point table, the score-correlation table and the verdicts, one row per case."""
    if not cases:
        return ""
    quality, rhos, deltas = [], [], []
    labels = {key: label for c in cases for key, label in c.get("score_labels", {}).items()}
    for c in cases:
        rows = {_OLD_NAMES.get(name, name): runs for name, runs in c["rows"].items()}
        row = {"case": c["case"], "texts": f"{c['n_texts']:,}", "k": c["k"], "trials": len(c.get("trials", []))}
        for name in SELECTION_ROWS:
            row[name] = f"{_mean_std(rows[name], 'acc')} / {_mean_std(rows[name], 'nmi')}"
        row["study's best trial"] += f" (#{c['champion']['number']} {c['champion']['params'].get('method')})"
        chosen = suite_champion(rows)
        km, ch = rows["SBERT + KMeans"], rows[chosen]
        delta = {m: float(np.mean([r[m] for r in ch]) - np.mean([r[m] for r in km])) for m in ("acc", "nmi")}
        deltas.append((c["case"], delta))
        row["champion"] = chosen
        row["champion - KMeans (ACC / NMI)"] = f"{delta['acc']:+.3f} / {delta['nmi']:+.3f}"
        row["median trial ACC"] = f"{c['median_trial_acc']:.3f}"
        row["default study"] = _seconds(c["default_study_s"])
        quality.append(row)
        for key, r in c["correlations"].items():
            rhos.append({"case": c["case"], "score": labels.get(key, key),
                         "rho ACC (all)": f"{r['rho_acc']:+.2f}", "rho NMI (all)": f"{r['rho_nmi']:+.2f}",
                         "rho ACC (best quarter)": f"{r['rho_acc_top']:+.2f}",
                         "rho NMI (best quarter)": f"{r['rho_nmi_top']:+.2f}",
                         "ACC of its pick": f"{r['picked_acc']:.3f}", "gap to best trial": f"{r['gap_acc']:.3f}"})
    below = [f"{case} ({d['acc']:+.3f} ACC, {d['nmi']:+.3f} NMI)" for case, d in deltas
             if d["acc"] < -0.005 or d["nmi"] < -0.005]
    mean_delta = {m: float(np.mean([d[m] for _, d in deltas])) for m in ("acc", "nmi")}
    worst = []
    for key in dict.fromkeys(k for c in cases for k in c["correlations"]):
        label = labels.get(key, key)
        values = [c["correlations"][key] for c in cases if key in c["correlations"]]
        if values:
            worst.append({"score": label, "cases": len(values),
                          "worst rho ACC (all)": f"{np.nanmin([v['rho_acc'] for v in values]):+.2f}",
                          "worst rho NMI (all)": f"{np.nanmin([v['rho_nmi'] for v in values]):+.2f}",
                          "mean gap of its pick to the best trial (ACC)":
                              f"{np.nanmean([v['gap_acc'] for v in values]):.3f}"})
    first = cases[0]
    loads = [c["machine"]["load_average"][0] for c in cases if (c.get("machine") or {}).get("load_average")]
    parts = [_machine_line(first.get("machine"))
             + (f" The cases ran as parallel processes; load averages at their ends {min(loads):.1f}-{max(loads):.1f}, "
                "so times are those of a busy machine." if len(loads) > 1 else ""),
             f"Per case: the default study (search space, sampler, pruner, queued first trials and objective of "
             f"`mlflow run .`, untracked) run to the completed trials in column 'trials'; the **study's best "
             f"trial** is its best by the objective among the first {first['config']['default_trials']} (what the "
             f"default study picks), the **oracle** its best trial by ACC (labels read for this row only); each "
             f"refitted with {first['config']['n_seeds']} seeds (ACC / NMI, mean ± std). The **champion** is the row "
             f"`mlflow run . -P n_seeds={first['config']['n_seeds']}` registers: MiniLM + KMeans, unless the study's "
             f"best trial or the seed report's DEC has a better mean objective over the seeds by more than the "
             f"standard error of the difference. 'default study' is the "
             f"wall time of those first trials on this machine, pruned ones included.",
             markdown_table(quality),
             f"Champion below MiniLM + KMeans by more than 0.005 ACC or NMI: "
             f"{', '.join(below) if below else 'no case'}. Mean over the {len(deltas)} cases: "
             f"{mean_delta['acc']:+.3f} ACC, {mean_delta['nmi']:+.3f} NMI.",
             "Label-free scores against quality, every completed trial of each study (Spearman's rho; 'best "
             "quarter' = the trials with the top quarter of ACC; 'its pick' = the trial the score ranks first):",
             markdown_table(worst), "<details><summary>per case</summary>\n\n" + markdown_table(rhos) + "\n\n</details>"]
    return "\n\n".join(parts)


# -- embedding precision --------------------------------------------------------------------------
_CORPUS_NAMES = {"ag_news": "AG News", "stackoverflow": "StackOverflow", "biomedical": "Biomedical"}


# -- embeddings (benchmarks.embeddings) -------------------------------------------------------------
ROUTES = {
    "bare": "bare SentenceTransformer.encode (float32)",
    "float32": "embed_texts, precision='float32' (the default)",
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
                row[f"{_CORPUS_NAMES.get(c, c)} ACC / NMI (vs float32)"] = (
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
            row[f"{_CORPUS_NAMES.get(c, c)} ACC / NMI (vs float32)"] = (
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


def embeddings_markdown(result: dict) -> str:
    cfg = result["config"]
    n = ", ".join(f"{_CORPUS_NAMES.get(c, c)} {result['n_texts'][c]:,}" for c in cfg["corpus_list"])
    parts = [_machine_line(result.get("machine")),
             f"Speed: {cfg['timing_texts']:,} seeded texts per corpus, every route on the same texts in each of "
             f"{cfg['rounds']} rounds (order rotating); 'x bare encode' is the median (and range) over rounds and "
             f"corpora of bare-encode time / route time within one round; texts/s is over the three samples together. "
             f"Quality: every text of each corpus ({n}), MiniLM + KMeans (`EmbeddingKMeans`, k = the true number of "
             f"classes, n_init 10) with seeds 0-{cfg['n_seeds'] - 1}, mean ACC / NMI; in brackets the change from "
             f"float32 ± its standard error, the runs paired by seed (sd of the per-seed differences / sqrt(seeds)); "
             f"'95% intervals inside' asks whether every change ± 1.96 SE lies inside ±{QUALITY_TOLERANCE}. "
             f"Cosine: each text's embedding against the bare encode's, over the timing samples.",
             markdown_table(embeddings_rows(result)),
             "\n".join(f"- {line}" for line in embeddings_verdicts(result))]
    return "\n\n".join(parts)


# -- RESULTS.md ---------------------------------------------------------------------------------
COMMANDS = """\
```sh
make bench                       # every part: python -m benchmarks
# or one part at a time (each regenerates this file):
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks --parts speed     # pytest-benchmark, JSON in benchmarks/results/speed.json
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.fit_speed         # DEC/IDEC fit, code before issue 13 vs now, seeds 0-4, one process per fit
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.training_precision  # DEC/IDEC trained in float32 vs bfloat16 products, 3 corpora, 5 seeds
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.scale             # 7,600 .. 1,000,000 rows
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.quality           # >= 5 seeds, logged to MLflow experiment `benchmark`
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.selection         # the study before the cross-view objective: AG News, StackOverflow, Biomedical x full, 1,000
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.criteria          # 14 cases x 12 candidates: each label-free criterion's rho, regret, gold rank (~30 min)
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.default_run       # the default main run on each of those cases: champion against MiniLM + KMeans (~1 h)
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.embeddings        # embedding precisions: speed vs a bare encode, ACC/NMI on the three corpora
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.run_speed         # the default `make run`, cold: code before the cross-view objective vs now, champion reloaded
BENCH_THREADS=0 HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.blas_threads  # a run's steps with numpy/scipy's BLAS at its default threads vs one
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.sota              # MiniLM + KMeans, DEC, PseudoLabelClusterer x 3 corpora (+ long-tailed), 5 seeds (~20 min)
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.imbalance_probe --seeds 2   # pseudo-labelling's size prior on steep long tails and 44-topic Zipf sets (~40 min)
HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.pseudolabel_speed  # PseudoLabelClusterer fit time and peak RSS, code at dd9dcab vs now, 3 corpora and k=89/152 (~25 min)
BENCH_THREADS=2 HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.quality --methods sbert,selftrain --datasets test --merge 1   # + self-training rows (~30 min)
mlflow run . -e benchmark --env-manager local --experiment-name benchmark   # the quality part as an MLflow entry point
# compare a new speed run with the last saved one:
.venv/bin/python -m pytest benchmarks/test_speed.py --benchmark-autosave --benchmark-compare
```
`BENCH_THREADS` (or `python -m benchmarks --threads N`) sets the threads per process: 1 by default
(see `benchmarks/common.py` for why), 0 for the libraries' defaults."""


def run_speed_markdown(result: dict) -> str:
    """The default run before and after a change: wall time, peak RSS, trials, champion, the printed table."""
    rows = []
    for i, pair in enumerate(result["pairs"]):
        for version in ("before", "now"):
            r = pair[version]
            row = {"pair": str(i + 1), "code": version, "wall": _seconds(r["wall_s"]),
                   "peak RSS": f"{r['peak_rss_mib']:.0f} MiB", "trials run": str(r["trials"]),
                   "skipped": str(r.get("skipped", "")),
                   "champion": r["champion"].removeprefix("champion: ").split(" (best")[0]}
            if "check" in r:
                c = r["check"]
                row["registered ACC / NMI"] = f"{c['registered_acc']:.3f} / {c['registered_nmi']:.3f}"
                row["reloaded, raw texts"] = f"{c['reloaded_acc']:.3f} / {c['reloaded_nmi']:.3f}"
            rows.append(row)
    ratios = [p["ratio"] for p in result["pairs"]]
    if "limit_s" in result:
        worst = max(p["now"]["wall_s"] for p in result["pairs"])
        verdict = (f"Slowest run now {_seconds(worst)} against a limit of {_seconds(result['limit_s'])}: "
                   f"{'met' if worst <= result['limit_s'] else 'NOT met'}.")
    else:  # results saved before the limit was the goal
        verdict = f"Goal {result['goal']}x: {'met' if min(ratios) >= result['goal'] else 'NOT met'}."
    last = result["pairs"][-1]
    tables = "\n\n".join(f"Comparison table printed by the {v} run (last pair):\n\n" + "\n".join(last[v]["table"])
                          for v in ("before", "now"))
    return "\n\n".join([
        _machine_line(result.get("machine")),
        f"`mlflow run . -P data=ag_news_test` (5,000 balanced articles, 10 trials, 3 seeds) in a fresh folder with "
        f"an empty embedding cache, code at `{result['baseline'][:7]}` (before) and now, alternating. Before / now, "
        f"per pair: {', '.join(f'{r:.2f}x' for r in ratios)}. {verdict} \"reloaded\": the registered champion loaded "
        "in a new process, clustering the same articles from their raw text.",
        markdown_table(rows), tables])


# -- fit speed (benchmarks.fit_speed) ----------------------------------------------------------------
GOAL_SPEEDUP = 1.7  # issue 13: DEC/IDEC fit time before / after, at least
GOAL_METRIC_DELTA = 0.005  # |after - before| in mean ACC and NMI, at most


def _precision_note(result: dict) -> str:
    """What today's code trained in (results from before precisions existed: float32)."""
    used = sorted({r.get("precision", "float32") for r in result.get("runs", []) if r["version"] == "after"})
    asked = result.get("precision")
    return (f"Today's code trained in {' and '.join(used) or 'float32'}"
            + (f" (`precision={asked!r}`)" if asked else "") + "; the code before issue 13 in float32. ")


def fit_speed_markdown(result: dict) -> str:
    """The RESULTS.md section for a ``fit_speed.json``."""
    rows, lines = [], []
    for model, s in result["summary"].items():
        for v in ("before", "after"):
            rows.append({"model": model.upper(), "code": f"{v} ({result['baseline'][:7]})" if v == "before" else v,
                         "fit time (mean)": f"{s[f'fit_s_{v}']:.2f} s", "CPU time (mean)": f"{s[f'cpu_s_{v}']:.2f} s", "ACC (mean)": f"{s[f'acc_{v}']:.4f}",
                         "NMI (mean)": f"{s[f'nmi_{v}']:.4f}", "peak RSS (mean)": f"{s[f'peak_rss_mib_{v}']:.0f} MiB",
                         "RSS rise in fit (mean)": f"{s[f'fit_rss_rise_mib_{v}']:.0f} MiB",
                         "speed-up, wall (median of pairs)": f"**{s['median_ratio']:.2f}x**" if v == "after" else "",
                         "speed-up, CPU time": f"{s['median_cpu_ratio']:.2f}x" if v == "after" else ""})
        met = (s["median_ratio"] >= GOAL_SPEEDUP and abs(s["acc_after"] - s["acc_before"]) <= GOAL_METRIC_DELTA
               and abs(s["nmi_after"] - s["nmi_before"]) <= GOAL_METRIC_DELTA
               and s["peak_rss_mib_after"] <= s["peak_rss_mib_before"])
        lines.append(
            f"- **{model.upper()}**: {s['median_ratio']:.2f}x faster (median of {len(s['ratios'])} interleaved pairs, "
            f"range {min(s['ratios']):.2f}-{max(s['ratios']):.2f}; ratio of means {s['ratio_of_means']:.2f}; "
            f"{s['median_cpu_ratio']:.2f}x in CPU time); "
            f"ACC {s['acc_after'] - s['acc_before']:+.4f}, NMI {s['nmi_after'] - s['nmi_before']:+.4f}; "
            f"peak RSS {s['peak_rss_mib_after'] - s['peak_rss_mib_before']:+.0f} MiB. "
            f"Against ClustPy (through issue 13's 11.8 s / 9.5 s, measured at 2 threads): "
            f"{s['after_over_clustpy']:.2f}x its wall time. "
            f"Goal >= {GOAL_SPEEDUP}x, ACC/NMI within {GOAL_METRIC_DELTA}, same peak memory or less: "
            f"{'met' if met else 'not met'}.")
    return "\n\n".join([_machine_line(result["machine"]),
                        f"Each fit in its own process, before/after interleaved; before = commit `{result['baseline'][:7]}` "
                        "(read with `git show`). Peak RSS is the process's `ru_maxrss` after the fit (imports and data "
                        "included); the rise is how far the fit lifted it. CPU time is the process's over the fit, all "
                        "threads: with one thread and a busy machine it tracks the idle machine's wall time better than "
                        "wall time does. Seeds: "
                        f"{', '.join(map(str, result['seeds']))}. "
                        + _precision_note(result)
                        + ("Each process imported `torch._dynamo` before its fit (`--dynamo-loaded`): the state of a "
                           "process that has already built a `torch.optim` optimizer; the code before issue 13 no longer "
                           "pays that import inside its fit." if result.get("dynamo_loaded") else
                           "Fresh processes: the code before issue 13 pays `torch.optim`'s import of `torch._dynamo` "
                           "(about a second) inside its fit; today's code never imports it. `--dynamo-loaded` measures "
                           "without that difference."),
                        markdown_table(rows), "\n".join(lines)])


# -- training precision (benchmarks.training_precision) ---------------------------------------------
def training_precision_markdown(result: dict) -> str:
    """Per (corpus, model): ACC/NMI in float32 and bfloat16 training, paired differences, time ratio."""
    rows, verdicts = [], []
    for case in result["cases"].values():
        s, n = case["summary"], len(case["runs"]["float32"])
        row = {"corpus": _CORPUS_NAMES.get(case["corpus"], case["corpus"]), "texts": f"{case['n_texts']:,}",
               "model": case["model"].upper(), "seeds": n}
        for p in ("float32", "bfloat16"):
            row[f"ACC {p}"] = f"{s[f'acc_{p}']:.4f} ± {s[f'acc_{p}_std']:.4f}"
            row[f"NMI {p}"] = f"{s[f'nmi_{p}']:.4f} ± {s[f'nmi_{p}_std']:.4f}"
        for key in ("acc", "nmi"):
            row[f"{key.upper()} bf16 - fp32 (paired, ± s.e.)"] = f"{s[f'{key}_diff']:+.4f} ± {s[f'{key}_diff_se']:.4f}"
        row["fit s fp32 / bf16"] = f"{s['seconds_float32']:.2f} / {s['seconds_bfloat16']:.2f} ({s['speedup']:.2f}x)"
        rows.append(row)
        worse = [k.upper() for k in ("acc", "nmi") if s[f"{k}_diff"] < -GOAL_METRIC_DELTA]
        better = [k.upper() for k in ("acc", "nmi") if s[f"{k}_diff"] > GOAL_METRIC_DELTA]
        verdict = (f"does NOT hold the quality: {' and '.join(worse)} worse by more than {GOAL_METRIC_DELTA}" if worse
                   else f"holds the quality: no worse, {' and '.join(better)} better by more than {GOAL_METRIC_DELTA}"
                   if better else f"holds the quality: within {GOAL_METRIC_DELTA} in ACC and NMI")
        verdicts.append(f"- {row['corpus']} {row['model']}: {verdict} (mean of paired differences)")
    return "\n\n".join([
        _machine_line(result.get("machine")),
        "The seed report's DEC and IDEC settings, k = the true number of classes, cached MiniLM embeddings; each "
        "seed fitted in both precisions, interleaved, in one process (every fit pays its own pretraining). "
        "bfloat16 = the training's matrix products in bfloat16, accumulated in float32; weights, Adam, losses "
        "and targets in float32. Differences are paired by seed (same seed, same initial weights).",
        markdown_table(rows), "\n".join(verdicts)])


# -- sota (benchmarks.sota) ------------------------------------------------------------------------
SOTA_METHODS = {"kmeans": "MiniLM + KMeans", "dec": "DEC (seed report settings)",
                "pseudolabel": "pseudo-labelling (PseudoLabelClusterer defaults)"}
STAGE = "two views + k-means (pseudo-labelling's first stage)"
UNGUARDED = "pseudo-labelling, rounds always kept (select=None)"
GOALS = {"ag_news": {"acc": 0.89, "nmi": 0.70}, "stackoverflow": {"acc": 0.84}, "biomedical": {"acc": 0.55}}  # issue 14


def sota_markdown(result: dict) -> str:
    """Per corpus: ACC / NMI mean ± std over seeds, time per seed and peak RSS per method."""
    from experiments.report import PUBLISHED

    published = {}
    for pub in PUBLISHED:
        if pub["source"] != "seed report":
            figures = " / ".join(pub[m] for m in ("acc", "nmi") if m in pub)
            published.setdefault(pub["corpus"], []).append(f"{pub['source'].split(' (')[0]} {figures}")
    METHODS = SOTA_METHODS

    rows, goals, deltas = [], [], []
    for key, case in result["cases"].items():
        order = [METHODS["kmeans"], METHODS["dec"], STAGE, UNGUARDED, METHODS["pseudolabel"]]
        for name, row in sorted(case["rows"].items(), key=lambda item: order.index(item[0]) if item[0] in order else 99):
            runs = row["runs"]
            secs = [r["seconds"] for r in runs if "seconds" in r]
            rows.append({"corpus": key, "texts": f"{case['n_texts']:,}", "k": case["k"], "method": name,
                         "seeds": len(runs), "ACC": _mean_std(runs, "acc"), "NMI": _mean_std(runs, "nmi"),
                         "s / seed": f"{np.mean(secs):.1f} ± {np.std(secs):.1f}" if secs else "(same fits)",
                         "s / 10k texts": f"{np.mean(secs) * 1e4 / case['n_texts']:.1f}" if secs else "",
                         "peak RSS MiB": f"{row['peak_rss_mib']:.0f}" if secs else ""})
        ours = case["rows"].get(METHODS["pseudolabel"])
        if ours and not case.get("imbalanced") and case["corpus"] in GOALS:
            got = {m: float(np.mean([r[m] for r in ours["runs"]])) for m in ("acc", "nmi")}
            gaps = ", ".join(f"{m.upper()} {got[m]:.3f} vs {g} ({got[m] - g:+.3f})" for m, g in GOALS[case["corpus"]].items())
            goals.append(f"- {key}: {gaps}; published (ACC / NMI): {'; '.join(published.get(case['corpus'], []))}")
        base = case["rows"].get(METHODS["kmeans"])
        if ours and base:
            mean = lambda row, m: float(np.mean([r[m] for r in row["runs"]]))  # noqa: E731
            deltas.append(f"- {key}: ACC {mean(ours, 'acc') - mean(base, 'acc'):+.3f}, "
                          f"NMI {mean(ours, 'nmi') - mean(base, 'nmi'):+.3f}")
    runs = result.get("commands") or {"": result.get("machine", {})}
    commands = "; ".join(f"`{m.get('command', 'python -m benchmarks.sota')}` ({m.get('date', '?')}, "
                         f"{m.get('torch_threads', '?')} torch thread(s), load average "
                         f"{(m.get('load_average') or ['?'])[0]})" for m in runs.values())
    head = (f"{commands}. Each method's seeds run in one "
            "child process; its peak RSS covers data, embeddings and all its fits (an upper bound for one seed). "
            "Embeddings come from the on-disk cache and are not timed. Long-tailed rows: a seeded subset where "
            "class c keeps 0.1 ** (c / (k - 1)) of its texts.")
    parts = [head, markdown_table(rows), "Goals (mean of the seeds, pseudo-labelling defaults):\n" + "\n".join(goals)]
    if deltas:
        parts.append("Pseudo-labelling defaults against MiniLM + KMeans (means of the seeds):\n" + "\n".join(deltas))
    return "\n\n".join(parts)


def results_markdown(results_dir: Path = common.RESULTS_DIR) -> str:
    speed, scale, quality = (_read(f"{n}.json", results_dir) for n in ("speed", "scale", "quality"))
    bench_run = _read("bench_run.json", results_dir)
    parts = ["# Benchmark results",
             "_Generated by the scripts in `benchmarks/` from the raw results in `benchmarks/results/`; "
             "do not edit by hand: rerun them._"]
    if bench_run:
        took = ", ".join(f"{name} {s / 60:.1f} min" for name, s in bench_run["parts"].items())
        parts.append(f"The last `{bench_run['command']}` ({bench_run['date']}) took "
                     f"**{bench_run['total_s'] / 60:.0f} min** on this machine: {took}.")
    parts += ["## How to rerun", COMMANDS]
    parts += ["## Speed (pytest-benchmark)", speed_markdown(speed) if speed else "_not run yet_"]
    fit_speed = [json.loads(p.read_text()) for p in sorted(results_dir.glob("fit_speed*.json"))]
    if fit_speed:
        parts += ["## DEC and IDEC fit time: before and after issue 13", *map(fit_speed_markdown, fit_speed)]
    parts += ["## Scale and memory", scale_markdown(scale) if scale else "_not run yet_"]
    parts += ["## Quality", quality_markdown(quality) if quality else "_not run yet_"]
    sota = _read("sota.json", results_dir)
    if sota:
        parts += ["## Towards published numbers: three corpora, same defaults", sota_markdown(sota)]
    imbalance = _read("imbalance_probe.json", results_dir)
    if imbalance:
        from benchmarks import imbalance_probe

        parts += ["## Topics of very unequal size: pseudo-labelling's size prior (probe)",
                  imbalance_probe.markdown(imbalance)]
    pseudolabel_speed = _read("pseudolabel_speed.json", results_dir)
    if pseudolabel_speed:
        from benchmarks import pseudolabel_speed as pl_speed

        parts += ["## Pseudo-labelling fit time: before and after, up to 152 clusters", pl_speed.markdown(pseudolabel_speed)]
    criteria_results = [json.loads(p.read_text()) for p in sorted((results_dir / "criteria").glob("*.json"))]
    if criteria_results:
        from benchmarks import criteria

        parts += ["## Choosing without labels across spaces: each criterion against ACC, NMI and the gold probe",
                  criteria.markdown(criteria_results, criteria.STUDY_OBJECTIVE)]
    default_runs = [json.loads(p.read_text()) for p in sorted((results_dir / "default_run").glob("*.json"))]
    if default_runs:
        from benchmarks import default_run

        parts += ["## The default run on every case: its champion against MiniLM + KMeans",
                  default_run.markdown(default_runs)]
    selection = [json.loads(p.read_text()) for p in sorted((results_dir / "selection").glob("*.json"))]
    parts += ["## Label-free selection with the earlier objective (the MiniLM silhouette)",
              selection_markdown(selection) or "_not run yet_"]
    run_speed = _read("run_speed.json", results_dir)
    parts += ["## The default `make run`, cold: before and after",
              run_speed_markdown(run_speed) if run_speed else "_not run yet_"]
    blas = _read("blas_threads.json", results_dir)
    if blas:
        from benchmarks import blas_threads

        parts += ["## One BLAS thread: a run's steps at the default threads and at one", blas_threads.markdown(blas)]
    training_precision = _read("training_precision.json", results_dir)
    if training_precision:
        parts += ["## Training precision: DEC and IDEC in float32 and bfloat16",
                  training_precision_markdown(training_precision)]
    embeddings = _read("embeddings.json", results_dir)
    parts += ["## Embedding precision: speed against a bare encode, and what it costs in ACC/NMI",
              embeddings_markdown(embeddings) if embeddings else "_not run yet_"]
    return "\n\n".join(parts) + "\n"


def write_results_md(results_dir: Path = common.RESULTS_DIR, path: Path = common.RESULTS_MD) -> Path:
    path.write_text(results_markdown(results_dir))
    return path


MEMORY_GOAL_GB = 4.0  # for AG News' full size, 120,000 rows
MEMORY_GOAL_ROWS = 120_000


# -- the table ---------------------------------------------------------------------------
def _exponent(t1, t0, n1, n0):
    """Growth exponent b in t ~ n^b between two sizes; 1.0 is linear."""
    if not all(isinstance(v, (int, float)) and v > 0 and math.isfinite(v) for v in (t1, t0)) or n1 == n0:
        return None
    return math.log(t1 / t0) / math.log(n1 / n0)


def scale_table(records: list[dict]) -> list[dict]:
    """One row of display strings per size; growth exponents against the previous size."""
    rows, previous = [], None
    for r in sorted(records, key=lambda r: r["rows"]):
        data = "real AG News test" if r.get("data") == "real" else "synthetic mixture"
        if "failed" in r:
            rows.append({"rows": f"{r['rows']:,}", "data": data, "epochs AE+DEC": "-", "total s": r["failed"],
                         "peak RSS": _gb(r.get("peak_rss_mb"))})
            continue
        n = r["rows"]
        row = {
            "rows": f"{n:,}",
            "data": data,
            "epochs AE+DEC": f"{r['pretrain_epochs']}+{r['dec_epochs']}",
            "AE s/epoch": _num(r["ae_epoch_s"]),
            "DEC s/epoch": _num(r["dec_epoch_s"]),
            "KMeans init s": _num(r["kmeans_init_s"]),
            "evaluate s": _num(r["evaluate_s"]),
            "t-SNE s": _num(r["tsne_s"]) + f" ({r['tsne_points']:,} pts)",
            "total s": _num(r["total_s"]),
            "µs/row": _num(r["total_s"] / n * 1e6),
            "AE µs/row·epoch": _num(r["ae_epoch_s"] / n * 1e6),
            "DEC µs/row·epoch": _num(r["dec_epoch_s"] / n * 1e6),
            "growth AE/DEC/eval": "-",
            "peak RSS": _gb(r["peak_rss_mb"]),
            "ACC": _num(r.get("acc"), 3),
        }
        if previous is not None:
            exps = [_exponent(r[key], previous[key], n, previous["rows"])
                    for key in ("ae_epoch_s", "dec_epoch_s", "evaluate_s")]
            row["growth AE/DEC/eval"] = " / ".join("-" if e is None else f"n^{e:.2f}" for e in exps)
        rows.append(row)
        previous = r
    return rows


def goals(records: list[dict]) -> list[str]:
    """The issue's goals, each with what was measured."""
    out = []
    by_rows = {r["rows"]: r for r in records}
    full = by_rows.get(MEMORY_GOAL_ROWS)
    if full is not None:
        peak = full["peak_rss_mb"] / 1024
        verdict = "met" if peak <= MEMORY_GOAL_GB and "failed" not in full else "MISSED"
        out.append(f"{MEMORY_GOAL_ROWS:,} rows within {MEMORY_GOAL_GB:g} GB peak RSS: {verdict} ({peak:.2f} GB).")
    big = max(records, key=lambda r: r["rows"], default=None)
    if big is not None and big["rows"] >= 1_000_000:
        if "failed" in big:
            out.append(f"{big['rows']:,} rows: FAILED ({big['failed']}).")
        else:
            out.append(f"{big['rows']:,} rows completed in {big['process_s']:.0f} s with a peak RSS of "
                       f"{big['peak_rss_mb'] / 1024:.2f} GB ({big['peak_rss_mb'] * 2**20 / big['rows'] / 1024:.2f} KiB "
                       f"per row; the data alone is {384 * 4 / 1024:.2f} KiB per row).")
    ok = [r for r in sorted(records, key=lambda r: r["rows"]) if "failed" not in r]
    if len(ok) >= 2:
        first, last = ok[0], ok[-1]
        for key, name in (("ae_epoch_s", "AE epoch"), ("dec_epoch_s", "DEC epoch")):
            e = _exponent(last[key], first[key], last["rows"], first["rows"])
            if e is not None:
                out.append(f"{name} cost from {first['rows']:,} to {last['rows']:,} rows grows as n^{e:.2f} "
                           f"(linear = n^1.00).")
    return out


def _num(value, digits: int | None = None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if digits is not None:
        return f"{value:.{digits}f}"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"


def _gb(mb) -> str:
    return "-" if mb is None else f"{mb / 1024:.2f} GB"
