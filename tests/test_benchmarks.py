"""The benchmark scripts' measuring and table-making logic, on tiny inputs (the real runs are `make bench`)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # benchmarks/ is a folder of scripts, not an installed package
    sys.path.insert(0, str(REPO))

from benchmarks import common, embeddings, quality, report, run_speed, scale, selection, sota  # noqa: E402


def test_markdown_table_joins_columns_and_escapes_pipes():
    text = common.markdown_table([{"a": 1, "b": "x|y"}, {"a": 2, "c": 3}])
    assert text.splitlines() == ["| a | b | c |", "|---|---|---|", "| 1 | x\\|y |  |", "| 2 |  | 3 |"]
    assert common.markdown_table([]) == "(no rows)"


def test_synthetic_embeddings_are_unit_rows_in_equal_shares():
    means, stds = common.random_mixture_stats(d=16, k=4, seed=0)
    X, labels = common.synthetic_embeddings(1003, means, stds, seed=1, chunk=100)
    assert X.shape == (1003, 16) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert sorted(np.bincount(labels).tolist()) == [250, 251, 251, 251]
    X2, labels2 = common.synthetic_embeddings(1003, means, stds, seed=1, chunk=7)
    np.testing.assert_array_equal(labels, labels2)  # the chunk size does not change the labels


def test_balanced_subset_reuses_the_embeddings_of_its_texts(tmp_path):
    texts = ["a b", "c d", "e f", "g h"]
    csv = tmp_path / "tiny.csv"
    csv.write_text("label,text\n" + "".join(f"{i % 2},{t}\n" for i, t in enumerate(texts)))
    full = common.LabelledData("full", texts, np.array([0, 1, 0, 1]), np.arange(8, dtype=np.float32).reshape(4, 2))
    sub = common.balanced_subset(full, csv, n_per_class=1, seed=0)
    assert len(sub.texts) == 2 and sorted(sub.labels.tolist()) == [0, 1]
    for text, row in zip(sub.texts, sub.X):
        np.testing.assert_array_equal(row, full.X[texts.index(text)])


# -- scale ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scale_records():
    means, stds = common.random_mixture_stats(d=32, seed=0)
    records = []
    for n in (300, 600):
        X, labels = common.synthetic_embeddings(n, means, stds, seed=0)
        record = scale.run_size(X, labels, pretrain_epochs=2, epochs=2, tsne_points=40)
        record.update(data="synthetic", peak_rss_mb=1000.0, process_s=1.0)
        records.append(record)
    return records


def test_run_size_times_every_stage(scale_records):
    r = scale_records[0]
    assert (r["rows"], r["pretrain_epochs"], r["dec_epochs"], r["tsne_points"]) == (300, 2, 2, 40)
    for key in ("ae_epoch_s", "dec_epoch_s", "kmeans_init_s", "evaluate_s", "tsne_s"):
        assert 0 <= r[key] < r["total_s"], key
    assert 0 <= r["acc"] <= 1 and r["rss_after_tsne_mb"] >= r["rss_after_fit_mb"] > 0


def test_scale_table_reports_growth_against_the_previous_size():
    records = [{"rows": 1000, "data": "real", "pretrain_epochs": 2, "dec_epochs": 2, "ae_epoch_s": 1.0,
                "dec_epoch_s": 0.5, "kmeans_init_s": 0.1, "evaluate_s": 2.0, "tsne_s": 1.0, "tsne_points": 300,
                "total_s": 5.0, "acc": 0.9, "peak_rss_mb": 2048.0, "process_s": 6.0},
               {"rows": 120_000, "data": "synthetic", "failed": "exit code -9", "peak_rss_mb": 5120.0},
               {"rows": 4000, "data": "synthetic", "pretrain_epochs": 2, "dec_epochs": 2, "ae_epoch_s": 4.0,
                "dec_epoch_s": 4.0, "kmeans_init_s": 0.1, "evaluate_s": 2.0, "tsne_s": 1.0, "tsne_points": 300,
                "total_s": 13.0, "acc": 0.8, "peak_rss_mb": 3072.0, "process_s": 14.0}]
    rows = scale.scale_table(records)
    assert [r["rows"] for r in rows] == ["1,000", "4,000", "120,000"]
    assert rows[0]["growth AE/DEC/eval"] == "-"
    assert rows[1]["growth AE/DEC/eval"] == "n^1.00 / n^1.50 / n^0.00"  # 4x rows: 4x, 8x, 1x time
    assert rows[1]["AE µs/row·epoch"] == "1,000" and rows[1]["peak RSS"] == "3.00 GB"
    assert rows[2]["total s"] == "exit code -9"
    goals = scale.goals(records)
    assert goals[0] == "120,000 rows within 4 GB peak RSS: MISSED (5.00 GB)."
    assert "grows as n^1.00" in goals[1] and "grows as n^1.50" in goals[2]


def test_scale_markdown_renders_real_records(scale_records):
    text = scale.markdown({"records": scale_records, "settings": {"big_rows": 200_000}})
    assert "| 300 | synthetic mixture | 2+2 |" in text and "n^" in text


# -- speed ----------------------------------------------------------------------------------------
def _bench(key, median, *, minimum=None, **info):
    stats = {"min": minimum or median, "median": median, "mean": median, "stddev": 0.0, "rounds": 2}
    return {"name": f"test_{key}", "stats": stats, "extra_info": {"key": key, "label": key, **info}}


FAKE_SPEED = {"benchmarks": [
    _bench("embed_texts", 2.0, items=100, unit="texts", pair_group="embedding",
           pairs=[{"bare_encode": 2.1, "embed_texts": 2.0, "encode_inside_embed_texts": 1.98}]),
    _bench("bare_encode", 2.0, items=100, unit="texts", pair_group="embedding",
           pairs=[{"embed_texts": 2.2, "encode_inside_embed_texts": 2.2 * 0.99, "bare_encode": 2.0}]),
    _bench("embed_cache_hit", 0.01, items=7600, unit="texts"),
    _bench("ae_epoch_1_thread", 1.0, threads=1),
    _bench("ae_epoch_default_threads", 3.0, threads=2),
    _bench("dec_fit_0_epochs", 1.0, epochs=0, items=7600),
    _bench("dec_fit_5_epochs", 3.5, epochs=5, epoch_gap_s=0.45, items=7600),
    _bench("trial_tracked", 11.0, pair_group="trial", description="tiny",
           pairs=[{"trial_untracked": 10.0, "trial_tracked": 11.0, "seconds_in_mlflow": 1.0}]),
    _bench("trial_untracked", 10.0, pair_group="trial",
           pairs=[{"trial_tracked": 12.0, "seconds_in_mlflow": 2.0, "trial_untracked": 10.0}]),
]}


def test_speed_ratios_decide_goals_from_within_call_measurements():
    lines = report.speed_ratios(FAKE_SPEED)
    embed, hit, threads, dec, trial = lines
    assert "**0.990** inside one call" in embed and "Goal >= 0.95: met" in embed
    assert "1.000 from the minima" in embed
    assert "10.0 ms" in hit and "152 s" in hit
    assert "3.00x" in threads
    assert "450.0 ms (median gap" in dec and "500.0 ms (fit with 5 epochs" in dec
    # 11/(11-1) = 1.1 and 12/(12-2) = 1.2: median 1.15
    assert "**1.150** inside one trial" in trial and "MISSED by 0.100" in trial


def test_speed_rows_show_throughput():
    rows = report.speed_rows(FAKE_SPEED)
    assert rows[0]["throughput (median)"] == "50 texts/s" and rows[0]["median"] == "2.00 s"


# -- quality --------------------------------------------------------------------------------------
def test_summarise_gives_population_std_and_skips_nan():
    s = quality.summarise([{"acc": 0.5, "silhouette_own": float("nan")}, {"acc": 0.7, "silhouette_own": 0.2}])
    assert s["n_seeds"] == 2 and s["acc_mean"] == pytest.approx(0.6) and s["acc_std"] == pytest.approx(0.1)
    assert s["silhouette_own_mean"] == 0.2 and "nmi_mean" not in s


def test_fit_and_score_measures_both_spaces():
    from sklearn.datasets import make_blobs

    X, y = make_blobs(200, n_features=8, centers=4, random_state=0)
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    words = ["alpha beta", "gamma delta", "epsilon zeta", "eta theta"]
    data = common.LabelledData("blobs", [words[c] + f" w{i % 7}" for i, c in enumerate(y)], y, X)
    for method in ("kmeans", "tfidf"):
        r = quality.fit_and_score(method, data, seed=0)
        assert set(r) == set(quality.COLUMNS)
        assert r["acc"] == pytest.approx(1.0) and r["fit_s"] >= 0
    assert r["silhouette_own"] != r["silhouette_sbert"]  # tf-idf space differs from the SBERT one


def test_quality_table_and_results_md(tmp_path, scale_records):
    runs = {"kmeans": [{"acc": 0.8, "nmi": 0.6, "ari": 0.6, "purity": 0.8, "silhouette_sbert": 0.06,
                       "silhouette_own": 0.06, "fit_s": 1.0}] * 2}
    result = {"datasets": [{"key": "test", "name": "AG News test (7,600)", "n": 7600, "runs": runs}],
              "methods": {"kmeans": "SBERT + KMeans"}, "own_space": {"kmeans": "SBERT, cosine"},
              "tuned": {"source": "a file", "params": {"lr": 0.001}}}
    rows = quality.quality_rows(result["datasets"][0], result["methods"], result["own_space"])
    assert rows[0]["ACC"] == "0.800 ± 0.000" and rows[0]["fit time"] == "1.0 ± 0.0 s"
    assert [r["method"].split(",")[0] for r in rows[1:]] == ["published: seed report", "published: seed report",
                                                             "published: SCCL (Zhang et al."]
    (tmp_path / "quality.json").write_text(json.dumps(result))
    (tmp_path / "scale.json").write_text(json.dumps({"records": scale_records, "settings": {}}))
    (tmp_path / "speed.json").write_text(json.dumps(FAKE_SPEED))
    (tmp_path / "bench_run.json").write_text(json.dumps({"command": "python -m benchmarks", "date": "today",
                                                        "parts": {"speed": 60.0}, "total_s": 60.0}))
    (tmp_path / "selection").mkdir()
    (tmp_path / "selection" / "tiny_full.json").write_text(json.dumps(_selection_case()))
    (tmp_path / "embeddings.json").write_text(json.dumps(_embeddings_result(0.0)))
    run = {"wall_s": 400.0, "peak_rss_mib": 1500.0, "trials": 29, "table": [], "champion": "champion: SBERT + KMeans"}
    (tmp_path / "run_speed.json").write_text(json.dumps(
        {"baseline": "0f2c4c8", "goal": 2.2, "pairs": [{"before": run, "now": run, "ratio": 1.0}]}))
    text = report.write_results_md(tmp_path, tmp_path / "RESULTS.md").read_text()
    assert "not run yet" not in text and "took **1 min**" in text
    for heading in ("## Speed", "## Scale and memory", "## Quality", "## How to rerun", "## Label-free selection with the earlier",
                    "## Embedding precision"):
        assert heading in text


def test_quality_config_checks_and_cli_names():
    with pytest.raises(ValueError, match="unknown method"):
        quality.QualityConfig(methods="dec,sbert")
    args = quality.build_parser().parse_args(["--n_seeds", "5.0", "--tuned", ""])
    config = quality.QualityConfig(**vars(args))
    assert config.n_seeds == 5 and config.seeds == [0, 1, 2, 3, 4]
    assert config.method_list == [m for m in quality.METHODS if m != "selftrain"]  # the slow one is asked for


def test_merge_replaces_only_the_methods_run_now_and_keeps_where_each_came_from():
    def result(methods, acc, command):
        runs = {m: [{"acc": acc}] for m in methods}
        return {"datasets": [{"key": "test", "name": "t", "n": 1, "runs": runs}],
                "methods": {m: quality.METHODS[m] for m in methods}, "own_space": {m: "" for m in methods},
                "machine": common.machine_info(command)}

    merged = quality.merge(result(["tfidf", "kmeans"], 0.5, "old"), result(["kmeans", "selftrain"], 0.9, "new"))
    runs = merged["datasets"][0]["runs"]
    assert runs["tfidf"][0]["acc"] == 0.5 and runs["kmeans"][0]["acc"] == 0.9 and runs["selftrain"][0]["acc"] == 0.9
    assert list(merged["methods"]) == ["tfidf", "kmeans", "selftrain"]
    provenance = merged["datasets"][0]["provenance"]
    assert provenance["tfidf"]["command"] == "old" and provenance["kmeans"]["command"] == "new"
    text = quality.markdown(merged)
    assert "more than one run" in text and "`old`" in text and "`new`" in text


def test_load_tuned_fills_the_defaults(tmp_path):
    path = tmp_path / "best.json"
    path.write_text(json.dumps({"params": {"method": "idec", "lr": 0.002}}))
    params = quality.load_tuned(str(path))
    assert params["method"] == "idec" and params["lr"] == 0.002 and params["gamma"] == 0.1
    assert quality.make_model("tuned", 3, params).random_state == 3


def test_goal_line_names_the_best_row_and_the_distance():
    runs = {"kmeans": [{"acc": 0.83, "nmi": 0.59}] * 5, "selftrain": [{"acc": 0.84, "nmi": 0.62}] * 5,
            "lucky": [{"acc": 0.95, "nmi": 0.9}]}  # one seed: not a result
    line = quality.goal_line({"runs": runs}, {"selftrain": "self-training"})
    assert "self-training, ACC 0.840 / NMI 0.620" in line and "short by 0.050 ACC, 0.080 NMI" in line
    assert "met." in quality.goal_line({"runs": {"x": [{"acc": 0.9, "nmi": 0.71}] * 5}}, {})


# -- selection ----------------------------------------------------------------------------------
def _trial(acc, nmi, **scores):
    return {"acc": acc, "nmi": nmi, **scores}


def test_correlations_rank_scores_and_name_their_pick():
    from benchmarks import selection

    trials = [_trial(0.1 * i, 0.05 * i, silhouette=float(i), calinski_harabasz=float(-i)) for i in range(8)]
    out = selection.correlations(trials)
    assert out["silhouette"]["rho_acc"] == pytest.approx(1.0) and out["silhouette"]["gap_acc"] == 0.0
    assert out["calinski_harabasz"]["rho_nmi"] == pytest.approx(-1.0)
    assert out["calinski_harabasz"]["picked_acc"] == 0.0 and out["calinski_harabasz"]["gap_acc"] == pytest.approx(0.7)
    assert "stability" not in out  # a score no trial has is left out, not invented
    # the best quarter (at least 4 trials) by ACC: trials 7, 6, 5, 4
    assert out["silhouette"]["rho_acc_top"] == pytest.approx(1.0)


def test_the_untracked_default_study_starts_from_kmeans():
    from benchmarks import selection

    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 16))
    y = np.repeat(np.arange(3), 40)
    X = centers[y] + 0.05 * rng.standard_normal((120, 16))
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    data = common.LabelledData("blobs", None, y, X)
    config = selection.SelectionConfig(n_trials=4, default_trials=3, n_seeds=1)
    trials = selection.run_study(data, 3, config, echo=lambda line: None)
    assert len(trials) == 4 and trials[0]["params"] == {"method": "kmeans"} and trials[0]["acc"] == 1.0
    assert {"stability", "consensus", "silhouette", "latent_silhouette"} <= set(trials[0])
    assert all(-1.0 <= t["consensus"] <= 1.0 for t in trials)


def _selection_case():
    def runs(acc, nmi, objective=0.05):
        return [{"acc": acc, "nmi": nmi, "objective": objective}] * 2

    case = {"case": "tiny:full", "n_texts": 100, "k": 2, "median_trial_acc": 0.7, "default_study_s": 12.0,
            "config": {"n_trials": 30, "default_trials": 10, "n_seeds": 2},
            "champion": {"number": 3, "params": {"method": "dec"}},
            "rows": {"SBERT + KMeans": runs(0.80, 0.60), "DEC (seed report settings)": runs(0.7, 0.5),
                     "IDEC (seed report settings)": runs(0.7, 0.5), "study's best trial": runs(0.79, 0.61, 0.06),
                     "oracle trial (labels)": runs(0.85, 0.65)},
            "correlations": {"silhouette": {"rho_acc": 0.9, "rho_nmi": 0.8, "rho_acc_top": 0.1, "rho_nmi_top": 0.2,
                                            "picked_acc": 0.8, "gap_acc": 0.05}},
            "score_labels": {"silhouette": "silhouette, fixed"}}
    return case


def test_selection_markdown_gives_the_verdicts():
    case = _selection_case()
    text = selection.markdown([case])
    assert "| tiny:full | 100 | 2 | 0 | 0.800 ± 0.000 / 0.600 ± 0.000 |" in text  # no trial list in this case
    assert "-0.010 / +0.010" in text and "tiny:full (-0.010 ACC, +0.010 NMI)" in text
    assert "| study's best trial | -0.010 / +0.010 |" in text  # the champion column names the row
    # the suite's rule: the best mean objective over seeds; a tie keeps MiniLM + KMeans
    rows = dict(case["rows"])
    rows["study's best trial"] = rows["SBERT + KMeans"][:1] * 2
    assert selection.suite_champion(rows) == "SBERT + KMeans"
    assert "| silhouette, fixed | 1 | +0.90 | +0.80 | 0.050 |" in text
    assert selection.markdown([]) == ""


def _fit_speed_runs():
    runs = []
    for seed in (0, 1):
        for version, fit_s, acc in (("before", 10.0, 0.840), ("after", 5.0 + seed, 0.842)):
            runs.append({"version": version, "model": "dec", "seed": seed, "fit_s": fit_s, "cpu_s": fit_s, "acc": acc, "nmi": 0.62,
                         "n_iter": 10, "peak_rss_mib": 500.0, "fit_rss_rise_mib": 100.0})
    return runs


def test_fit_speed_summary_pairs_runs_by_seed():
    from benchmarks import fit_speed

    s = fit_speed.summarise(_fit_speed_runs())["dec"]
    assert s["ratios"] == [2.0, 10 / 6] and s["median_ratio"] == pytest.approx(11 / 6)
    assert s["ratio_of_means"] == pytest.approx(10 / 5.5)
    assert s["acc_after"] - s["acc_before"] == pytest.approx(0.002)
    assert s["after_over_clustpy"] == pytest.approx(9.5 / 11.8 / (11 / 6))
    result = {"machine": None, "baseline": fit_speed.BASELINE, "seeds": [0, 1], "summary": {"dec": s}}
    assert "1.83x faster" in fit_speed.markdown(result) and ": met." in fit_speed.markdown(result)


def test_fit_speed_baseline_is_the_old_code_with_its_own_pretrain(monkeypatch):
    import clustering.dec
    from benchmarks import fit_speed

    try:
        old = fit_speed.baseline_modules()
    except Exception as exc:  # no git, or a checkout without the commit
        pytest.skip(f"baseline not readable: {exc}")
    assert old.DEC is not clustering.dec.DEC
    old_ae, calls = sys.modules["_baseline_autoencoder"], []
    old_pretrain = old_ae.pretrain
    monkeypatch.setattr(old_ae, "pretrain", lambda *a, **kw: calls.append(1) or old_pretrain(*a, **kw))
    X = np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32)
    model = old.DEC(2, hidden_dims=(4,), pretrain_epochs=1, epochs=1, n_init=1).fit(X)
    assert model.labels_.shape == (60,) and calls == [1]  # the old fit ran the old pretrain


def test_measured_times_the_call_and_reports_how_far_it_raised_the_peak_rss():
    held = []
    m = common.measured(lambda: held.append(np.ones(64 * 2**20 // 8)))  # 64 MiB, kept alive
    assert set(m) == {"fit_s", "cpu_s", "peak_rss_mib", "fit_rss_rise_mib"} and m["fit_s"] > 0
    assert m["fit_rss_rise_mib"] <= m["peak_rss_mib"] and m["peak_rss_mib"] >= 64


def test_child_json_runs_the_module_at_the_benchmark_threads_and_reads_its_last_line(monkeypatch):
    import subprocess

    seen = {}

    def run(cmd, **kw):
        seen.update(cmd=cmd, env=kw["env"])
        return subprocess.CompletedProcess(cmd, 0, stdout='a warning\n{"fit_s": 1.5}\n')

    monkeypatch.setattr(common.subprocess, "run", run)
    monkeypatch.setenv("BENCH_THREADS", "2")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert common.child_json("benchmarks.fit_speed", "after,dec,0") == {"fit_s": 1.5}
    assert seen["cmd"][1:] == ["-m", "benchmarks.fit_speed", "--child", "after,dec,0"]
    assert seen["env"]["OMP_NUM_THREADS"] == "2" and seen["env"]["HF_HUB_OFFLINE"] == "1"  # no hub retries


def test_interleaved_runs_both_versions_of_every_item_and_alternates_which_goes_first():
    order = list(common.interleaved([0, 1], ["a", "b"]))
    assert order == [(0, "a", "before"), (0, "a", "after"), (0, "b", "before"), (0, "b", "after"),
                     (1, "a", "after"), (1, "a", "before"), (1, "b", "after"), (1, "b", "before")]


def test_pseudolabel_speed_pairs_seeds_and_compares_the_partitions():
    from benchmarks import pseudolabel_speed

    runs = []
    for seed in (0, 1):
        for version, fit_s, labels in (("before", 12.0, [0, 0, 1, 1]), ("after", 4.0 + 2 * seed, [1, 1, 0, seed])):
            runs.append({"version": version, "case": "many152", "seed": seed, "n_texts": 4, "k": 152, "fit_s": fit_s,
                         "cpu_s": fit_s, "acc": 0.5, "nmi": 0.1, "clusters": len(set(labels)), "peak_rss_mib": 900.0,
                         "fit_rss_rise_mib": 400.0 if version == "before" else 50.0, "labels": labels})
    s = pseudolabel_speed.summarise(runs)["many152"]
    assert s["ratios"] == [3.0, 2.0] and s["median_ratio"] == 2.5 and s["k"] == 152
    assert s["ari_before_after"] == pytest.approx(0.5)  # seed 0 the same partition renamed, seed 1 ARI 0
    assert s["fit_rss_rise_mib_before"] == 400 and s["fit_rss_rise_mib_after"] == 50
    text = pseudolabel_speed.markdown({"machine": None, "baseline": pseudolabel_speed.BASELINE, "seeds": [0, 1],
                                       "summary": {"many152": s}})
    assert "**2.50x**" in text and "| many152 | 4 | 152 | before (dd9dcab) |" in text and "| 0.500 |" in text


def test_pseudolabel_speed_baseline_is_the_old_module():
    import clustering.pseudolabel
    from benchmarks import pseudolabel_speed

    try:
        old = pseudolabel_speed.baseline_module()
    except Exception as exc:  # no git, or a checkout without the commit
        pytest.skip(f"baseline not readable: {exc}")
    assert old.PseudoLabelClusterer is not clustering.pseudolabel.PseudoLabelClusterer
    assert not hasattr(old.PseudoLabelClusterer, "_fit_classifier")  # the code before the warm start


# -- embeddings ---------------------------------------------------------------------------------------
def test_time_routes_rotates_the_order_and_times_every_route():
    from benchmarks import embeddings

    calls = []
    fns = {r: (lambda texts, r=r: calls.append(r)) for r in ("bare", "float32", "bfloat16")}
    seconds = embeddings.time_routes({"a": ["x"], "b": ["y"]}, fns, rounds=3)
    assert calls[:6] == ["bare", "float32", "bfloat16"] * 2
    assert calls[6:9] == ["float32", "bfloat16", "bare"] and calls[12:15] == ["bfloat16", "bare", "float32"]
    assert {c: {r: len(t) for r, t in v.items()} for c, v in seconds.items()} == {
        c: {"bare": 3, "float32": 3, "bfloat16": 3} for c in ("a", "b")}


def _embeddings_result(bf16_acc_delta: float) -> dict:
    runs = lambda acc, nmi: [{"seed": s, "acc": acc + d, "nmi": nmi + d} for s, d in enumerate((-0.01, 0.01))]  # noqa: E731
    quality = {c: {"float32": runs(0.8, 0.7), "bfloat16": runs(0.8 + bf16_acc_delta, 0.702), "int8": runs(0.7, 0.6),
                   "float32_shuffled": runs(0.803, 0.699)}
               for c in ("ag_news", "biomedical")}
    # 10 texts per corpus; bare takes 2 s, float32 2 s, bfloat16 1 s (round 1: 0.5 s), int8 0.5 s.
    seconds = {c: {"bare": [2.0, 2.0], "float32": [2.0, 2.0], "bfloat16": [1.0, 0.5], "int8": [0.5, 0.5]}
               for c in ("ag_news", "biomedical")}
    cosine = {c: {r: {"mean": 1.0 if r != "int8" else 0.97, "min": 0.99 if r != "int8" else 0.9} for r in seconds[c]}
              for c in seconds}
    result = {"config": {"route_list": ["bare", "float32", "bfloat16", "int8"], "corpus_list": ["ag_news", "biomedical"],
                         "timing_texts": 10, "rounds": 2, "n_seeds": 2},
              "machine": None, "n_texts": {"ag_news": 100, "biomedical": 200},
              "timing_texts": {"ag_news": 10, "biomedical": 10}, "seconds": seconds, "cosine": cosine,
              "quality": quality}
    from benchmarks import embeddings

    result["summary"] = embeddings.summarize(result)
    return result


@pytest.mark.parametrize("delta, holds", [(0.004, True), (-0.006, False)])
def test_embeddings_summary_takes_ratios_within_rounds_and_deltas_to_float32(delta, holds):
    summary = _embeddings_result(delta)["summary"]
    bf16 = summary["bfloat16"]
    assert bf16["ratio"] == pytest.approx(3.0) and (bf16["ratio_min"], bf16["ratio_max"]) == (2.0, 4.0)
    assert bf16["texts_per_s"] == pytest.approx(10 / 0.75)  # median time of the two rounds
    assert bf16["worst_acc_delta"] == pytest.approx(delta) and bf16["worst_nmi_delta"] == pytest.approx(0.002)
    assert bf16["holds_quality"] is holds and bf16["meets_goal"] is holds
    assert summary["int8"]["ratio"] == 4.0 and summary["int8"]["holds_quality"] is False
    assert summary["float32"]["ratio"] == 1.0
    # Every seed moves by the same amount here, so the paired differences have no spread.
    assert bf16["deltas"]["biomedical"]["acc"] == {"mean": pytest.approx(delta), "se": pytest.approx(0)}
    assert bf16["ci_within"] is holds and bf16["ci_outside"] is not holds
    control = summary["float32_shuffled"]
    assert (control["holds_quality"], control["ci_within"], control["ci_outside"]) == (True, True, False)
    assert control["worst_acc_delta"] == pytest.approx(0.003) and control["worst_nmi_delta"] == pytest.approx(-0.001)


def test_paired_delta_pairs_runs_by_seed_and_gives_the_standard_error():
    from benchmarks.embeddings import paired_delta

    ref = [{"seed": s, "acc": a} for s, a in enumerate((0.5, 0.6, 0.7))]
    runs = [{"seed": 2, "acc": 0.73}, {"seed": 0, "acc": 0.51}, {"seed": 1, "acc": 0.62}]  # +0.01, +0.02, +0.03
    mean, se = paired_delta(runs, ref, "acc")
    assert mean == pytest.approx(0.02) and se == pytest.approx(0.01 / np.sqrt(3))
    assert paired_delta(runs[:1], ref[2:], "acc") == (pytest.approx(0.03), 0.0)
    with pytest.raises(ValueError, match="same seeds"):
        paired_delta(runs[:2], ref, "acc")


def test_embeddings_summary_says_when_the_seeds_cannot_tell():
    from benchmarks import embeddings

    ref = [{"seed": s, "acc": 0.5, "nmi": 0.4} for s in range(4)]
    noisy = [{"seed": s, "acc": 0.5 + d, "nmi": 0.4} for s, d in enumerate((-0.02, 0.01, 0.004, -0.01))]  # mean -0.004
    verdict = embeddings._quality_verdict({"c": {"float32": ref, "r": noisy}}, "r", ["c"])
    assert verdict["holds_quality"] is True and verdict["worst_acc_delta"] == pytest.approx(-0.004)
    assert verdict["deltas"]["c"]["acc"]["se"] == pytest.approx(np.std([-0.02, 0.01, 0.004, -0.01], ddof=1) / 2)
    assert verdict["ci_within"] is False and verdict["ci_outside"] is False
    lines = embeddings.embeddings_verdicts({"summary": {"r": {**verdict, "ratio": 2.0, "meets_goal": True}},
                                        "config": {"n_seeds": 4}})
    assert lines[0].endswith("**meets the goal**; some 95% interval straddles ±0.005: these seeds cannot tell.")


def test_embeddings_table_and_verdicts():
    result = _embeddings_result(0.004)
    rows = embeddings.embeddings_rows(result)
    assert [r["x bare encode"] for r in rows[:4]] == ["1.00 (1.00-1.00)", "1.00 (1.00-1.00)", "3.00 (2.00-4.00)",
                                                  "4.00 (4.00-4.00)"]
    assert rows[0]["AG News ACC / NMI (vs float32)"] == "0.8000 / 0.7000"  # the bare encode's are float32's
    assert rows[2]["Biomedical ACC / NMI (vs float32)"] == "0.8040 / 0.7020 (+0.0040 ± 0.0000 / +0.0020 ± 0.0000)"
    assert rows[2][">= 1.5x and within"] == "**yes**" and rows[3]["within 0.005 everywhere"] == "no"
    assert rows[2]["95% intervals inside ±0.005"] == "yes" and rows[3]["95% intervals inside ±0.005"] == "no (outside)"
    assert rows[3]["cosine to float32 (mean / min)"] == "0.970000 / 0.900000"
    lines = embeddings.embeddings_verdicts(result)
    assert lines[0].endswith("(tolerance 0.005): **meets the goal**; every 95% interval lies inside ±0.005.")
    assert "3.00x" in lines[0]
    assert "misses the goal" in lines[1] and "-0.1000" in lines[1]
    assert lines[2] == ("Noise floor: the float32 embeddings themselves, rows shuffled, move the 2-seed means by up to "
                        "+0.0030 ACC and -0.0010 NMI; every 95% interval lies inside ±0.005.")
    assert rows[4]["route"].startswith("control") and rows[4]["AG News ACC / NMI (vs float32)"] == (
        "0.8030 / 0.6990 (+0.0030 ± 0.0000 / -0.0010 ± 0.0000)")
    markdown = embeddings.markdown(result)
    assert "| route | texts/s | x bare encode |" in markdown and f"- {lines[0]}" in markdown
    assert "AG News 100, Biomedical 200" in markdown


def test_run_speed_section_says_the_time_against_the_limit_and_the_reloaded_champion():
    run = {"wall_s": 400.0, "peak_rss_mib": 1500.0, "trials": 29, "table": ["| method |", "|---|"],
           "champion": "champion: SBERT + KMeans, seed 0 (best mean silhouette)", "skipped": 5}
    check = {"registered_acc": 0.851, "registered_nmi": 0.63, "reloaded_acc": 0.851, "reloaded_nmi": 0.63}
    result = {"baseline": "8cf76e1", "limit_s": 180.0,
              "pairs": [{"before": run, "now": {**run, "wall_s": 200.0, "trials": 10, "skipped": 0, "check": check},
                         "ratio": 2.0}]}
    text = run_speed.markdown(result)
    assert "Slowest run now 200 s against a limit of 180 s: NOT met" in text
    assert "| 1 | now | 200 s | 1500 MiB | 10 | 0 | SBERT + KMeans, seed 0 | 0.851 / 0.630 | 0.851 / 0.630 |" in text
    # a result saved before the limit was the goal still renders against its own goal
    old = {"baseline": "0f2c4c8", "goal": 2.2, "pairs": [{"before": run, "now": run, "ratio": 1.0}]}
    assert "Goal 2.2x: NOT met" in run_speed.markdown(old)


# -- sota -----------------------------------------------------------------------------------------
def test_sota_markdown_rows_and_goal_gaps():
    run = lambda acc, s=None: {"acc": acc, "nmi": 0.5, "seed": 0} | ({"seconds": s} if s else {})
    result = {"machine": {"command": "python -m benchmarks.sota", "date": "d", "torch_threads": 1},
              "cases": {"stackoverflow": {"corpus": "stackoverflow", "imbalanced": False, "n_texts": 20000, "k": 20,
                                          "rows": {"SBERT + KMeans": {"runs": [run(0.7, 2.0), run(0.72, 4.0)],
                                                                       "peak_rss_mib": 500},
                                                   "Pseudo-labels (MiniLM + tf-idf)": {
                                                       "runs": [run(0.8, 10.0), run(0.9, 10.0)], "peak_rss_mib": 600}}}}}
    text = sota.markdown(result)
    assert "| stackoverflow | 20,000 | 20 | SBERT + KMeans | 2 | 0.710 ± 0.010 | 0.500 ± 0.000 | 3.0 ± 1.0 | 1.5 | 500 |" in text
    assert "ACC 0.850 vs 0.84 (+0.010)" in text
    assert "- stackoverflow: ACC +0.140, NMI +0.000" in text  # against MiniLM + KMeans


def test_training_precision_pairs_seeds_and_judges_each_case():
    from benchmarks import training_precision

    def runs(accs, secs):
        return [{"seed": i, "acc": a, "nmi": a - 0.2, "seconds": s} for i, (a, s) in enumerate(zip(accs, secs))]

    close = {"float32": runs([0.80, 0.82], [4.0, 4.2]), "bfloat16": runs([0.806, 0.822], [2.0, 2.1])}
    far = {"float32": runs([0.80, 0.82], [4.0, 4.0]), "bfloat16": runs([0.70, 0.74], [2.0, 2.0])}
    s = training_precision.summarise(close)
    assert s["acc_diff"] == pytest.approx(0.004) and s["speedup"] == pytest.approx(8.2 / 4.1)
    assert s["acc_diff_se"] == pytest.approx(np.std([0.006, 0.002], ddof=1) / np.sqrt(2))
    result = {"machine": None, "cases": {
        f"ag_news/{m}": {"corpus": "ag_news", "model": m, "n_texts": 7600, "k": 4, "runs": r,
                         "summary": training_precision.summarise(r)} for m, r in (("dec", close), ("idec", far))}}
    md = training_precision.markdown(result)
    assert "AG News DEC: holds the quality: within 0.005" in md
    assert "AG News IDEC: does NOT hold the quality: ACC and NMI worse" in md
    flipped = {**result["cases"]["ag_news/idec"], "runs": {"float32": far["bfloat16"], "bfloat16": far["float32"]}}
    flipped["summary"] = training_precision.summarise(flipped["runs"])
    assert "better by more than 0.005" in training_precision.markdown({"machine": None, "cases": {"x": flipped}})
    assert "+0.0040 ± 0.0020" in md and "(2.00x)" in md


def test_adaptation_probe_core_takes_the_most_confident_share_of_every_cluster_from_posteriors():
    from clustering._selftrain_loop import confident_mask  # what the probe's core is

    P = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.3, 0.7], [0.45, 0.55], [0.1, 0.9]])
    labels = P.argmax(1)
    core = lambda fraction: np.flatnonzero(confident_mask(P, labels, fraction)).tolist()  # noqa: E731
    assert core(2 / 3) == [0, 2, 3, 5]  # drops 1 and 4, the narrowest margins
    assert core(0.01) == [0, 5]        # at least one per cluster


# -- imbalance probe ------------------------------------------------------------------------------
def test_imbalance_probe_long_tail_falls_geometrically_from_largest_to_smallest():
    from benchmarks.imbalance_probe import long_tail

    labels = np.repeat(np.arange(5), 1000)
    sizes = np.sort(np.bincount(labels[long_tail(labels, 100.0, seed=3)]))[::-1]
    assert sizes.tolist() == [1000, 316, 100, 31, 10]  # (1/100) ** (i/4) of 1000 each
    assert long_tail(labels, 1.0).tolist() == list(range(5000))
    assert np.bincount(labels[long_tail(labels, 1e6, floor=5)]).min() == 5


def test_imbalance_probe_zipf_sizes_are_seeded_and_bounded():
    from benchmarks.imbalance_probe import zipf_sizes

    sizes = zipf_sizes(500, seed=0)
    assert sizes.min() >= 5 and sizes.max() <= 400 and np.median(sizes) < 60  # most topics small
    assert (sizes == zipf_sizes(500, seed=0)).all() and not (sizes == zipf_sizes(500, seed=1)).all()
    tiny = zipf_sizes(500, seed=0, smallest=1, largest=150, scale=5)  # the tiny<s> cases
    assert tiny.min() == 1 and tiny.max() <= 150 and np.median(tiny) < 15


def test_imbalance_probe_markdown_names_cases_below_kmeans_and_the_oracle_gap():
    from benchmarks import imbalance_probe
    from benchmarks.imbalance_probe import BALANCES, markdown

    def run(kmeans, default, best, used=4):
        rows = {imbalance_probe.KMEANS: {"acc": kmeans, "nmi": 0.5, "clusters": 4},
                imbalance_probe.DEFAULTS: {"acc": default, "nmi": 0.5, "balance": 1.0, "kept_rounds": True,
                                              "clusters": used},
                "two views + k-means (start)": {"acc": 0.5, "nmi": 0.5, "clusters": 4}}
        rows |= {f"rounds at balance {b}": {"acc": best if b == 0.25 else default, "nmi": 0.5,
                                            "clusters": 3 if b == 0.25 else used} for b in BALANCES}
        return {"seed": 0, "n_texts": 100, "k": 4, "largest": 50, "smallest": 5, "rows": rows}

    machine = {"date": "2026-12-03 10:41 UTC", "command": "python -m benchmarks.imbalance_probe --cases b:1 --merge"}
    md = markdown({"machine": None, "cases": {"a:100": {"runs": [run(0.6, 0.5, 0.7)]},
                                              "b:1": {"runs": [run(0.6, 0.8, 0.8, used=3), run(0.6, 0.8, 0.8, used=2)],
                                                      "machine": machine}}})
    assert "Defaults below MiniLM + KMeans in ACC: a:100 (-0.100)." in md
    assert "| a:100 | 100 | 4 | 50 / 5 | 0.600 / 0.500 | 0.500 / 0.500 | rounds at 1.0 | 4 / 3 |" in md
    assert "| b:1 | 100 | 4 | 50 / 5 | 0.600 / 0.500 | 0.800 / 0.500 | rounds at 1.0 | 2.5 / 3 |" in md
    assert "Defaults leave clusters empty (mean over the seeds): b:1 (1.5 of 4);" in md
    assert "- b:1: measured apart, 2026-12-03 10:41 UTC, command `python -m benchmarks.imbalance_probe " \
           "--cases b:1 --merge`." in md and "- a:100: measured apart" not in md
    assert "0.700 (0.25) |" in md  # the oracle: best fixed balance by ACC
    assert "by 0.100 ACC on average, at most 0.200" in md


def test_imbalance_probe_merge_keeps_the_saved_cases_and_records_each_new_ones_command(tmp_path, monkeypatch):
    from benchmarks import imbalance_probe, report

    out = tmp_path / "imbalance_probe.json"
    saved = {"machine": {"date": "then", "command": "python -m benchmarks.imbalance_probe --seeds 2"},
             "cases": {"old:1": {"runs": ["old run"]}}}
    out.write_text(json.dumps(saved))
    monkeypatch.setattr(imbalance_probe, "OUT", out)
    monkeypatch.setattr(imbalance_probe, "probe", lambda case, seed: f"{case} seed {seed}")
    monkeypatch.setattr(imbalance_probe, "markdown", lambda result: "")
    monkeypatch.setattr(report, "write_results_md", lambda: out)
    monkeypatch.setattr(common, "regenerate_results", lambda: out)  # not the repository's RESULTS.md
    assert imbalance_probe.main(["--cases", "new:1", "--seeds", "2", "--merge"]) == 0
    result = json.loads(out.read_text())
    assert result["machine"] == saved["machine"] and result["cases"]["old:1"] == saved["cases"]["old:1"]
    assert result["cases"]["new:1"]["runs"] == ["new:1 seed 0", "new:1 seed 1"]
    assert result["cases"]["new:1"]["machine"]["command"] == \
        "python -m benchmarks.imbalance_probe --seeds 2 --cases new:1 --merge"
    imbalance_probe.main(["--cases", "new:1", "--seeds", "1"])  # without --merge: these cases alone
    result = json.loads(out.read_text())
    assert list(result["cases"]) == ["new:1"] and "machine" not in result["cases"]["new:1"]
    assert result["machine"]["command"] == "python -m benchmarks.imbalance_probe --seeds 1 --cases new:1"


# -- criteria and the default run on every case -------------------------------------------------
def _criteria_case(case, accs):
    """A case whose candidates' scores rise with their ACC in the SBERT view and fall in the lexical one."""
    from clustering.selection import MEASURES

    def row(acc, sbert, lexical):
        return {"acc": acc, "nmi": acc - 0.1, "clusters": 3, "fit_s": 1.0, "cross_view": acc,
                "scores": {m: {"sbert": sbert, "lexical": lexical, "joint": (sbert + lexical) / 2} for m in MEASURES}}

    rows = {name: row(acc, 0.1 + acc, 1.0 - acc) for name, acc in accs.items()}
    rows["kmeans in sbert"] = row(0.5, 1.0, 0.5)
    rows["kmeans in lexical"] = row(0.4, 0.5, 1.0)
    rows["kmeans in joint"] = row(0.6, 0.8, 0.8)
    rows["gold"] = row(1.0, 0.2, 0.2)
    return {"case": case, "n_texts": 30, "k": 3, "seed": 0, "rows": rows, "seconds": 1.0}


