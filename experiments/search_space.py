"""The Optuna search space over the seed report's knobs, and the estimator each point builds.

The plain MiniLM + KMeans every deep method starts from is a point of the space
(``method="kmeans"``) and the first trial of every new study, so the study, and the
champion it picks, can never end below it by the study's own objective. DEC and IDEC in the
space start from that same KMeans partition (``init="input"``) and keep the best state by a
label-free score (``early_stopping``); the seed report's settings (``default_params``) stay
as they were, as the reference the benchmarks compare against.

Everything the seed report fixed by hand (architecture, lr, epochs, batch size, alpha) and
everything it says "can be added" (batch norm, dropout, weight decay), plus DEC vs IDEC,
IDEC's gamma and the target update interval, in one place; and the self-training
clusterer, which fine-tunes the sentence encoder itself (``method="selftrain"``; its
knobs are searched under ``st_*`` names so they never share a distribution with DEC's).

DEC and IDEC fit the fixed Sentence-BERT embeddings; self-training fits the raw texts and
re-embeds them as it trains. ``fit_estimator`` hides that difference (and
``clustering.metrics.own_space`` gives each fitted model's space).
"""

from __future__ import annotations

ARCHITECTURES = {  # encoder hidden sizes before the latent layer
    "256-128": (256, 128),
    "512-256": (512, 256),
    "256": (256,),
    "500-500-2000": (500, 500, 2000),  # Xie et al. 2016's DEC architecture
}

# The named self-training configuration (`mlflow run . -e selftrain`): SCCL's two losses
# (KL to the sharpened target + instance contrast), with nearest neighbours in the starting
# space as positives, one epoch on the top two layers of the encoder. Measured on AG News in
# benchmarks/RESULTS.md; nothing in it depends on the corpus. These are also
# SelfTrainingClusterer's own defaults, spelled out so that the run's params show them.
SELFTRAIN_DEFAULTS = {
    "method": "selftrain",
    "objective": "kl",
    "rounds": 1,
    "epochs_per_round": 1,
    "lr": 2e-4,
    "batch_size": 64,
    "trainable_layers": 2,
    "positives": "neighbors",
    "n_neighbors": 10,
    "contrastive_weight": 1.0,
}


# The deep methods' safeguards in the study: start from KMeans on the embeddings and keep the
# state the label-free monitor scores best (clustering.dec). Not searched: each trial would
# otherwise spend a slot rediscovering that dropping them loses to KMeans on many-class data.
ROBUST = {"init": "input", "early_stopping": True}


def suggest(trial, config) -> dict:
    """Sample one configuration; the keys are ``make_estimator``'s arguments."""
    if config.method != "search":
        method = config.method
    else:
        method = trial.suggest_categorical("method", list(config.search_method_list))
    if method == "kmeans":
        return {"method": "kmeans"}
    if method == "selftrain":
        return suggest_selftrain(trial, config)
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
        **ROBUST,
    }
    if method == "idec":
        params["gamma"] = trial.suggest_float("gamma", 0.01, 1.0, log=True)
    return params


def suggest_selftrain(trial, config) -> dict:
    """Self-training knobs; the ranges hold what a 2-core CPU can run in minutes per trial."""
    objective = trial.suggest_categorical("st_objective", ["kl", "ce", "none"])
    params = {
        "method": "selftrain",
        "objective": objective,
        "rounds": trial.suggest_int("st_rounds", 1, 2),
        "epochs_per_round": trial.suggest_int("st_epochs_per_round", 1, min(2, config.max_epochs)),
        "lr": trial.suggest_float("st_lr", 2e-5, 5e-4, log=True),
        "trainable_layers": trial.suggest_int("st_trainable_layers", 1, 3),
        "positives": trial.suggest_categorical("st_positives", ["neighbors", "dropout"]),
        "contrastive_weight": trial.suggest_float("st_contrastive_weight", 0.1 if objective == "none" else 0.0, 1.0),
    }
    if objective == "ce":
        params["confident_fraction"] = trial.suggest_float("st_confident_fraction", 0.3, 1.0)
    return params


