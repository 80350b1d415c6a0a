"""Bad input at the command line: one line on stderr that says what to do, exit code 2,
no MLflow run left RUNNING, and nothing half-written.

Each case is a real `python -m experiments tune` process with its own SQLite tracking store
and Optuna storage; they run three at a time to keep the module near a minute.
"""

import shutil
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SECRET = "hunter2"
# name: (extra arguments, extra environment, words the error line must hold, the runs it may leave)
#   runs "none": the problem is found before any run starts (bad data included: the corpus is
#   read first); "failed": one run, ended FAILED.
CASES = {
    "negative n_trials": (["--n_trials", "-3"], {}, ["n_trials must be >= 1", "-3"], "none"),
    "n_trials not a number": (["--n_trials", "many"], {},
                              ["argument --n_trials: expected an integer, got 'many'", "--help"], "none"),
    "texts without words": (["--data", "{tmp}/punctuation.csv", "--n_per_class", "0", "--clean", "false",
                             "--n_clusters", "2"], {}, ["none of the 6 texts has a word", "text_columns"], "none"),
    "UTF-16 CSV": (["--data", "{tmp}/utf16.csv", "--n_per_class", "0"], {},
                   ["utf16.csv: it is not UTF-8 text", "save it as UTF-8"], "none"),
    "unknown objective": (["--objective", "purity"], {},
                          ["unknown objective 'purity'", "choose from cross_view, silhouette"], "none"),
    "unknown embedding model": (["--embedding_model", "no-such-model-xyz"], {},
                                ["unknown embedding model 'no-such-model-xyz'"], "failed"),
    "unreachable storage": (["--storage", f"postgresql://someone:{SECRET}@127.0.0.1:1/optuna"], {},
                            ["cannot open Optuna storage postgresql://someone:***@127.0.0.1:1/optuna",
                             "refused", "database server is running"], "none"),
    "unreachable tracking server": ([], {"MLFLOW_TRACKING_URI": f"http://someone:{SECRET}@127.0.0.1:1"},
                                    ["cannot reach the MLflow tracking server at http://127.0.0.1:1",
                                     "unset MLFLOW_TRACKING_URI"], "none"),
    "data file that does not exist": (["--data", "{tmp}/nope.csv"], {}, ["data file not found", "nope.csv"], "none"),
    "CSV without the named columns": (["--data", "{tmp}/notes.csv", "--text_columns", "body", "--n_per_class", "0"],
                                      {}, ["['body'] not found", "columns are ['id', 'note']"], "none"),
    "empty CSV": (["--data", "{tmp}/empty.csv", "--n_per_class", "0"], {}, ["empty", "empty.csv"], "none"),
    "fewer texts than clusters": (["--data", "{tmp}/three.csv", "--n_per_class", "0", "--n_clusters", "4"], {},
                                  ["n_clusters=4", "(3)"], "none"),
    "fewer distinct texts than clusters": (["--data", "{tmp}/same.csv", "--n_per_class", "0", "--n_clusters", "4"],
                                           {}, ["3 distinct text(s)", "fewer than n_clusters=4"], "none"),
}


def write_inputs(tmp: Path) -> None:
    (tmp / "notes.csv").write_text("id,note\n1,first note here\n2,second note here\n")
    (tmp / "empty.csv").write_text("")
    (tmp / "punctuation.csv").write_text("text\n" + "".join(f"{p}\n" for p in ["!!", "?", "...", "#", "* *", "a b"]))
    (tmp / "utf16.csv").write_bytes("text,label\nstocks fell sharply,0\nthe team won the cup,1\n".encode("utf-16"))
    (tmp / "three.csv").write_text("text,label\nstocks fell sharply,0\nthe team won the cup,1\nnew phone released,2\n")
    (tmp / "same.csv").write_text("text,label\n" + "stocks fell sharply,0\n" * 200 + "The team won!,1\nthe team won,1\n"
                                  + "new phone,2\n")


def empty_tracking_store(tmp: Path) -> Path:
    """An MLflow SQLite store with its tables made; each case gets a copy (making them takes seconds)."""
    import mlflow

    db = tmp / "template-mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
    return db


def run_case(name: str, tmp: Path, ag_news_csv: Path, template: Path | None = None) -> dict:
    args, env_extra, _, _ = CASES[name]
    case = tmp / name.replace(" ", "-")
    case.mkdir()
    if template is not None:
        shutil.copy(template, case / "mlflow.db")
    argv = [sys.executable, "-m", "experiments", "tune", "--data", str(ag_news_csv), "--n_per_class", "25",
            "--max_pretrain_epochs", "5", "--max_epochs", "2", "--n_trials", "1",
            "--storage", f"sqlite:///{case / 'optuna.db'}", "--experiment_name", "cli-errors",
            *[a.format(tmp=tmp) for a in args]]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "HF_HUB_OFFLINE": "1",
           "CLUSTERING_CACHE_DIR": str(tmp / "embeddings"), "MLFLOW_TRACKING_URI": f"sqlite:///{case / 'mlflow.db'}",
           **env_extra}
    start = time.perf_counter()
    out = subprocess.run(argv, cwd=case, env=env, capture_output=True, text=True, timeout=240)
    return {"code": out.returncode, "stdout": out.stdout, "stderr": out.stderr,
            "seconds": time.perf_counter() - start, "dir": case}


def table(db: Path, query: str) -> list:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute(query).fetchall()
        except sqlite3.OperationalError:  # no such table: nothing was ever written
            return []


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, ag_news_csv):
    tmp = tmp_path_factory.mktemp("cli-errors")
    write_inputs(tmp)
    template = empty_tracking_store(tmp)
    with ThreadPoolExecutor(max_workers=3) as pool:
        # The slowest (they load the embedding model) first, so that the pool ends together.
        order = sorted(CASES, key=lambda n: n not in ("unknown embedding model", "fewer texts than clusters"))
        futures = {name: pool.submit(run_case, name, tmp, ag_news_csv, template) for name in order}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_exit_2_and_no_run_left_running(outcomes, name):
    outcome = outcomes[name]
    _, _, words, runs_left = CASES[name]
    lines = outcome["stderr"].strip().splitlines()
    assert outcome["code"] == 2, outcome["stderr"][-3000:]
    assert lines[-1].startswith("error: "), lines[-5:]
    for word in words:
        assert word in lines[-1]
    assert "Traceback" not in outcome["stderr"]
    assert SECRET not in outcome["stdout"] + outcome["stderr"]

    runs = table(outcome["dir"] / "mlflow.db", "select status from runs")
    if runs_left == "none":
        assert runs == []
    else:
        assert runs == [("FAILED",)]
        error = table(outcome["dir"] / "mlflow.db", "select value from tags where key = 'error'")
        assert error and error[0][0] in lines[-1]
    assert table(outcome["dir"] / "optuna.db", "select study_name from studies") == []  # no study begun


def test_an_unreachable_storage_or_server_fails_fast(outcomes):
    # The rest of each process is Python importing MLflow and Optuna on a busy machine.
    assert outcomes["unreachable storage"]["seconds"] < 60
    assert outcomes["unreachable tracking server"]["seconds"] < 60
