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
