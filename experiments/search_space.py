"""The Optuna search space over the seed report's knobs, and the estimator each point builds.

Everything the seed report fixed by hand (architecture, lr, epochs, batch size, alpha) and
everything it says "can be added" (batch norm, dropout, weight decay), plus DEC vs IDEC,
IDEC's gamma and the target update interval, in one place.
"""

from __future__ import annotations

ARCHITECTURES = {  # encoder hidden sizes before the latent layer
    "256-128": (256, 128),
    "512-256": (512, 256),
    "256": (256,),
    "500-500-2000": (500, 500, 2000),  # Xie et al. 2016's DEC architecture
}


def suggest(trial, config) -> dict:
    """Sample one configuration; the keys are ``make_estimator``'s arguments."""
    method = config.method if config.method != "search" else trial.suggest_categorical("method", ["dec", "idec"])
    params = {
        "method": method,
        "architecture": trial.suggest_categorical("architecture", list(ARCHITECTURES)),
        "latent_dim": trial.suggest_categorical("latent_dim", [10, 32, 64, 128]),
        "lr": trial.suggest_float("lr", 1e-4, 3e-3, log=True),
        "pretrain_epochs": trial.suggest_int("pretrain_epochs", min(5, config.max_pretrain_epochs), config.max_pretrain_epochs),
        "epochs": trial.suggest_int("epochs", min(2, config.max_epochs), config.max_epochs),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
        "alpha": trial.suggest_float("alpha", 0.5, 2.0),
        "dec_lr": trial.suggest_float("dec_lr", 1e-5, 1e-3, log=True),
        "update_interval": trial.suggest_int("update_interval", 1, 3),
        "batch_norm": trial.suggest_categorical("batch_norm", [False, True]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.3),
        "weight_decay": trial.suggest_categorical("weight_decay", [0.0, 1e-5, 1e-4]),
    }
    if method == "idec":
        params["gamma"] = trial.suggest_float("gamma", 0.01, 1.0, log=True)
    return params


def default_params(method: str = "dec") -> dict:
    """The seed report's configuration, in ``suggest``'s vocabulary."""
    params = {"method": method, "architecture": "256-128", "latent_dim": 64, "lr": 1e-3, "pretrain_epochs": 20,
              "epochs": 10, "batch_size": 64, "alpha": 1.0, "dec_lr": 1e-4, "update_interval": 1,
              "batch_norm": False, "dropout": 0.0, "weight_decay": 0.0}
    if method == "idec":
        params["gamma"] = 0.1
    return params


def make_estimator(params: dict, *, n_clusters: int, random_state: int, device=None):
    """A DEC or IDEC estimator for one point of the space (unknown keys are an error)."""
    from clustering.dec import DEC, IDEC

    params = dict(params)
    method = params.pop("method", "dec")
    hidden = (*ARCHITECTURES[params.pop("architecture", "256-128")], int(params.pop("latent_dim", 64)))
    cls = {"dec": DEC, "idec": IDEC}[method]
    if method == "dec":
        params.pop("gamma", None)
    return cls(n_clusters, hidden_dims=hidden, random_state=random_state, device=device, **params)
