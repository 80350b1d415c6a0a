"""Make the README's pictures (docs/*.png) from the latest `make run`, never by hand.

    .venv/bin/python scripts/readme_pictures.py [--tracking-uri sqlite:///mlflow.db] [--out docs]

From the newest finished `main` parent run of the experiment it copies the t-SNE of the
latent space (by cluster and by label), the class x cluster heatmap and the study's history
(the run's own artifacts), and takes a headless-Chromium screenshot of MLflow's trial
comparison (parallel coordinates) of that study's trials, served by `mlflow ui` on a free
port, driven over the DevTools protocol (a pipe: no extra package). MLflow 3.17 opens its
assistant panel on a local server's first visit; the script tells the page it did already
and that the panel is closed, and refuses to save a screenshot with the panel open. Every picture is
saved as a palette PNG of a few hundred KB at most. Needs Chromium (`apt-get install
chromium`, or `make test` as root, which installs it).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = {"tsne_latent.png": "tsne_latent.png", "contingency.png": "contingency.png",
             "optuna_history.png": "optuna_history.png"}
MAX_WIDTH = 1400
# What the parallel-coordinates plot shows: the searched settings and the scores.
PARAMS = ["method", "architecture", "latent_dim", "alpha", "batch_size"]
METRICS = ["objective", "nmi", "acc"]
# MLflow 3.17's local-storage keys: the assistant panel was opened once already, and is closed.
ASSISTANT_CLOSED = {"mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": "true", "mlflow.assistant.panelOpen_v1": "false"}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1500,950", "--virtual-time-budget=30000"]


def small_png(source: Path, dest: Path, max_width: int = MAX_WIDTH) -> None:
    """``source`` as an optimised 256-colour PNG at most ``max_width`` pixels wide."""
    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > max_width:
            image = image.resize((max_width, round(image.height * max_width / image.width)), Image.LANCZOS)
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(dest, optimize=True)


def latest_main_run(client, experiment_name: str):
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        sys.exit(f"error: no experiment {experiment_name!r} in {client.tracking_uri}: run `make run` first")
    runs = client.search_runs([experiment.experiment_id], "tags.entry_point = 'main' and attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"], max_results=1)
    if not runs:
        sys.exit(f"error: no finished `main` run in experiment {experiment_name!r}: run `make run` first")
    return experiment, runs[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (no extra packages)."""

    def __init__(self, binary: str, profile: str):
        # Chromium reads commands on fd 3 and writes replies on fd 4, each a JSON text ending in NUL;
        # the child keeps 3 and 4 open (pass_fds) once preexec_fn has put the pipe ends there.
        to_child, self._out = os.pipe()
        self._in, from_child = os.pipe()
        flags = [f for f in CHROMIUM_FLAGS if not f.startswith("--virtual-time")]
        self.proc = subprocess.Popen([binary, *flags, f"--user-data-dir={profile}", "--remote-debugging-pipe"],
                                     pass_fds=(to_child, from_child, 3, 4), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=lambda: (os.dup2(to_child, 3),
                                                                                    os.dup2(from_child, 4)))
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._id = 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def call(self, method: str, session: str | None = None, **params):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed its DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def page(self, method: str, **params):
        return self.call(method, self.session, **params)

    def js(self, expression: str):
        result = self.page("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.js(expression):
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {expression}")
            time.sleep(0.5)

    def type_into(self, selector_index: int, words: list[str]) -> None:
        """Pick ``words`` in the ``selector_index``-th combobox: click it, type each word, Enter."""
        for word in words:
            self.js(f"document.querySelectorAll('input[role=combobox]')[{selector_index}].focus()")
            self.js(f"document.querySelectorAll('input[role=combobox]')[{selector_index}].click()")
            self.page("Input.insertText", text=word)
            time.sleep(0.7)
            for kind in ("keyDown", "keyUp"):
                self.page("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13)
            time.sleep(0.5)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def screenshot_compare(tracking_uri: str, experiment_id: str, run_ids: list[str], dest: Path) -> None:
    """Headless Chromium's screenshot of MLflow's compare page for ``run_ids``, no side panel."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("error: headless Chromium is needed for the MLflow screenshot: apt-get install chromium")
    port = free_port()
    env = {**os.environ, "MLFLOW_LOGGING_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri,
                               "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    browser = None
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("error: mlflow ui did not come up")
                time.sleep(1)
        base = f"http://127.0.0.1:{port}/"
        query = urllib.parse.urlencode({"runs": json.dumps(run_ids), "experiments": json.dumps([experiment_id])})
        with tempfile.TemporaryDirectory() as profile:
            browser = Chromium(chromium, profile)
            browser.page("Page.enable")
            # MLflow opens its assistant panel on a local server's first visit unless told it did already.
            browser.page("Page.navigate", url=base)
            browser.wait_for("document.readyState === 'complete' && !!document.querySelector('button')")
            for key, value in ASSISTANT_CLOSED.items():
                browser.js(f"localStorage.setItem({json.dumps(key)}, {json.dumps(value)})")
            browser.page("Page.navigate", url=f"{base}#/compare-runs?{query}")
            browser.wait_for("document.querySelectorAll('input[role=combobox]').length >= 2")
            browser.wait_for("!!document.querySelector('.js-plotly-plot')")
            browser.js("[...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Clear All')?.click()")
            time.sleep(1)
            browser.type_into(0, PARAMS)
            browser.type_into(1, METRICS)
            browser.js("document.activeElement && document.activeElement.blur()")
            browser.js("document.body.click()")
            # The panel may still open on this visit: close it with its own button, and the sidebar too.
            close = "document.querySelector('[data-component-id=\"mlflow.assistant.chat_panel.close\"]')"
            browser.js(f"{close}?.click()")
            browser.js("document.querySelector('[data-component-id=\"mlflow_header.toggle_sidebar_button\"]')?.click()")
            time.sleep(1)
            browser.js("window.dispatchEvent(new Event('resize'))")  # the plot takes the freed width
            time.sleep(2)
            if browser.js(f"!!{close}"):
                sys.exit("error: MLflow's assistant panel is still open over the page; this script needs updating")
            shot = browser.page("Page.captureScreenshot", format="png")["data"]
        raw = dest.with_suffix(".raw.png")
        raw.write_bytes(base64.b64decode(shot))
        small_png(raw, dest)
        raw.unlink()
    finally:
        if browser is not None:
            browser.close()
        server.terminate()
        server.wait(timeout=30)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    parser.add_argument("--experiment", default="deep-text-clustering")
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    os.chdir(ROOT)  # sqlite:///mlflow.db and its ./mlruns artifacts are relative to the repository
    client = mlflow.MlflowClient(args.tracking_uri)
    experiment, parent = latest_main_run(client, args.experiment)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for artifact, name in ARTIFACTS.items():
            small_png(Path(client.download_artifacts(parent.info.run_id, artifact, tmp)), out / name)
    trials = client.search_runs([experiment.experiment_id],
                                f"tags.mlflow.parentRunId = '{parent.info.run_id}' and tags.stage = 'trial' "
                                "and attributes.status = 'FINISHED'", max_results=200)
    if len(trials) < 2:
        sys.exit("error: the run has fewer than 2 finished trials to compare")
    screenshot_compare(args.tracking_uri, experiment.experiment_id, [r.info.run_id for r in trials],
                       out / "mlflow_compare.png")
    for name in [*ARTIFACTS.values(), "mlflow_compare.png"]:
        path = out / name
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        print(f"{shown}: {path.stat().st_size / 1024:.0f} KB")
    print(f"from run {parent.info.run_id} ({len(trials)} trials compared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
