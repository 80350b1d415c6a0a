"""What the training loops share: a seeded mini-batch order and a lean Adam.

Both exist for speed. At the seed report's settings a fit is about 3,600 steps of 64 rows,
so what a step costs beside its arithmetic decides the fit's time.
"""

from __future__ import annotations

import torch


def batch_indices(n: int, batch_size: int, generator: torch.Generator, device=None):
    """One epoch's mini-batches: row indices 0..n-1 in a seeded random order, ``batch_size`` at a time.

    The permutation is drawn on the CPU from ``generator`` (the same order on every device)
    and moved to ``device`` once per epoch rather than once per batch.
    """
    return torch.randperm(n, generator=generator).to(device).split(batch_size)


class FusedAdam:
    """Adam (Kingma & Ba, 2015, Algorithm 1) with L2 ``weight_decay``, one fused kernel per step.

    The same update as ``torch.optim.Adam(params, fused=True)``, through the same kernel
    (``torch._fused_adam_``), bit for bit (``tests/test_train.py``). It exists because
    constructing any ``torch.optim`` optimizer imports ``torch._dynamo`` (about a second and
    tens of MB in a fresh process, an eighth of a fit at the seed report's settings), and
    ``torch.optim``'s per-step bookkeeping is made for parameter groups and options these
    loops never use. Parameters must be floating-point tensors on one CPU or CUDA device.
    """

    def __init__(self, params, *, lr: float, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        self.params = list(params)
        self.lr, self.eps, self.weight_decay = float(lr), float(eps), float(weight_decay)
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        # torch.optim keeps a fused step count per parameter, float32, on its device; so do we.
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]

    @staticmethod
    def supports(device) -> bool:
        return torch.device(device).type in ("cpu", "cuda") and hasattr(torch, "_fused_adam_")

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        steps = [self.steps[i] for i in live]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            [self.params[i] for i in live], [self.params[i].grad for i in live],
            [self.exp_avgs[i] for i in live], [self.exp_avg_sqs[i] for i in live], [], steps,
            lr=self.lr, beta1=self.beta1, beta2=self.beta2, weight_decay=self.weight_decay, eps=self.eps,
            amsgrad=False, maximize=False, grad_scale=None, found_inf=None,
        )


def adam(params, *, lr: float, weight_decay: float = 0.0, device=None):
    """Adam for the training loops: ``FusedAdam`` where its kernel runs, else ``torch.optim.Adam``.

    Unfused, Adam launches a dozen element-wise ops per parameter tensor and step; with
    batches of 64 rows they took a quarter of a pretraining step on one thread.
    """
    if FusedAdam.supports(device if device is not None else "cpu"):
        return FusedAdam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


# Training arithmetic. "float32" is the model as written; "bfloat16-mixed" multiplies matrices
# in bfloat16 (accumulating in float32) and keeps everything else in float32: the weights Adam
# updates, biases, activations' gradients, losses (the name and the arithmetic are those of
# clustering.embed's "bfloat16-mixed"). "auto" is bfloat16-mixed where the device has native
# bfloat16 arithmetic, else float32.
PRECISIONS = ("float32", "bfloat16-mixed", "auto")


def resolve_precision(precision: str, device) -> str:
    """``"float32"`` or ``"bfloat16-mixed"`` for ``precision`` on ``device`` (``"auto"`` asks the device)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision == "auto":
        from clustering.encoder import native_bfloat16

        return "bfloat16-mixed" if native_bfloat16(device) else "float32"
    return precision


def forward(stack: torch.nn.Module, precision: str):
    """``stack``'s forward pass for training in ``precision`` (resolved): a callable batch -> float32.

    In bfloat16-mixed it runs under ``torch.autocast``: linear layers take bfloat16 inputs (their
    products accumulated in float32) and return bfloat16, which the callable casts back, so
    the loss, the optimizer's weights and everything outside ``stack`` stay float32. A
    hand-written forward and backward for Linear/ReLU/Dropout stacks, one autograd node with
    one cast per weight, was measured as no faster at the seed report's settings and was dropped
    (``docs/dec.md``).
    """
    if precision == "float32":
        return stack
    if precision != "bfloat16-mixed":
        raise ValueError(f"forward needs a resolved precision (float32 or bfloat16-mixed); got {precision!r}")

    def autocast_forward(x):
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            out = stack(x)
        return out.float()

    return autocast_forward
