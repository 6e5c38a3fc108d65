"""Mixed-op sums and activation recomputation: same values and gradients, less kept for backward.

Tiny sizes (C=4, depth 1, 16×16, batch 2, CPU, one thread), in float64 so that a change in the
order of additions stays far below the tolerance.  The reference for every check is
the plain formula: a mixed edge is ``Σ_i w_i · op_i(x)`` over all its candidates (``none``
included), a node the stacked sum of its edges.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import genodsl.compile.cell as cell_module
from genodsl.compile import build
from genodsl.compile.mixed import MixedOp, PathSample
from genodsl.compile.recompute import set_recompute
from genodsl.compile.supernet import Supernet, build_supernet
from genodsl.lang.loader import loads

ROOT = Path(__file__).resolve().parents[2]
SPACE = '''import "nasunet_space.geno"
import "nasunet.geno"

network tiny_search {
  cells           = NASUNET_SPACE
  in_channels     = 1
  classes         = 2
  C               = 4
  depth           = 1
  stem_multiplier = 3
}

network tiny_net {
  cells       = NASUNET
  in_channels = 1
  classes     = 2
  C           = 4
  depth       = 2
}
'''
TOL = dict(rtol=1e-9, atol=1e-12)


@pytest.fixture(autouse=True)
def _one_thread_float64():
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)
    torch.set_default_dtype(dtype)


@pytest.fixture(scope="module")
def program():
    return loads(SPACE, base_dir=ROOT / "genotypes")


def _supernet(program, seed: int = 0) -> Supernet:
    torch.manual_seed(seed)
    net = build_supernet(program.networks["tiny_search"].settings,
                         program.spaces["NASUNET_SPACE"])
    with torch.no_grad():  # alphas away from uniform, so every weight matters
        for t in net.alphas.tables.values():
            t.normal_(0, 1)
    return net


def _naive_mix(self: MixedOp, x: torch.Tensor, w) -> torch.Tensor:
    if isinstance(w, PathSample):
        out = self.ops[w.active](x)
        if w.other is None:
            return out
        with torch.no_grad():
            other = self.ops[w.other](x)
        return w.gates[0] * out + w.gates[1] * other
    return sum(w[i] * op(x) for i, op in enumerate(self.ops))


@pytest.fixture
def naive(monkeypatch):
    """Switch the supernet to the plain formulas (every candidate, stacked node sums)."""
    def on() -> None:
        monkeypatch.setattr(MixedOp, "_mix", _naive_mix)
        monkeypatch.setattr(cell_module, "node_sum", lambda outs: torch.stack(outs).sum(0))
    return on


def _grads(net: torch.nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    params = [p for p in net.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def _darts_loss(net: Supernet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    out = net(x)  # softmax(alphas) on every edge
    return out, (out ** 2).mean() + out[:, 1].mean()


def _assert_all_close(a: list[torch.Tensor], b: list[torch.Tensor]) -> None:
    assert len(a) == len(b)
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, **TOL)


def test_weighted_sum_matches_the_plain_formula(program, naive) -> None:
    x = torch.randn(2, 1, 16, 16)
    net = _supernet(program)
    out, loss = _darts_loss(net, x)
    grads = _grads(net, loss)
    naive()
    ref_out, ref_loss = _darts_loss(net, x)
    torch.testing.assert_close(out, ref_out, **TOL)
    _assert_all_close(grads, _grads(net, ref_loss))  # weights and alphas


@pytest.mark.parametrize("recompute", [False, True])
def test_mixed_op_accumulates_without_running_none(program, recompute) -> None:
    net = _supernet(program)
    set_recompute(net, recompute)
    op = next(o for _, k, o in net.mixed_ops() if k == "n2__n3")
    assert op.is_zero[0] and op.live == tuple(range(1, len(op.ops)))
    calls = []
    op.ops[0].register_forward_hook(lambda *a: calls.append(1))
    x = torch.randn(2, 4, 4, 4, requires_grad=True)
    w = torch.softmax(torch.randn(len(op.ops)), 0).requires_grad_()
    out = op(x, w)
    manual = sum(w[i] * m(x) for i, m in enumerate(op.ops))
    torch.testing.assert_close(out, manual, **TOL)
    calls.clear()
    g = torch.randn_like(out)
    _assert_all_close(torch.autograd.grad(out, [x, w], g),
                      torch.autograd.grad(manual, [x, w], g))
    assert not calls  # backward never ran `none`, with or without recomputation


def _sampled_maps(net: Supernet, gated: bool, seed: int = 1):
    """(down, up) edge maps of sampled paths: one per row, or a gated pair per row."""
    gen = torch.Generator().manual_seed(seed)
    samples = {}
    for name, table in net.alphas.tables.items():
        for row in range(table.shape[0]):
            i, j = torch.randperm(table.shape[1], generator=gen)[:2].tolist()
            if gated:
                p = torch.softmax(table[row, [i, j]], 0)
                gates = torch.tensor([1.0, 0.0]) + p - p.detach()
                samples[(name, row)] = PathSample(i, j, gates)
            else:
                samples[(name, row)] = PathSample(i)
    maps = []
    for cell in ("down", "up"):
        ctype = next(c for c in net.alphas._where if c[0].value == cell)[0]
        maps.append({k: samples[net.alphas.where(ctype, k)] for k in net.alphas.edges_of(ctype)})
    return maps


@pytest.mark.parametrize("mode", ["darts", "path", "gates"])
def test_supernet_recompute_keeps_gradients(program, mode) -> None:
    x = torch.randn(2, 1, 16, 16)
    results = []
    for recompute in (False, True):
        net = _supernet(program)
        set_recompute(net, recompute)
        if mode == "darts":
            out, loss = _darts_loss(net, x)
        else:
            out = net(x, *_sampled_maps(net, gated=mode == "gates"))
            loss = (out ** 2).mean() + out[:, 1].mean()
        results.append((out.detach(), _grads(net, loss)))
    (out0, g0), (out1, g1) = results
    torch.testing.assert_close(out0, out1, **TOL)
    _assert_all_close(g0, g1)
    n_alphas = len(list(net.alphas.parameters()))
    assert all(g.abs().sum() > 0 for g in g1[-n_alphas:]) == (mode != "path")
    assert sum(bool(g.abs().sum() > 0) for g in g1[:-n_alphas]) > n_alphas


def test_darts_alpha_only_grads_and_hessian_vector_products_agree(program) -> None:
    """What the alpha step (grad w.r.t. alphas only) and the eigenvalue monitor (double
    backward) compute is the same with recomputation."""
    x = torch.randn(2, 1, 16, 16)
    results = []
    for recompute in (False, True):
        net = _supernet(program)
        set_recompute(net, recompute)
        alphas = list(net.alphas.parameters())
        _, loss = _darts_loss(net, x)
        grads = torch.autograd.grad(loss, alphas, create_graph=True)
        v = [torch.ones_like(a) for a in alphas]
        hv = torch.autograd.grad(grads, alphas, grad_outputs=v)
        results.append(([g.detach() for g in grads], list(hv)))
    _assert_all_close(results[0][0], results[1][0])
    _assert_all_close(results[0][1], results[1][1])
    assert any(h.abs().sum() > 0 for h in results[1][1])


def _saved_bytes(run) -> int:
    """Bytes of the tensors autograd keeps for backward while ``run()`` builds the graph."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return total