def test_criteria_rank_candidates_pick_and_probe_the_gold_labelling():
    from benchmarks import criteria

    result = _criteria_case("ag_news:1000", {"kmeans": 0.6, "pseudolabel": 0.8, "dec (study)": 0.5})
    values = criteria.criterion_values(result)
    # ratio-pooled: each view's value over k-means' there, averaged over the two views
    assert values["silhouette, ratio-pooled"]["pseudolabel"] == pytest.approx((0.9 / 1.0 + 0.2 / 1.0) / 2)
    assert values["silhouette, min-ratio"]["pseudolabel"] == pytest.approx(0.2)
    stats = criteria.case_stats(result)
    sbert = stats["silhouette in sbert"]
    assert sbert["pick"] == "pseudolabel" and sbert["regret"] == 0.0 and sbert["rho_acc"] == pytest.approx(1.0)
    assert sbert["vs_kmeans"] == pytest.approx(0.2) and sbert["gold_rank"] == 4  # below all three candidates
    lexical = stats["silhouette in lexical"]
    assert lexical["pick"] == "dec (study)" and lexical["regret"] == pytest.approx(0.3)
    assert lexical["rho_acc"] == pytest.approx(-1.0) and lexical["gold_rank"] == 3  # a tie is not above it
    assert not criteria.scalar("silhouette+neighbours, Borda") and criteria.scalar("silhouette in sbert")
    assert criteria.corpus_of("zipf0") == "mixed" and criteria.corpus_of("biomedical:100") == "biomedical"


