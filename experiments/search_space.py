"""The study's search space, put together from the method records (``experiments.methods``).

Every point is a flat dict with a ``method`` key and that method's settings. The plain
MiniLM + KMeans every deep method starts from is a point of the space (``method="kmeans"``)
and the first trial of every new study, so the study, and the champion it picks, can never
end below it by the study's own objective. DEC and IDEC in the space start from that same
KMeans partition and keep the best state by a label-free score (``methods.ROBUST``); their
reference settings (the seed report's) are queued right after it.
"""

from __future__ import annotations

from experiments import methods


def suggest(trial, config) -> dict:
    """Sample one point: the method (when the study searches several), then its settings."""
    if config.method != "search":
        name = config.method
    else:
        name = trial.suggest_categorical("method", list(config.search_method_list))
    method = methods.get(name)
    params = method.space(trial, config) if method.space is not None else {}
    return {"method": name, **params, **method.fixed}


def from_trial_params(params: dict, method: str = "dec") -> dict:
    """A trial's params (Optuna's names) as a point, the method's reference settings filled in.

    ``method`` applies when the trial did not choose one (the study fixed it). Settings the
    trial did not record (``Method.fixed``) are added back.
    """
    record = methods.get(params.get("method", method))
    chosen = {k.removeprefix(record.prefix): v for k, v in params.items() if k != "method"}
    return {"method": record.name, **record.reference, **record.fixed, **chosen}


def as_method(point: dict, name: str) -> dict:
    """``point`` tried as the method ``name`` of the same family: its reference settings for
    what ``point`` lacks, the settings ``name`` does not take dropped."""
    record = methods.get(name)
    settings = {k: v for k, v in {**record.reference, **record.fixed, **point}.items() if k in record.known}
    return {"method": name, **settings}


def known_params(method: str) -> set[str]:
    """Every key ``make_estimator`` accepts for ``method``."""
    return {"method"} | set(methods.get(method).known)


def default_params(method: str = "dec") -> dict:
    """The method's reference settings as a point (the seed report's, for DEC and IDEC)."""
    return {"method": method, **methods.get(method).reference}


def first_trials(config) -> list[dict]:
    """Points every new study tries first, in Optuna's names: the KMeans starting point and
    the reference settings of each searched method that starts studies."""
    names = config.search_method_list if config.method == "search" else [config.method]
    points = []
    for name in names:
        record = methods.get(name)
        if not record.start_study:
            continue
        point = {record.prefix + k: v for k, v in record.reference.items()}
        # within the epoch caps the study searches (a test may set them low)
        for key, cap in (("pretrain_epochs", config.max_pretrain_epochs), ("epochs", config.max_epochs)):
            if key in point:
                point[key] = min(point[key], cap)
        points.append({"method": name, **point} if config.method == "search" else point)
    return points


def make_estimator(params: dict, *, n_clusters: int, random_state, device=None,
                   embedding_model: str = methods.DEFAULT_EMBEDDING_MODEL):
    """The unfitted estimator for one point (unknown keys are an error).

    ``embedding_model`` is the encoder that text-input methods (self-training) start from.
    """
    params = dict(params)
    record = methods.get(params.pop("method"))
    unknown = set(params) - set(record.known)
    if unknown:
        raise ValueError(f"unknown settings for method {record.name}: {sorted(unknown)}; known: {sorted(record.known)}")
    return record.make(params, n_clusters=n_clusters, random_state=random_state, device=device,
                       embedding_model=embedding_model)
