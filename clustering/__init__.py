"""Deep text clustering: texts -> Sentence-BERT embeddings -> autoencoder latent -> clusters.

The library imports neither MLflow nor Optuna; tracking and tuning live in ``experiments``.
Heavy dependencies (torch, sentence-transformers, datasets) are imported by the modules
that need them, so ``import clustering`` stays cheap.
"""

__version__ = "0.1.0"
