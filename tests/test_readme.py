"""Every command in README.md, run as written, in a fresh shell, in a copy of the repository.

The README's ```bash blocks run in ``bash -e`` and its ```python blocks in the venv's Python,
in README order, each in a new process whose environment has no venv active (as a new
terminal has), in one throw-away copy of the repository that shares the venv. What changes:

- sizes only: every ``mlflow run`` and ``make run`` gets ``n_per_class=25``, 2 trials, at most
  2 seeds, 3 + 2 epochs and 100 t-SNE points (a value the command gives is replaced, a missing
  one added), and ``load_corpus("ag_news_test")`` draws 25 articles per class;
- the files the README asks a user to bring (``texts.csv``, ``my_texts.csv``) are made here;
- ports move to free ones (PostgreSQL's 55432, MLflow's 5055, ``make ui``'s 5000 via ``UI_PORT``,
  ``make serve``'s 5001 via ``SERVE_PORT``);
- ``make test`` runs as ``make -n test`` (it is the command running this test); ``make ui``, a
  server, runs until it answers, then stops; ``make serve`` runs until it answers and serves the
  blocks after it until the end.

A block preceded by ``<!-- readme-test: why -->`` is not run (multi-machine templates whose
host names and password are placeholders); "Try it on one machine" runs the same commands.
Slow (about 4-6 minutes on 2 cores): marked ``slow``, and CI runs it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
VENV = Path(sys.prefix)
SMALL = {"n_per_class": "25", "n_trials": "2", "max_pretrain_epochs": "3", "max_epochs": "2", "tsne_points": "100"}
MAX_SEEDS = 2
_NOT_RUN = re.compile(r"^<!--\s*readme-test:\s*(?P<why>.+?)\s*-->$")
_FAILED = ("Traceback (most recent call last)", "\nerror: ", "failed ===", "No module named")

pytestmark = pytest.mark.slow


@dataclass
class Block:
    lang: str
    code: str
    line: int  # of the opening fence, 1-based
    not_run: str | None  # why, for a marked template

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.lang})"


def readme_blocks(text: str) -> list[Block]:
    """The fenced code blocks of ``text`` with their language and an optional not-run note."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        note = _NOT_RUN.match(before)
        blocks.append(Block(fence.group(1), "\n".join(lines[i + 1 : end]), i + 1, note and note.group("why")))
        i = end + 1
    return blocks


def _small_params(command: str) -> str:
    """``command`` (one ``mlflow run``) with the sizes of SMALL: values replaced, missing ones added."""
    seen = set()

    def replace(m):
        key, value = m.group("key"), m.group("value")
        seen.add(key)
        if key == "n_seeds":
            return f"-P n_seeds={min(int(value), MAX_SEEDS)}"
        return f"-P {key}={SMALL[key]}" if key in SMALL else m.group(0)

    command = re.sub(r"-P (?P<key>\w+)=(?P<value>'[^']*'|\"[^\"]*\"|\S+)", replace, command)
    extra = " ".join(f"-P {k}={v}" for k, v in {**SMALL, "n_seeds": str(MAX_SEEDS)}.items() if k not in seen)
    background = re.search(r"\s*&\s*$", command)
    if background:
        return command[: background.start()] + f" {extra} &"
    return f"{command} {extra}"


def _small_make_args(command: str) -> str:
    """``make run ... ARGS="..."`` with the sizes of SMALL inside its ARGS."""
    m = re.search(r'ARGS="(?P<args>[^"]*)"', command)
    if not m:
        return command  # ARGS comes from the environment (see fresh_env)
    args = _small_params("mlflow run " + m.group("args"))[len("mlflow run "):]
    return command[: m.start()] + f'ARGS="{args}"' + command[m.end():]


def shrink_shell(code: str, ports: dict[str, int]) -> str:
    """The block as it runs here: continuation lines joined, sizes small, ports free."""
    code = code.replace("\\\n", " ")
    out = []
    for line in code.splitlines():
        if re.search(r"\bmlflow run\b", line) and not re.search(r"-e predict\b", line):  # predict has no sizes
            line = _small_params(line)
        elif re.match(r"\s*make run\b", line):
            line = _small_make_args(line)
        elif re.match(r"\s*make test\b", line):
            line = re.sub(r"\bmake test\b", "make -n test", line)
        for old, new in ports.items():
            line = re.sub(rf"\b{old}\b", str(new), line)
        out.append(line)
    return "\n".join(out)


