"""experiments.quiet: known-harmless warnings say nothing, any other says one line."""

import subprocess
import sys

SCRIPT = r'''
import warnings
import numpy as np
from experiments.quiet import quiet_known_warnings
quiet_known_warnings()
from sklearn.cluster import KMeans
KMeans(4, n_init=1, random_state=0).fit(np.zeros((20, 2)))             # coincident points
import experiments.model                                                # MLflow's type-hint hint
from clustering.metrics import evaluate
evaluate(np.array([0, 1, 0, 1]), np.zeros(4, int), np.random.default_rng(0).random((4, 3)))
warnings.warn("something real\nwith a second line")
print("done")
'''


def test_known_warnings_are_silent_and_others_take_one_line():
    proc = subprocess.run([sys.executable, "-W", "default", "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert [line for line in lines if line.startswith("warning: something real (UserWarning, <string>:")], lines
    for quiet in ("Number of distinct clusters", "Add type hints", "internal scores need", "second line"):
        assert not [line for line in lines if quiet in line], lines
    assert all(line.startswith("warning: ") for line in lines if "Warning" in line), lines