def from_trial_params(params: dict, method: str = "dec") -> dict:
    """A trial's params (Optuna's names) in ``make_estimator``'s vocabulary, defaults filled in.

    ``method`` applies when the trial did not choose one (the study fixed it). DEC and IDEC
    trials always ran with the ``ROBUST`` settings, which Optuna does not record.
    """
    method = params.get("method", method)
    chosen = {k.removeprefix("st_"): v for k, v in params.items()} if method == "selftrain" else dict(params)
    robust = ROBUST if method in ("dec", "idec") else {}
    return {**default_params(method), **robust, **chosen, "method": method}


def known_params(method: str) -> set[str]:
    """Every key ``make_estimator`` accepts for ``method``."""
    if method == "selftrain":
        from clustering.selftrain import SelfTrainingClusterer

        return {"method"} | set(SelfTrainingClusterer().get_params()) - {"n_clusters", "model", "random_state", "device"}
    if method == "kmeans":
        return {"method", "n_init"}
    return set(default_params("idec")) | set(ROBUST) | {"patience", "monitor_sample"}


def default_params(method: str = "dec") -> dict:
    """The seed report's configuration (DEC, IDEC), KMeans', or self-training's defaults, in ``suggest``'s vocabulary."""
    if method == "selftrain":
        return dict(SELFTRAIN_DEFAULTS)
    if method == "kmeans":
        return {"method": "kmeans"}
    params = {"method": method, "architecture": "256-128", "latent_dim": 64, "lr": 1e-3, "pretrain_epochs": 20,
              "epochs": 10, "batch_size": 64, "alpha": 1.0, "dec_lr": 1e-4, "update_interval": 1,
              "batch_norm": False, "dropout": 0.0, "weight_decay": 0.0}
    if method == "idec":
        params["gamma"] = 0.1
    return params


def first_trials(config) -> list[dict]:
    """Points every new study tries first, in Optuna's names: the KMeans starting point and
    the seed report's settings with the safeguards, for each searched method that has them."""
    methods = config.search_method_list if config.method == "search" else [config.method]
    points = []
    for method in methods:
        if method == "kmeans":
            points.append({"method": "kmeans"})
        elif method in ("dec", "idec"):
            point = {k: v for k, v in default_params(method).items() if k != "method"}
            # within the epoch caps the study searches (a test may set them low)
            point["pretrain_epochs"] = min(point["pretrain_epochs"], config.max_pretrain_epochs)
            point["epochs"] = min(point["epochs"], config.max_epochs)
            points.append({"method": method, **point} if config.method == "search" else point)
    return points


def make_estimator(params: dict, *, n_clusters: int, random_state: int, device=None,
                   embedding_model: str = "all-MiniLM-L6-v2"):
    """The estimator for one point of the space (unknown keys are an error).

    ``embedding_model`` is the encoder that self-training starts from (DEC and IDEC get
    embeddings and ignore it).
    """
    from clustering.dec import DEC, IDEC

    params = dict(params)
    method = params.pop("method", "dec")
    if method == "kmeans":
        from clustering.baselines import EmbeddingKMeans

        return EmbeddingKMeans(n_clusters, random_state=random_state, **params)
    if method == "selftrain":
        from clustering.selftrain import SelfTrainingClusterer

        return SelfTrainingClusterer(n_clusters, model=embedding_model, random_state=random_state, device=device,
                                     **params)
    hidden = (*ARCHITECTURES[params.pop("architecture", "256-128")], int(params.pop("latent_dim", 64)))
    cls = {"dec": DEC, "idec": IDEC}[method]
    if method == "dec":
        params.pop("gamma", None)
    return cls(n_clusters, hidden_dims=hidden, random_state=random_state, device=device, **params)


def takes_texts(model) -> bool:
    """True for estimators that fit raw texts (self-training) rather than fixed embeddings."""
    return hasattr(model, "save_encoder")


def fit_estimator(model, X, texts, callback=None):
    """Fit ``model`` on what it takes: ``texts`` for self-training, the embeddings ``X`` otherwise."""
    return model.fit(texts if takes_texts(model) else X, callback=callback)


def n_trainable_parameters(model) -> int:
    """Weights that training updates: the autoencoder's, or the fine-tuned encoder's top layers."""
    from clustering.autoencoder import count_parameters

    module = getattr(model, "autoencoder_", None) or getattr(model, "encoder_", None)
    return count_parameters(module) if module is not None else 0
