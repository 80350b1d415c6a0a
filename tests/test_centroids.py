"""Tests for clustering/centroids.py: the assignment to fixed centres, worked out by hand."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from clustering.centroids import CentroidAssigner, centroid_proba, l2_normalize, nearest_centre


def test_centroid_proba_rows_sum_to_one_and_agree_with_the_nearest_centre():
    p = centroid_proba(np.array([[2.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [0.0, 3.0]]), 0.1)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
    # row 0 logits: (2 - 0.5, 0 - 4.5) / 0.1 = (15, -45)
    np.testing.assert_allclose(p[0, 0], 1 / (1 + np.exp(-60)), rtol=1e-6)
    # k-means centres of unit vectors are shorter than 1, so cosine and distance can disagree:
    # x is closer in angle to the short centre (0.714 > 0.7) but nearer the long one
    # (|x - c0|^2 = 0.60 < |x - c1|^2 = 0.66); the argmax must be the nearest, as k-means labels
    x = np.array([[0.7, np.sqrt(1 - 0.49)]])
    assert centroid_proba(x, np.array([[1.0, 0.0], [0.0, 0.3]]), 0.1).argmax() == 0
    assert nearest_centre(x, np.array([[1.0, 0.0], [0.0, 0.3]])).tolist() == [0]


def test_l2_normalize_scales_rows_and_keeps_zero_rows():
    np.testing.assert_allclose(l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]])), [[0.6, 0.8], [0.0, 0.0]])


def test_assigner_predicts_the_nearest_of_its_centres():
    head = CentroidAssigner(2, temperature=0.1)
    with pytest.raises(NotFittedError):
        head.predict(np.eye(2))
    head.set_centers([[1.0, 0.0], [0.0, 1.0]])
    X = np.array([[0.9, 0.1], [0.2, 0.8]])
    assert head.predict(X).tolist() == [0, 1]
    np.testing.assert_array_equal(head.predict_proba(X).argmax(1), [0, 1])
    with pytest.raises(ValueError, match="features"):
        head.predict(np.ones((1, 3)))