def test_leave_one_corpus_out_never_chooses_on_the_held_out_corpus():
    from benchmarks import criteria

    results = [_criteria_case("ag_news:1000", {"kmeans": 0.6, "pseudolabel": 0.8}),
               _criteria_case("stackoverflow:1000", {"kmeans": 0.6, "pseudolabel": 0.8}),
               _criteria_case("zipf0", {"kmeans": 0.6, "pseudolabel": 0.8})]
    folds = criteria.leave_one_corpus_out(results)
    assert set(folds) == {"ag_news", "stackoverflow", "mixed"}
    assert folds["ag_news"]["train"] == ["stackoverflow:1000"]  # the mixed set never trains
    assert folds["mixed"]["train"] == ["ag_news:1000", "stackoverflow:1000"]
    assert all(criteria.scalar(f["chosen"]) for f in folds.values())
    text = criteria.markdown(results, criteria.STUDY_OBJECTIVE)
    assert f"**{criteria.STUDY_OBJECTIVE}**" in text and "Leave one corpus out" in text and "| zipf0 | 30 | 3 |" in text


def test_default_run_markdown_says_where_the_champion_is_below_kmeans():
    from benchmarks import default_run

    def result(case, acc, nmi):
        return {"case": case, "k": 4, "champion": "Pseudo-labels (tuned)", "champion_acc": acc, "champion_nmi": nmi,
                "kmeans_acc": 0.80, "kmeans_nmi": 0.60, "oracle_acc": 0.9, "wall_s": 120.0,
                "rows": {"Pseudo-labels (tuned)": {"acc_mean": acc, "nmi_mean": nmi}}}

    text = default_run.markdown([result("ag_news:full", 0.86, 0.63), result("ag_news:100", 0.70, 0.61)])
    assert "| ag_news:full | 4 | 0.800 / 0.600 | Pseudo-labels (tuned) | 0.860 / 0.630 |" in text
    assert "+0.060 / +0.030" in text and "-0.100 / +0.010" in text
    assert "1 of 2 cases; below it: ag_news:100." in text
    assert "Mean ACC gain over the shared full corpora (1): +0.060." in text