def test_supernet_recompute_keeps_less_for_backward(program) -> None:
    x = torch.randn(2, 1, 16, 16)
    net = _supernet(program)
    plain = _saved_bytes(lambda: net(x))
    set_recompute(net, True)
    assert all(op.recompute for _, _, op in net.mixed_ops())
    assert not any(c.recompute for c in (*net.net.down_cells, *net.net.up_cells))
    assert _saved_bytes(lambda: net(x)) < plain / 2
    set_recompute(net, False)
    assert _saved_bytes(lambda: net(x)) == plain


def test_discrete_recompute_keeps_gradients_and_runs_cells_twice(program) -> None:
    x = torch.randn(2, 1, 16, 16)
    results = []
    for recompute in (False, True):
        torch.manual_seed(0)
        net = build(program, "tiny_net")
        set_recompute(net, recompute)
        cell = net.down_cells[0]
        runs = []
        cell.pre1.register_forward_hook(lambda *a: runs.append(1))
        out = net(x)
        loss = (out ** 2).mean() + out[:, 1].mean()
        grads = _grads(net, loss)
        results.append((out.detach(), grads, len(runs)))
    (out0, g0, runs0), (out1, g1, runs1) = results
    torch.testing.assert_close(out0, out1, **TOL)
    _assert_all_close(g0, g1)
    assert (runs0, runs1) == (1, 2)  # the checkpointed cell ran again in backward


def test_discrete_recompute_only_while_training_with_grad(program) -> None:
    net = build(program, "tiny_net")
    set_recompute(net, True)
    x = torch.randn(2, 1, 16, 16)
    net.train()
    kept = _saved_bytes(lambda: net(x))
    set_recompute(net, False)
    assert kept < _saved_bytes(lambda: net(x)) / 2
    set_recompute(net, True)
    net.eval()
    runs = []
    net.down_cells[0].pre1.register_forward_hook(lambda *a: runs.append(1))
    net(x).sum().backward()  # eval: no checkpoint, one run per cell
    assert runs == [1]


def test_recomputation_runs_under_the_forwards_autocast(program) -> None:
    torch.set_default_dtype(torch.float32)
    net = _supernet(program)
    set_recompute(net, True)
    op = next(o for _, k, o in net.mixed_ops() if k == "n2__n3")
    conv = next(m for m in op.modules() if isinstance(m, torch.nn.Conv2d))
    dtypes = []
    conv.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    x = torch.randn(2, 1, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
    out.float().mean().backward()
    assert dtypes == [torch.bfloat16] * 2  # forward, and again in backward
    assert all(p.grad is not None for p in conv.parameters())
