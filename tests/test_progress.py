"""experiments/progress.py: a long fit shows a bar that ticks per epoch, on a terminal only."""

import io

import numpy as np
import pytest

from clustering.dec import DEC
from experiments import evaluation
from experiments.progress import epoch_bar


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 0.3, size=(40, 8)) for c in (-2, 0, 2)]).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_a_dec_fit_ticks_once_per_epoch_of_both_stages(X):
    out, seen = io.StringIO(), []
    with epoch_bar("final DEC, seed 0", lambda step, logs: seen.append(logs["stage"]), file=out,
                   disable=False, mininterval=0) as tick:  # every tick drawn, however loaded the machine
        DEC(3, hidden_dims=(16, 4), pretrain_epochs=3, epochs=2, n_init=2).fit(X, callback=tick)
    text = out.getvalue()
    # the wrapped callback still sees every epoch: 3 of pretraining, then DEC's (it may stop early)
    assert seen[:3] == ["pretrain"] * 3 and seen[3:] and set(seen[3:]) == {"cluster"}
    assert "final DEC, seed 0" in text and f"{len(seen)}epoch" in text.replace(" ", "")
    assert "stage=pretrain" in text and "stage=cluster" in text


def test_the_bar_keeps_the_callbacks_answer_and_is_silent_off_a_terminal(X):
    out = io.StringIO()  # not a terminal: disable=None turns the bar off
    with epoch_bar("trial 3", lambda step, logs: True, file=out) as tick:
        assert tick(0, {"stage": "pretrain", "ae_loss": 0.5}) is True
    assert out.getvalue() == ""


def test_evaluation_fit_with_progress_fits_as_without(X):
    with_bar = evaluation.fit(DEC(3, hidden_dims=(16, 4), pretrain_epochs=2, epochs=1, n_init=2), X,
                              progress="baseline")
    without = evaluation.fit(DEC(3, hidden_dims=(16, 4), pretrain_epochs=2, epochs=1, n_init=2), X)
    np.testing.assert_array_equal(with_bar.labels_, without.labels_)
