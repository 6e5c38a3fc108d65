"""The strategies' steps: which parameters move where, which ops run, darts2's gradient."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from genodsl.search.darts import Darts2
from genodsl.search.strategies import STRATEGIES, strategy_class
from genodsl.search.strategy import Batch
from genodsl.train.losses import build_loss
from search_helpers import make_supernet, tiny_runtime, tiny_search


def _batch(seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(2, 1, 16, 16, generator=g), torch.randint(0, 2, (2, 16, 16),
                                                                         generator=g))


def _make(program, name: str, **kw):
    net = make_supernet(program)
    return net, strategy_class(name)(net, tiny_search(strategy=name, **kw), build_loss("ce", 2),
                                     runtime=tiny_runtime(**kw))


def _copy(params) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_alphas_move_only_in_alpha_steps(program, name: str) -> None:
    net, strategy = _make(program, name)
    w0, a0 = _copy(net.weight_parameters()), _copy(net.alpha_parameters())
    r = strategy.alpha_step(_batch(1), _batch(2))
    assert torch.isfinite(torch.tensor(r.loss))
    assert _same(w0, net.weight_parameters())            # weights untouched
    assert not _same(a0, net.alpha_parameters())         # alphas moved
    assert all(p.grad is None for p in net.weight_parameters())
    a1 = _copy(net.alpha_parameters())
    r = strategy.weight_step(_batch(2))
    assert torch.isfinite(torch.tensor(r.loss))
    assert _same(a1, net.alpha_parameters())             # alphas untouched
    assert not _same(w0, net.weight_parameters())        # weights moved


def _count_runs(net) -> dict[str, int]:
    """Install hooks counting how many candidates of each mixed op run forward."""
    counts: dict[str, int] = {}
    for i, (cell, key, op) in enumerate(net.mixed_ops()):
        name = f"{cell.value}{i}:{key}"
        for cand in op.ops:
            cand.register_forward_hook(
                lambda m, a, o, name=name: counts.__setitem__(name, counts.get(name, 0) + 1))
    return counts


def test_proxyless_runs_one_path_per_edge(program) -> None:
    net, strategy = _make(program, "proxyless")
    counts = _count_runs(net)
    strategy.weight_step(_batch(1))
    assert counts and set(counts.values()) == {1}
    counts.clear()
    strategy.alpha_step(_batch(1), _batch(2))
    assert set(counts.values()) <= {1, 2} and 2 in set(counts.values())


def test_darts_runs_every_candidate_but_none(program) -> None:
    net, strategy = _make(program, "darts")
    counts = _count_runs(net)
    strategy.weight_step(_batch(1))
    sizes = {f"{c.value}{i}:{k}": len(op.ops) - sum(op.is_zero)
             for i, (c, k, op) in enumerate(net.mixed_ops())}
    assert counts == sizes


def test_proxyless_updates_only_the_sampled_pair(program) -> None:
    net, strategy = _make(program, "proxyless")
    before = {k: t.detach().clone() for k, t in net.alphas.tables.items()}
    strategy.alpha_step(_batch(1), _batch(2))
    for name, table in net.alphas.tables.items():
        for row in range(table.shape[0]):
            changed = (table[row] != before[name][row]).nonzero().flatten().tolist()
            assert len(changed) <= 2
            if changed:  # the pair keeps its joint softmax mass (ProxylessNAS rescaling)
                assert torch.logsumexp(table[row, changed], 0).item() == pytest.approx(
                    torch.logsumexp(before[name][row, changed], 0).item(), abs=1e-6)


def test_proxyless_weight_step_touches_only_sampled_ops(program) -> None:
    net, strategy = _make(program, "proxyless")
    ops = [op for _, _, op in net.mixed_ops()]
    before = [[_copy(c.parameters()) for c in op.ops] for op in ops]
    strategy.weight_step(_batch(1))
    for op, old in zip(ops, before):
        moved = [i for i, c in enumerate(op.ops) if not _same(old[i], c.parameters())]
        assert len(moved) <= 1


def test_darts2_gradient_matches_exact_hypergradient(program) -> None:
    """The finite-difference Hessian term agrees with autograd's exact second derivative."""
    torch.manual_seed(0)
    net, strategy = _make(program, "darts2")
    net.double()
    assert isinstance(strategy, Darts2)
    strategy.fd_scale = 1e-5  # small enough in float64 to cross no ReLU or max-pool kink
    train, val = _batch(1), _batch(2)
    train = Batch(train.image.double(), train.mask)
    val = Batch(val.image.double(), val.mask)
    grads, _, _ = strategy.alpha_grads(val, train)   # no momentum buffer yet: w' = w − ξ(g + λw)
    xi, wd = strategy.lr, strategy.cfg.weights.weight_decay
    names = [n for n, _ in net.net.named_parameters()]
    w = [p for _, p in net.net.named_parameters()]

    def loss(params, batch, detach):
        down, up = net.alphas.edge_weights(detach=detach)
        logits = functional_call(net.net, dict(zip(names, params)), (batch.image, down, up))
        return strategy.loss(logits, batch.mask)

    g = torch.autograd.grad(loss(w, train, False), w, create_graph=True, allow_unused=True)
    w1 = [p - xi * ((gi if gi is not None else 0) + wd * p) for p, gi in zip(w, g)]
    exact = torch.autograd.grad(loss(w1, val, False), net.alpha_parameters())
    for a, b in zip(grads, exact):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-7)
