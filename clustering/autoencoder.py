"""A fully connected autoencoder over sentence embeddings, and its pretraining loop.

The default architecture is the seed report's model: ``docs/dec.md``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from clustering._train import adam, batch_indices, forward, resolve_precision
from clustering._utils import check_embeddings, resolve_device, torch_generator

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "elu": nn.ELU, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU}

EpochCallback = Callable[[int, dict], object]


def _mlp(dims: Sequence[int], activation: str, batch_norm: bool, dropout: float) -> nn.Sequential:
    """Linear layers between consecutive ``dims``; no activation after the last one."""
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(dims) - 2:
            if batch_norm:
                layers.append(nn.BatchNorm1d(d_out))
            layers.append(_ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class AutoEncoder(nn.Module):
    """Fully connected encoder ``input_dim -> hidden_dims`` and its mirror image as decoder.

    The last entry of ``hidden_dims`` is the latent dimension. Batch norm and dropout, when
    asked for, sit after every hidden layer (never on the latent code or the output).

    Parameters
    ----------
    input_dim : int, default=384
        Width of the input (MiniLM's embeddings by default).
    hidden_dims : sequence of int, default=(256, 128, 64)
        Widths of the encoder's layers; the last is the latent dimension.
    activation : {"relu", "gelu", "elu", "tanh", "leaky_relu"}, default="relu"
        Activation after every hidden layer.
    batch_norm : bool, default=False
        Batch norm after every hidden layer.
    dropout : float, default=0.0
        Dropout after every hidden layer, in [0, 1).

    Attributes
    ----------
    encoder : torch.nn.Sequential
        ``input_dim -> ... -> latent_dim``, no activation on the latent code.
    decoder : torch.nn.Sequential
        ``latent_dim -> ... -> input_dim``, no activation on the output.
    input_dim : int
        Width of the input.
    latent_dim : int
        Width of the latent code, ``hidden_dims[-1]``.

    See Also
    --------
    pretrain : Train it to reconstruct its input.
    clustering.dec.DEC : Clusters in its latent space.

    Notes
    -----
    DEC's initialisation (Xie, Girshick and Farhadi, ICML 2016, section 3.2) pretrains such an
    autoencoder; this one is trained end to end (:func:`pretrain`), not layer by layer.

    Examples
    --------
    >>> import torch
    >>> z, reconstruction = AutoEncoder(16, (8, 2))(torch.zeros(5, 16))
    >>> tuple(z.shape), tuple(reconstruction.shape)
    ((5, 2), (5, 16))
    """

    def __init__(
        self,
        input_dim: int = 384,
        hidden_dims: Sequence[int] = (256, 128, 64),
        *,
        activation: str = "relu",
        batch_norm: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(_ACTIVATIONS)}")
        if not hidden_dims or any(int(h) < 1 for h in hidden_dims):
            raise ValueError(f"hidden_dims must be positive sizes; got {tuple(hidden_dims)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout}")
        dims = [int(input_dim), *map(int, hidden_dims)]
        self.input_dim = dims[0]
        self.latent_dim = dims[-1]
        self.encoder = _mlp(dims, activation, batch_norm, dropout)
        self.decoder = _mlp(dims[::-1], activation, batch_norm, dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(latent, reconstruction)`` for a batch of shape (batch, input_dim)."""
        z = self.encoder(x)
        return z, self.decoder(z)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of a torch module.

    For an :class:`AutoEncoder` that is the sum over its linear layers of ``in * out + out``
    (weights and biases), plus two per unit of every batch norm.

    Parameters
    ----------
    model : torch.nn.Module
        The module.

    Returns
    -------
    n : int
        Elements of the parameters that require a gradient.

    See Also
    --------
    clustering.dec.DEC.n_trainable_parameters : The same for a fitted estimator.

    Examples
    --------
    >>> count_parameters(AutoEncoder(4, (2,)))  # (4 * 2 + 2) + (2 * 4 + 4)
    22
    >>> count_parameters(AutoEncoder())  # the seed report's 384-256-128-64 and its mirror
    279744
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def pretrain(
    model: AutoEncoder,
    X,
    *,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    device=None,
    random_state: int = 0,
    callback: EpochCallback | None = None,
    precision: str = "float32",
) -> list[float]:
    """Train ``model`` to reconstruct ``X`` with MSE and Adam, in place.

    Mini-batches are drawn in a seeded order; the model is left in eval mode.

    Parameters
    ----------
    model : AutoEncoder
        The autoencoder to train.
    X : array-like of shape (n_samples, input_dim)
        The embeddings.
    epochs : int, default=20
        Most epochs.
    batch_size : int, default=64
        Mini-batch size.
    lr : float, default=1e-3
        Adam's learning rate.
    weight_decay : float, default=0.0
        Adam's L2 penalty.
    device : str, torch.device or None, default=None
        Where to train; None: CUDA when available, else the CPU.
    random_state : int, default=0
        Seed of torch and of the batch order.
    callback : callable or None, default=None
        ``callback(epoch, {"loss": ...})`` after each epoch (epochs count from 1); returning
        ``True`` stops training early (a pruner's way in).
    precision : {"float32", "bfloat16-mixed", "auto"}, default="float32"
        The matrix products' arithmetic (``clustering._train.PRECISIONS``): ``"bfloat16-mixed"``
        multiplies in bfloat16 and keeps weights, optimizer and loss in float32.

    Returns
    -------
    losses : list of float
        The mean training loss of every epoch run.

    Raises
    ------
    FloatingPointError
        When the loss diverges.

    See Also
    --------
    pretrained_autoencoder : Build, seed and pretrain, remembered within a process.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(64, 8))
    >>> losses = pretrain(AutoEncoder(8, (4, 2)), X, epochs=5, batch_size=16, device="cpu")
    >>> len(losses), bool(losses[-1] < losses[0])
    (5, True)
    """
    X = check_embeddings(X, n_features=model.input_dim)
    device = resolve_device(device)
    precision = resolve_precision(precision, device)
    torch.manual_seed(random_state)
    model.to(device).train()
    data = torch.from_numpy(X).to(device)
    opt = adam(model.parameters(), lr=lr, weight_decay=weight_decay, device=device)
    gen = torch_generator(random_state)
    skip_single = _has_batch_norm(model)  # BatchNorm cannot train on a single sample
    encoder, decoder = forward(model.encoder, precision), forward(model.decoder, precision)
    history: list[float] = []
    for epoch in range(1, epochs + 1):
        # Summed on the device and read once per epoch: a per-step .item() waits for the step.
        total = torch.zeros((), dtype=torch.float64, device=device)
        for idx in batch_indices(len(data), batch_size, gen, device):
            batch = data.index_select(0, idx)
            if skip_single and len(batch) == 1:
                continue
            recon = decoder(encoder(batch))
            loss = nn.functional.mse_loss(recon, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.detach() * len(batch)
        epoch_loss = total.item() / len(data)
        if not np.isfinite(epoch_loss):
            raise FloatingPointError(f"autoencoder loss diverged at epoch {epoch} (loss={epoch_loss})")
        history.append(epoch_loss)
        if callback is not None and callback(epoch, {"loss": epoch_loss}) is True:
            break
    model.eval()
    return history


# Pretrained autoencoders remembered in this process (least recently used dropped first).
_PRETRAINED: OrderedDict = OrderedDict()
REMEMBERED = 8


def pretrained_autoencoder(
    X,
    hidden_dims: Sequence[int],
    *,
    activation: str = "relu",
    batch_norm: bool = False,
    dropout: float = 0.0,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    device=None,
    random_state: int = 0,
    callback: EpochCallback | None = None,
    precision: str = "float32",
) -> tuple[AutoEncoder, list[float]]:
    """Seed torch, build ``AutoEncoder(X.shape[1], hidden_dims)`` and ``pretrain`` it.

    This is what DEC, IDEC and AE + KMeans start from. The same pretraining twice in one
    process, on the CPU, runs once (see Notes).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The embeddings.
    hidden_dims : sequence of int
        Widths of the encoder's layers; the last is the latent dimension.
    activation : {"relu", "gelu", "elu", "tanh", "leaky_relu"}, default="relu"
        Activation after every hidden layer.
    batch_norm : bool, default=False
        Batch norm after every hidden layer.
    dropout : float, default=0.0
        Dropout after every hidden layer, in [0, 1).
    epochs, batch_size, lr, weight_decay, device, random_state, callback, precision
        As in :func:`pretrain`, with the same defaults; ``random_state`` seeds the initial weights too.

    Returns
    -------
    model : AutoEncoder
        The pretrained autoencoder, in eval mode.
    losses : list of float
        The mean training loss of every epoch.

    See Also
    --------
    pretrain : The training loop itself.

    Notes
    -----
    A pretraining with the same data, architecture, training settings and seed as one already
    run in full in this process on the CPU (among the last ``REMEMBERED``) is not run again: its
    weights, losses and torch's random state after it are restored, so the result is the
    first's, bit for bit. ``callback`` sees every epoch either way; should it stop training
    early, that shorter pretraining is run for real.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(64, 8))
    >>> model, losses = pretrained_autoencoder(X, (4, 2), epochs=3, batch_size=16, device="cpu")
    >>> again, same_losses = pretrained_autoencoder(X, (4, 2), epochs=3, batch_size=16, device="cpu")
    >>> same_weights = all(bool((a == b).all()) for a, b in zip(again.parameters(), model.parameters()))
    >>> model.latent_dim, len(losses), same_losses == losses, same_weights
    (2, 3, True, True)
    """
    X = check_embeddings(X)
    device = resolve_device(device)
    precision = resolve_precision(precision, device)

    def build() -> AutoEncoder:
        torch.manual_seed(random_state)  # the initial weights are random too
        return AutoEncoder(X.shape[1], tuple(hidden_dims), activation=activation, batch_norm=batch_norm,
                           dropout=dropout)

    train = dict(batch_size=batch_size, lr=lr, weight_decay=weight_decay, device=device, random_state=random_state,
                 precision=precision)
    key = (hashlib.sha1(X.data).hexdigest(), X.shape, tuple(hidden_dims), activation, bool(batch_norm),
           float(dropout), int(epochs), int(batch_size), float(lr), float(weight_decay), int(random_state), precision)
    remembered = _PRETRAINED.get(key) if device.type == "cpu" else None
    if remembered is not None:
        state, losses, rng = remembered
        for epoch, loss in enumerate(losses, 1):
            if callback is not None and callback(epoch, {"loss": loss}) is True and epoch < len(losses):
                model = build()
                return model, pretrain(model, X, epochs=epoch, **train)
        _PRETRAINED.move_to_end(key)
        model = build()
        model.load_state_dict(state)
        torch.set_rng_state(rng)
        return model.to(device).eval(), list(losses)
    model = build()
    losses = pretrain(model, X, epochs=epochs, callback=callback, **train)
    if device.type == "cpu" and len(losses) == epochs:
        _PRETRAINED[key] = ({k: v.detach().clone() for k, v in model.state_dict().items()}, list(losses),
                            torch.get_rng_state())
        while len(_PRETRAINED) > REMEMBERED:
            _PRETRAINED.popitem(last=False)
    return model, losses


@torch.no_grad()
def encode(model: AutoEncoder, X, *, batch_size: int = 4096, device=None) -> np.ndarray:
    """Latent codes of ``X`` as float32, computed in batches in eval mode.

    Parameters
    ----------
    model : AutoEncoder
        The autoencoder whose encoder runs.
    X : array-like of shape (n_samples, input_dim)
        The embeddings.
    batch_size : int, default=4096
        Rows per forward pass.
    device : str, torch.device or None, default=None
        Where to run; None: where the model's parameters are.

    Returns
    -------
    Z : ndarray of shape (n_samples, latent_dim)
        The latent codes.

    See Also
    --------
    AutoEncoder.forward : Latent code and reconstruction of one batch.

    Examples
    --------
    >>> import numpy as np
    >>> Z = encode(AutoEncoder(8, (4, 2)), np.zeros((10, 8)))
    >>> Z.shape, Z.dtype
    ((10, 2), dtype('float32'))
    """
    X = check_embeddings(X, n_features=model.input_dim)
    device = resolve_device(device) if device is not None else next(model.parameters()).device
    model.to(device).eval()
    out = [model.encoder(torch.from_numpy(X[i : i + batch_size]).to(device)).cpu() for i in range(0, len(X), batch_size)]
    return torch.cat(out).numpy()


def _has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.BatchNorm1d) for m in model.modules())
