"""experiments.threads: one BLAS thread per run unless DTC_BLAS_THREADS says otherwise."""

import json
import subprocess
import sys

import pytest

from experiments import threads
from experiments.__main__ import main


def test_the_setting_defaults_to_one_and_takes_whole_numbers(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    assert threads.blas_threads() == 1
    monkeypatch.setenv(threads.ENV, " 0 ")
    assert threads.blas_threads() == 0
    for bad in ("two", "-1", "1.5"):
        monkeypatch.setenv(threads.ENV, bad)
        with pytest.raises(ValueError, match=f"{threads.ENV} must be a whole number >= 0"):
            threads.blas_threads()


def _blas_pools(setting: str | None) -> list:
    """(library, threads) of every BLAS pool in a new process that calls ``limit_blas`` (or not: None)."""
    code = ("import numpy, scipy.linalg\n"
            + ("from experiments.threads import limit_blas; limit_blas()\n" if setting is not None else "")
            + "from threadpoolctl import threadpool_info\n"
            "import json; print(json.dumps([(p['filepath'], p['num_threads']) for p in threadpool_info() "
            "if p['user_api'] == 'blas']))")
    env = {"PATH": "/usr/bin:/bin", **({threads.ENV: setting} if setting is not None else {})}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return sorted(map(tuple, json.loads(out.stdout)))


def test_a_run_limits_numpy_and_scipys_blas_and_zero_leaves_them_as_they_were():
    limited = _blas_pools("1")
    assert len(limited) >= 2 and {n for _, n in limited} == {1}  # numpy's and scipy's own OpenBLAS
    assert _blas_pools("0") == _blas_pools(None)


def test_a_bad_setting_is_one_line_and_exit_2_before_anything_runs(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(threads.ENV, "many")
    code = main(["predict", "--model_uri", "models:/none@champion", "--input", str(tmp_path / "in.csv"),
                 "--output", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and threads.ENV in err
    assert not (tmp_path / "out.csv").exists()
