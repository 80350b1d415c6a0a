"""Label-free early stopping for DEC's stage 2 (``DEC(early_stopping=True)``)."""

from __future__ import annotations

import numpy as np


class _Monitor:
    """Label-free early stopping for DEC's stage 2: the best-scoring state seen so far.

    Scores a hard assignment by its silhouette in the input space (cosine) on a fixed,
    seeded sample of rows, so every state is judged in the same space by the same points.
    A single cluster on the sample scores -1, below any real partition.
    """

    def __init__(self, X: np.ndarray, sample: int, random_state: int):
        rng = np.random.default_rng(random_state)
        self.rows = np.sort(rng.choice(len(X), size=min(sample, len(X)), replace=False))
        self.X = X[self.rows]
        self.scores: list[float] = []
        self.best_score, self.best_iter, self.best_state, self.since_best = -np.inf, 0, None, 0

    def score(self, labels: np.ndarray) -> float:
        from clustering.metrics import cosine_silhouette_samples

        sampled = labels[self.rows]
        if not 2 <= len(np.unique(sampled)) <= len(sampled) - 1:
            return -1.0
        return float(np.mean(cosine_silhouette_samples(self.X, sampled)))

    def update(self, labels, iteration: int, encoder, centers) -> bool:
        """Score the state after ``iteration`` DEC epochs; keep it if it is the best. True if kept."""
        value = self.score(labels)
        self.scores.append(value)
        if value > self.best_score:
            self.best_score, self.best_iter, self.since_best = value, iteration, 0
            self.best_state = ({k: v.detach().clone() for k, v in encoder.state_dict().items()},
                               centers.detach().clone())
            return True
        self.since_best += 1
        return False

    def exhausted(self, patience: int) -> bool:
        return self.since_best >= patience

    def restore(self, encoder, centers) -> int:
        """Put the best state back into ``encoder`` and ``centers``; return its iteration."""
        import torch

        weights, best_centers = self.best_state
        encoder.load_state_dict(weights)
        with torch.no_grad():
            centers.copy_(best_centers)
        return self.best_iter