def test_the_benchmarks_study_objective_is_what_the_library_computes():
    """criteria.STUDY_OBJECTIVE is CrossViewScore's score; FIXED_K, built from the per-view scores, is the same
    for a partition that uses all k clusters and differs for one that uses fewer (its reference has fewer)."""
    from sklearn.datasets import make_blobs

    from benchmarks import criteria
    from clustering.selection import CrossViewScore

    X, y = make_blobs(n_samples=120, n_features=8, centers=3, cluster_std=2.0, random_state=1)
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    words = [["goal", "match", "coach"], ["stock", "market", "bank"], ["virus", "cell", "gene"]]
    texts = [f"{words[c][i % 3]} {words[(c + i) % 3][(i + 1) % 3]} note{i % 5}" for i, c in enumerate(y)]
    data = common.LabelledData("blobs", texts, y, X)
    spaces = criteria.views(data)
    other, two = np.random.default_rng(0).integers(0, 3, len(y)), np.minimum(y, 1)
    rows = criteria.score_partitions({"candidate": other, "two": two}, spaces, y, 3, 0, texts=texts)
    values = criteria.criterion_values({"rows": rows})
    scorer = CrossViewScore(3).fit(X, texts)
    for name, labels in {"candidate": other, "gold": y, "two": two}.items():
        assert values[criteria.STUDY_OBJECTIVE][name] == pytest.approx(scorer.score(labels), rel=1e-5)
    assert values[criteria.FIXED_K]["candidate"] == pytest.approx(scorer.score(other), rel=1e-5)
    assert values[criteria.FIXED_K]["two"] != pytest.approx(scorer.score(two), rel=1e-3)
    # results saved before cross_view was recorded: the fixed-k criterion only
    assert criteria.STUDY_OBJECTIVE not in criteria.criterion_values(
        {"rows": criteria.score_partitions({"candidate": other}, spaces, y, 3, 0)})


