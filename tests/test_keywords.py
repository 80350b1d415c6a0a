"""c-TF-IDF keywords: scores worked out by hand, obvious top terms, clusters without terms."""

import math

import numpy as np
import pytest

from clustering.keywords import class_tfidf, cluster_keywords, keywords_table


def test_class_tfidf_by_hand():
    # Class 0: apple x2, banana x1 (3 words); class 1: banana x1, cherry x1 (2 words).
    # A = 2.5 words per class; f = apple 2, banana 2, cherry 1.
    weights = class_tfidf(np.array([[2, 1, 0], [0, 1, 1]]))
    expected = np.array(
        [
            [2 / 3 * math.log(1 + 2.5 / 2), 1 / 3 * math.log(1 + 2.5 / 2), 0.0],
            [0.0, 1 / 2 * math.log(1 + 2.5 / 2), 1 / 2 * math.log(1 + 2.5 / 1)],
        ]
    )
    np.testing.assert_allclose(weights, expected)


def test_class_tfidf_empty_class_is_zero_not_nan():
    weights = class_tfidf(np.array([[3, 0], [0, 0]]))
    assert np.isfinite(weights).all()
    np.testing.assert_array_equal(weights[1], 0.0)


def test_cluster_keywords_matches_hand_scores():
    texts = ["apple apple", "banana", "banana cherry"]
    kw = cluster_keywords(texts, [0, 0, 1], stop_words=None)
    assert [t for t, _ in kw[0]] == ["apple", "banana"]
    assert [t for t, _ in kw[1]] == ["cherry", "banana"]
    assert kw[0][0][1] == pytest.approx(2 / 3 * math.log(2.25))
    assert kw[1][0][1] == pytest.approx(0.5 * math.log(3.5))


def test_top_term_of_each_cluster_is_obvious():
    texts = [
        "goal goal match in the league",
        "a late goal won the match",
        "shares fell on the stock market",
        "stock prices and shares rose",
        "rocket launch to orbit",
        "the rocket reached orbit",
    ]
    kw = cluster_keywords(texts, [5, 5, 7, 7, 9, 9], top_n=2)
    assert set(kw) == {5, 7, 9}
    assert kw[5][0][0] == "goal"
    assert {t for t, _ in kw[7]} == {"shares", "stock"}
    assert {t for t, _ in kw[9]} == {"rocket", "orbit"}
    assert all(len(terms) == 2 for terms in kw.values())
    assert all(isinstance(s, float) and s > 0 for terms in kw.values() for _, s in terms)


def test_cluster_with_only_stop_words_gets_empty_list():
    kw = cluster_keywords(["rocket orbit", "the and of", ""], [0, 1, 2])
    assert kw[0] and kw[1] == [] and kw[2] == []


def test_no_usable_terms_at_all():
    assert cluster_keywords(["the", "and of"], [0, 1]) == {0: [], 1: []}


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="labels"):
        cluster_keywords(["a b", "c d"], [0])


def test_keywords_table_columns_and_ranks():
    texts = ["apple apple", "banana", "banana cherry", "the"]
    table = keywords_table(texts, [0, 0, 1, 2], stop_words="english", top_n=1)
    assert list(table.columns) == ["cluster", "rank", "term", "score"]
    assert table[["cluster", "rank", "term"]].values.tolist() == [[0, 1, "apple"], [1, 1, "cherry"]]
    assert keywords_table(["the"], [0]).empty
