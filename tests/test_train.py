import subprocess
import sys
from pathlib import Path

import pytest
import torch

from clustering._train import FusedAdam, adam, batch_indices


def test_batch_indices_cover_every_row_once_in_a_seeded_order():
    batches = batch_indices(10, 4, torch.Generator().manual_seed(3))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    again = batch_indices(10, 4, torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(batches, again))


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_fused_adam_matches_torch_optim_bit_for_bit(weight_decay):
    def train(make_opt):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
        opt = make_opt(model.parameters())
        x = torch.randn(8, 6, generator=torch.Generator().manual_seed(1))
        for _ in range(5):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
        return [p.detach().clone() for p in model.parameters()]

    ours = train(lambda ps: FusedAdam(ps, lr=1e-2, weight_decay=weight_decay))
    theirs = train(lambda ps: torch.optim.Adam(ps, lr=1e-2, weight_decay=weight_decay, fused=True))
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))


def test_fused_adam_skips_parameters_without_gradients():
    used, unused = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))
    opt = FusedAdam([used, unused], lr=0.1)
    used.sum().backward()
    opt.step()
    assert torch.all(used < 1) and torch.equal(unused, torch.ones(3)) and opt.steps[1] == 0


def test_adam_falls_back_to_torch_optim_where_the_kernel_does_not_run():
    p = [torch.nn.Parameter(torch.ones(2))]
    assert isinstance(adam(p, lr=1e-3, device="cpu"), FusedAdam)
    assert isinstance(adam(p, lr=1e-3, device="meta"), torch.optim.Adam)


def test_pretraining_in_a_fresh_process_does_not_import_dynamo():
    # torch.optim's optimizers import torch._dynamo when constructed: about a second per process.
    code = ("import sys, numpy as np; from clustering.autoencoder import AutoEncoder, pretrain; "
            "pretrain(AutoEncoder(8, (4,)), np.ones((16, 8), np.float32), epochs=1); "
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout
    assert out.strip() == "False"


# -- training precision --------------------------------------------------------------------------
from clustering._train import forward, resolve_precision  # noqa: E402


def _stack(batch_norm=False):
    torch.manual_seed(0)
    layers = [torch.nn.Linear(12, 8)] + ([torch.nn.BatchNorm1d(8)] if batch_norm else []) + [
        torch.nn.ReLU(), torch.nn.Linear(8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3)]
    return torch.nn.Sequential(*layers)


def _grads(stack, fn, x):
    stack.zero_grad()
    x = x.clone().requires_grad_(True)
    out = fn(x)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    return out.detach(), [p.grad.clone() for p in stack.parameters()] + [x.grad.clone()]


@pytest.mark.parametrize("batch_norm", [False, True])
def test_bfloat16_forward_and_gradients_stay_close_to_float32(batch_norm):
    # bfloat16 keeps 8 bits of mantissa: values within ~1%, gradients pointing the same way (a sum
    # over rows that mostly cancels, as the first layer's, can be 10% off in relative terms),
    # over a batch large enough that the odd ReLU flipped by rounding averages out.
    stack, x = _stack(batch_norm), torch.randn(256, 12, generator=torch.Generator().manual_seed(1))
    out, grads = _grads(stack, forward(stack, "bfloat16-mixed"), x)
    ref_out, ref_grads = _grads(stack, stack, x)
    assert out.dtype == torch.float32 and torch.allclose(out, ref_out, rtol=0.05, atol=0.02)
    assert not torch.equal(out, ref_out)  # it did compute in bfloat16
    assert all(g.dtype == torch.float32 for g in grads)  # the optimizer's side stays float32
    flat, ref_flat = torch.cat([g.flatten() for g in grads]), torch.cat([g.flatten() for g in ref_grads])
    assert torch.nn.functional.cosine_similarity(flat, ref_flat, dim=0) > 0.995
    # tensor by tensor, against the largest gradient (a bias before batch norm has none to speak of)
    scale = max(ref.norm() for ref in ref_grads)
    assert all((g - ref).norm() < 0.15 * scale for g, ref in zip(grads, ref_grads))


def test_bfloat16_forward_keeps_dropout_a_training_time_draw():
    from clustering.autoencoder import AutoEncoder

    ae = AutoEncoder(12, (8, 4), dropout=0.5)
    fn, x = forward(ae.encoder, "bfloat16-mixed"), torch.ones(64, 12)
    assert not torch.equal(fn(x), fn(x))  # training: a new draw each call
    ae.eval()
    assert torch.equal(fn(x), fn(x))  # eval: no dropout, as nn.Dropout


def test_float32_forward_is_the_module_itself():
    stack = _stack()
    assert forward(stack, "float32") is stack
    with pytest.raises(ValueError, match="resolved precision"):
        forward(stack, "auto")


def test_precision_auto_asks_the_device(monkeypatch):
    from clustering import encoder

    for native, expected in ((True, "bfloat16-mixed"), (False, "float32")):
        monkeypatch.setattr(encoder, "native_bfloat16", lambda device=None, native=native: native)
        assert resolve_precision("auto", "cpu") == expected
    assert resolve_precision("float32", "cpu") == "float32"
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp16", "cpu")