def test_blas_threads_section_gives_each_steps_median_times_and_their_ratio():
    from benchmarks import blas_threads

    result = {"blas_default_threads": 2, "repeats": 3,
              "seconds": {"KMeans, 10 restarts": {"default": [1.0, 1.2, 0.9], "one": [0.2, 0.25, 0.3]}}}
    text = blas_threads.markdown(result)
    assert "| KMeans, 10 restarts | 1.00 s | 0.25 s | 4.00x |" in text
    assert "BLAS at its default (2 threads)" in text and "3 times per setting" in text


# -- spark_predict ----------------------------------------------------------------------------------
def test_spark_predict_markdown_and_the_process_tree_memory():
    import os

    from benchmarks import spark_predict

    assert spark_predict.tree_rss_mib(os.getpid()) > 10  # this process, at least
    result = {"n_texts": 20000, "master": "local[2]", "agreement": 0.999,
              "runs": {"local": {"wall_s": 200.0, "peak_tree_rss_mib": 900.0, "texts_per_s": 100.0},
                       "spark": {"wall_s": 250.0, "peak_tree_rss_mib": 1800.0, "texts_per_s": 80.0}}}
    text = spark_predict.markdown(result)
    assert "| spark (local[2]) | 20,000 | 250 s | 80 | 1,800 MiB |" in text
    assert "20,000 texts: Spark / local throughput 0.80x" in text and "99.90% of the texts" in text
    bigger = {**result, "n_texts": 200000, "agreement": 0.998}
    both = spark_predict.markdown({"sizes": [bigger, result]})  # smaller first, each with its line
    assert both.index("| local (one process) | 20,000 |") < both.index("| local (one process) | 200,000 |")
    assert "200,000 texts: Spark / local throughput 0.80x" in both and "99.80%" in both