def shrink_python(code: str) -> str:
    return code.replace('load_corpus("ag_news_test")', f'load_corpus("ag_news_test", n_per_class={SMALL["n_per_class"]})')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_repository(dest: Path) -> None:
    """The files a clone would have (tracked, plus new ones git does not ignore), mtimes kept."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.fail(f"tests/test_readme.py copies the repository with git ls-files: {listed.stderr.strip()}")
    for name in filter(None, listed.stdout.split("\0")):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)  # mtimes kept: make sees the venv as up to date
    (dest / ".venv").symlink_to(VENV)


def fresh_env(sandbox: Path, ports: dict[str, int]) -> dict[str, str]:
    """A new terminal's environment: no venv active, no tracking URI, nothing MLflow set for us."""
    venv_bin = str(VENV / "bin")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "PYTEST_", "VIRTUAL_ENV", "PG")) and k not in ("ARGS", "DATA")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    env["CLUSTERING_CACHE_DIR"] = str(sandbox / ".cache" / "embeddings")
    # `make run` with no DATA/ARGS on its command line reads these: the sizes only.
    env["ARGS"] = " ".join(f"-P {k}={v}" for k, v in {**SMALL, "n_seeds": str(MAX_SEEDS)}.items())
    env["UI_PORT"], env["SERVE_PORT"] = str(ports["5000"]), str(ports["5001"])
    env["PG_PORT"], env["MLFLOW_PORT"] = str(ports["55432"]), str(ports["5055"])
    return env


SERVERS = {"ui": ("5000", "/health"), "serve": ("5001", "/ping")}  # make target -> README port, health path


