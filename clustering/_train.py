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


# Training arithmetic. "float32" is the model as written; "bfloat16" multiplies matrices in
# bfloat16 (accumulating in float32) and keeps everything else in float32: the weights Adam
# updates, biases, activations' gradients, losses. "auto" is bfloat16 where the device has
# native bfloat16 arithmetic, else float32.
PRECISIONS = ("float32", "bfloat16", "auto")


def resolve_precision(precision: str, device) -> str:
    """``"float32"`` or ``"bfloat16"`` for ``precision`` on ``device`` (``"auto"`` asks the device)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision == "auto":
        from clustering.embed import native_bfloat16

        return "bfloat16" if native_bfloat16(device) else "float32"
    return precision


def forward(stack: torch.nn.Sequential, precision: str):
    """``stack``'s forward pass for training in ``precision`` (resolved): a callable batch -> float32.

    In bfloat16, a plain stack (``Linear`` layers, each optionally followed by ``ReLU`` and
    then ``Dropout``) runs as one autograd node, ``_LinearReluStack``, with one cast of each
    weight per step; any other stack (batch norm, other activations) runs under
    ``torch.autocast``, which does the same products at about twice the casting overhead.
    """
    if precision == "float32":
        return stack
    if precision != "bfloat16":
        raise ValueError(f"forward needs a resolved precision (float32 or bfloat16); got {precision!r}")
    plan = _plain_plan(list(stack))
    if plan is not None:
        linear, relu_after, dropouts = plan
        params = [p for m in linear for p in (m.weight, m.bias)]

        def plain_forward(x):
            rates = tuple(d.p if d is not None and d.training else 0.0 for d in dropouts)
            return _LinearReluStack.apply(x, relu_after, rates, torch.bfloat16, *params)

        return plain_forward

    def autocast_forward(x):
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            out = stack(x)
        return out.float()

    return autocast_forward


def _plain_plan(layers):
    """``(linears, relu after each, Dropout module or None after each)`` when ``layers`` is
    Linear [ReLU] [Dropout], repeated, with biases, ending with a Linear; else None."""
    linear, relu_after, dropouts, i = [], [], [], 0
    while i < len(layers):
        if not isinstance(layers[i], torch.nn.Linear) or layers[i].bias is None:
            return None
        linear.append(layers[i])
        i += 1
        relu = i < len(layers) and type(layers[i]) is torch.nn.ReLU
        i += relu
        drop = layers[i] if i < len(layers) and type(layers[i]) is torch.nn.Dropout else None
        i += drop is not None
        relu_after.append(relu)
        dropouts.append(drop)
    if not linear or relu_after[-1] or dropouts[-1] is not None:  # the last Linear's output is the result
        return None
    return linear, tuple(relu_after), tuple(dropouts)


class _LinearReluStack(torch.autograd.Function):
    """``Linear`` layers, each optionally followed by ``ReLU`` and dropout at rate
    ``rates[j]``, forward and backward by hand, every matrix product in ``dtype`` (inputs
    rounded, products accumulated in float32 by the BLAS), biases, gradients of biases and
    the result in float32 (bias added in ``dtype``). Dropout draws from torch's global
    generator, as ``nn.Dropout`` does.

    Autograd through ``nn.Linear`` under ``torch.autocast`` does the same products but casts
    each weight and each weight's gradient separately and records a node per op; with
    64-row batches that bookkeeping cost as much as the bfloat16 products saved.
    """

    @staticmethod
    def forward(ctx, x, relu_after, rates, dtype, *params):
        n = len(params) // 2
        a = x.to(dtype)
        inputs, weights, drops = [], [], []
        for j in range(n):
            w = params[2 * j].to(dtype)
            h = torch.addmm(params[2 * j + 1].to(dtype), a, w.t())
            if relu_after[j]:
                h.clamp_min_(0)
            if rates[j] > 0:
                dropped = torch.empty(h.shape, device=h.device).bernoulli_(rates[j]).bool()
                h.masked_fill_(dropped, 0).mul_(1.0 / (1.0 - rates[j]))
                drops.append(dropped)
            inputs.append(a)
            weights.append(w)
            a = h
        ctx.save_for_backward(*inputs, *weights, *drops)
        ctx.relu_after, ctx.rates, ctx.n = relu_after, rates, n
        return a.float()

    @staticmethod
    def backward(ctx, grad):
        n, rates, saved = ctx.n, ctx.rates, ctx.saved_tensors
        inputs, weights = saved[:n], saved[n:2 * n]
        drops = iter(reversed(saved[2 * n:]))
        grads = [None] * (2 * n)
        g = grad.to(weights[0].dtype)  # the last layer has no activation or dropout (_plain_plan)
        for j in range(n - 1, -1, -1):
            grads[2 * j] = g.t().mm(inputs[j]).float()
            grads[2 * j + 1] = (grad if j == n - 1 else g).sum(0, dtype=torch.float32)
            if j == 0 and not ctx.needs_input_grad[0]:
                break
            g = g.mm(weights[j])
            if j > 0 and rates[j - 1] > 0:
                g.masked_fill_(next(drops), 0).mul_(1.0 / (1.0 - rates[j - 1]))
            if j > 0 and ctx.relu_after[j - 1]:
                g = torch.ops.aten.threshold_backward(g, inputs[j], 0)
        grad_x = g.float() if ctx.needs_input_grad[0] else None
        return (grad_x, None, None, None, *grads)