def test_fit_sample_markdown():
    from benchmarks import fit_sample

    run = {"n_texts": 120000, "fit_sample": 50000, "fit_s": 60.0, "total_s": 150.0, "data_rss_mib": 900.0,
           "peak_rss_mib": 2500.0, "fit_texts": 50000.0, "clusters": 20.0}
    text = fit_sample.markdown({"runs": [run]})
    assert "| 120,000 | 50,000 | 60.00 s | 150 s | 2,500 MiB (900 MiB) |" in text


def test_neighbours_markdown():
    from benchmarks import neighbours

    size = {"n_rows": 1000000, "distinct_rows": 47600, "fitted": 50000, "peak_rss_mib": 3000.0, "runs": [
        {"algorithm": "exact", "build_s": 0.0, "graph_s": 5000.0, "estimated": True, "assign_ms": 1.5, "recall": 1.0},
        {"algorithm": "approximate, n_probe=32", "build_s": 90.0, "graph_s": 400.0, "estimated": False,
         "assign_ms": 0.12, "recall": 0.961}]}
    text = neighbours.markdown({"sizes": [size, {**size, "n_rows": 120000}]})
    assert "| 1,000,000 | exact | - | 5,000 s (est.) | (copies) | 1.50 ms (50,000) | 3,000 MiB |" in text
    assert "| 120,000 | approximate, n_probe=32 | 90.00 s | 400 s | 0.961 | 0.12 ms (50,000) | 3,000 MiB |" in text


def test_corpus_sources_are_the_shared_files_there_else_the_bundled_split(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "SHARED_DATA", tmp_path)
    assert common.corpus_sources() == ["ag_news_test"]
    (tmp_path / "biomedical.csv").write_text("text,label\na,b\n")
    assert common.corpus_sources() == [tmp_path / "biomedical.csv"]
