"""Collapse remedies change the alpha gradient (β-DARTS) or the forward (DARTS-) as published."""

from __future__ import annotations

import pytest
import torch

from genodsl.ops.registry import OpKind
from genodsl.search.remedies import Remedies, beta_loss, set_aux_skip
from genodsl.search.strategies import strategy_class
from genodsl.search.strategy import Batch
from genodsl.train.losses import build_loss
from search_helpers import make_supernet, tiny_runtime, tiny_search


def _batch(seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(2, 1, 16, 16, generator=g),
                 torch.randint(0, 2, (2, 16, 16), generator=g))


def _alpha_grads(program, name: str, epoch: int, **kw) -> tuple[list[torch.Tensor], object]:
    """The alpha gradients one alpha step of ``name`` hands to Adam in ``epoch``."""
    net = make_supernet(program)
    cfg = tiny_search(strategy=name, epochs=4, **kw)
    strategy = strategy_class(name)(net, cfg, build_loss("ce", 2), runtime=tiny_runtime())
    strategy.remedies.start_epoch(epoch)
    seen: list[torch.Tensor] = []
    strategy.step_alphas = lambda grads: seen.extend(g.detach().clone() for g in grads)
    strategy.alpha_step(_batch(1), _batch(2))
    return seen, net


def test_beta_loss_gradient_is_softmax_over_rows() -> None:
    tables = {"a": torch.randn(3, 4, requires_grad=True), "b": torch.randn(2, 6,
                                                                         requires_grad=True)}
    grads = torch.autograd.grad(beta_loss(tables), list(tables.values()))
    for g, t in zip(grads, tables.values()):
        assert torch.allclose(g, torch.softmax(t, -1) / 5)  # 5 rows in all


@pytest.mark.parametrize("name", ["darts", "darts2"])
def test_beta_darts_adds_lambda_softmax_to_the_alpha_gradient(program, name) -> None:
    plain, net = _alpha_grads(program, name, 4, regularizer="none")
    reg, _ = _alpha_grads(program, name, 4, regularizer="beta", beta_lambda=3.0)
    rows = sum(t.shape[0] for t in net.alphas.tables.values())
    for p, r, t in zip(plain, reg, net.alphas.tables.values()):
        expected = 3.0 * 3 / 100 * torch.softmax(t.detach(), -1) / rows  # λ(4) = λ_max · 3/100
        assert torch.allclose(r - p, expected, atol=1e-6)
    first, _ = _alpha_grads(program, name, 1, regularizer="beta", beta_lambda=3.0)
    assert all(torch.equal(a, b) for a, b in zip(first, plain))  # λ(1) = 0


def test_lambda_rises_linearly_as_in_beta_darts(program) -> None:
    rem = Remedies(tiny_search(epochs=101, regularizer="beta", beta_lambda=50.0),
                   make_supernet(program))
    lams = [rem.start_epoch(e)["beta_lambda"] for e in (1, 2, 51, 101)]
    assert lams == pytest.approx([0.0, 0.5, 25.0, 50.0])  # 50 · (epoch - 1) / 100


def test_aux_skip_adds_beta_x_on_normal_edges_only(program) -> None:
    net = make_supernet(program)
    x = torch.randn(1, 4, 8, 8)
    normal = next(op for _, _, op in net.mixed_ops() if op.role is OpKind.NORMAL)
    w = torch.softmax(torch.randn(len(normal.ops)), 0)
    before = normal(x, w)
    set_aux_skip(net, 0.7)
    assert torch.allclose(normal(x, w), before + 0.7 * x)
    assert all(op.aux_skip == (0.7 if op.role is OpKind.NORMAL else 0.0)
               for _, _, op in net.mixed_ops())


def test_aux_skip_decays_linearly_and_changes_the_alpha_gradient(program) -> None:
    rem = Remedies(tiny_search(epochs=4, aux_skip=1.0), make_supernet(program))
    assert [rem.start_epoch(e)["aux_skip"] for e in range(1, 5)] == [1.0, 0.75, 0.5, 0.25]
    plain, _ = _alpha_grads(program, "darts", 1)
    skip, _ = _alpha_grads(program, "darts", 1, aux_skip=1.0)
    assert not all(torch.allclose(a, b) for a, b in zip(plain, skip))


def test_remedies_off_change_nothing(program) -> None:
    net = make_supernet(program)
    rem = Remedies(tiny_search(), net)
    assert rem.start_epoch(1) == {} and rem.alpha_loss() is None
    assert all(op.aux_skip == 0.0 for _, _, op in net.mixed_ops())