def start_server(command: str, sandbox: Path, env: dict, url: str) -> tuple[subprocess.Popen, str]:
    """`make ui` / `make serve` serve until stopped: start one, wait until ``url`` answers (or say why not)."""
    proc = subprocess.Popen(["bash", "-c", command], cwd=sandbox, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    from conftest import wait_for_url

    return proc, "" if wait_for_url(url, proc) else f"{command.strip()} did not answer on {url} (exit code {proc.poll()})"


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_readme_blocks_are_found_and_every_skipped_one_says_why():
    blocks = readme_blocks(README.read_text())
    runnable = [b for b in blocks if b.lang in ("bash", "python") and not b.not_run]
    assert len(runnable) >= 10, [str(b) for b in blocks]
    assert all(b.not_run for b in blocks if b.lang in ("bash", "python") and b not in runnable)
    assert not [b for b in blocks if b.lang in ("sh", "shell", "console", "py")], "use ```bash or ```python"


def test_shrinking_changes_sizes_and_ports_only():
    ports = {"55432": 6001, "5055": 6002, "5000": 6003}
    assert shrink_shell("mlflow run . -e selftrain -P data=ag_news_test -P n_per_class=0 -P n_seeds=5", ports) == (
        "mlflow run . -e selftrain -P data=ag_news_test -P n_per_class=25 -P n_seeds=2 -P n_trials=2 "
        "-P max_pretrain_epochs=3 -P max_epochs=2 -P tsne_points=100")
    assert shrink_shell("  mlflow run . \\\n   -P storage=postgresql://dtc@127.0.0.1:55432/optuna -P n_trials=20 &",
                        ports).endswith("127.0.0.1:6001/optuna -P n_trials=2 -P n_per_class=25 -P max_pretrain_epochs=3 "
                                        "-P max_epochs=2 -P tsne_points=100 -P n_seeds=2 &")
    assert shrink_shell('make run DATA=my.csv ARGS="-P label_column=none"', ports) == (
        'make run DATA=my.csv ARGS="-P label_column=none -P n_per_class=25 -P n_trials=2 -P max_pretrain_epochs=3 '
        '-P max_epochs=2 -P tsne_points=100 -P n_seeds=2"')
    assert shrink_shell("make test    # the suite", ports) == "make -n test    # the suite"
    predict = "mlflow run . -e predict -P input=texts.csv -P output=out.parquet"
    assert shrink_shell(predict, ports) == predict  # it takes no sizes


def test_every_readme_command_runs_as_written_in_a_fresh_shell():
    stamp = VENV / "bin" / ".installed"
    if not stamp.is_file() or stamp.stat().st_mtime < (REPO / "pyproject.toml").stat().st_mtime:
        pytest.fail("the venv is older than pyproject.toml: run `make venv` (the README's make commands would "
                    "reinstall it from the copy)")
    # PostgreSQL runs as `postgres` when we are root: it must be able to enter the copy.
    sandbox = Path(tempfile.mkdtemp(prefix="dtc-readme-"))
    sandbox.chmod(0o755)
    ports = {"55432": free_port(), "5055": free_port(), "5000": free_port(), "5001": free_port()}
    servers = []
    try:
        copy_repository(sandbox)
        env = fresh_env(sandbox, ports)
        ag = __import__("clustering.data", fromlist=["load_corpus"]).load_corpus("ag_news_test", n_per_class=10, seed=1)
        import pandas as pd

        pd.DataFrame({"text": ag.texts[:4]}).to_csv(sandbox / "texts.csv", index=False)
        pd.DataFrame({"body": ag.texts}).to_csv(sandbox / "my_texts.csv", index=False)  # unlabelled, 40 texts

        from conftest import has_java, has_postgres

        ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
        postgres, java = has_postgres() or ci, has_java() or ci
        failures, skipped = [], []
        pgpass = sandbox / ".local_cluster" / "pgpass"  # the multi-worker path's passwords, once made
        for block in readme_blocks(README.read_text()):
            if block.lang not in ("bash", "python") or block.not_run:
                continue
            if ("local_cluster.sh" in block.code and not postgres) or (re.search(r"engine[ =]spark", block.code) and not java):
                skipped.append(str(block))
                continue
            start = time.monotonic()
            if block.lang == "python":
                script = sandbox / f"readme_{block.line}.py"
                script.write_text(shrink_python(block.code))
                command = [str(VENV / "bin" / "python"), script.name]
            else:
                code = shrink_shell(block.code, ports)
                server = re.match(r"\s*make (ui|serve)\b", code)
                if server:  # `make ui` stops once it answers; `make serve` answers the blocks after it
                    port, path = SERVERS[server.group(1)]
                    proc, problem = start_server(code, sandbox, env, f"http://127.0.0.1:{ports[port]}{path}")
                    if problem:
                        failures.append(f"{block}: {problem}\n{proc.stdout.read()[-3000:] if proc.poll() is not None else ''}")
                    (servers.append if server.group(1) == "serve" and not problem else stop_server)(proc)
                    continue
                command = ["bash", "-e", "-o", "pipefail", "-c", code]
            proc = subprocess.run(command, cwd=sandbox, env=env, capture_output=True, text=True, timeout=900)
            output = proc.stdout + proc.stderr
            bad = [marker for marker in _FAILED if marker in output]
            bad += [f"a password of {pgpass.name} on the console" for secret in _passwords(pgpass) if secret in output]
            if proc.returncode != 0 or bad:
                failures.append(f"{block}: exit code {proc.returncode} {bad}\n{' '.join(map(shlex.quote, command))}\n"
                                f"{output[-3000:]}")
            print(f"{block}: {time.monotonic() - start:.0f}s")
        assert not failures, "\n\n".join(failures)
        if skipped:
            pytest.skip(f"every other block ran; not {', '.join(skipped)}: PostgreSQL's server programs or a Java "
                        "runtime are missing (run `make test` as root on Debian, or apt-get install postgresql curl "
                        "procps default-jre-headless)")
    finally:
        for proc in servers:
            stop_server(proc)
        if (sandbox / ".local_cluster").exists():  # never leave PostgreSQL or mlflow server running
            subprocess.run(["bash", "scripts/local_cluster.sh", "down"], cwd=sandbox, env=fresh_env(sandbox, ports),
                           capture_output=True, timeout=120)
        shutil.rmtree(sandbox, ignore_errors=True)


def _passwords(pgpass: Path) -> set[str]:
    """The passwords in a libpq password file (``host:port:db:user:password`` lines), if it exists."""
    if not pgpass.is_file():
        return set()
    return {line.rsplit(":", 1)[1] for line in pgpass.read_text().splitlines() if line.count(":") >= 4}


def test_the_readme_pictures_exist_and_are_small():
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README.read_text())
    assert len(pictures) >= 4
    for name in pictures:
        path = REPO / name
        assert path.is_file(), f"{name}: make it with scripts/readme_pictures.py"
        assert path.stat().st_size < 400_000, f"{name} is {path.stat().st_size / 1e3:.0f} KB"


def test_generated_files_name_repository_relative_paths_only():
    generated = [REPO / "benchmarks" / "RESULTS.md", *sorted((REPO / "benchmarks" / "results").glob("*.json"))]
    for path in generated:
        text = path.read_text()
        for absolute in (str(REPO), str(REPO.parent), "/shared/data/"):
            assert absolute not in text, f"{path.relative_to(REPO)} names {absolute}"
