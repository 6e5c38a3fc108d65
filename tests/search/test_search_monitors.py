"""Collapse monitors: op shares, entropies, the Hessian eigenvalue, DARTS-ES, alpha warnings."""

from __future__ import annotations

import io
import json
import math

import pytest
import torch
from rich.console import Console

from genodsl.search import runner as runner_mod
from genodsl.search.config import SearchConfig
from genodsl.search.derive import derive
from genodsl.search.monitors import (EigenStop, dominant_eigenvalue, edge_entropy, mean_entropy,
                                     param_free_share)
from genodsl.search.runner import run_search
from genodsl.search.strategies import strategy_class
from genodsl.search.strategy import Batch
from genodsl.train.losses import build_loss
from search_helpers import make_supernet, tiny_job, tiny_runtime, tiny_search


def _peak(net, table: str, label: str, height: float) -> None:
    """Every row of ``table`` strongly prefers the candidate ``label``."""
    col = net.alphas.specs[table].labels.index(label)
    with torch.no_grad():
        net.alphas.tables[table].zero_()
        net.alphas.tables[table][:, col] = height


def test_param_free_share_of_hand_built_alphas(program) -> None:
    net = make_supernet(program)
    _peak(net, "down", "max_pool", 10.0)   # down edges: stronger than any normal edge
    _peak(net, "up", "up_conv", 10.0)
    _peak(net, "normal", "conv", 5.0)
    share = param_free_share(derive(net.space, net.alphas, "g"))
    # down cell: every node keeps its two down edges (max_pool); up cell: up_conv + conv
    assert share == {"down": 1.0, "up": 0.0}
    _peak(net, "normal", "identity", 5.0)
    # up cell: each node keeps its up edge (up_conv) and one normal edge (identity)
    assert param_free_share(derive(net.space, net.alphas, "g")) == {"down": 1.0, "up": 0.5}


def test_edge_entropy_is_normalised() -> None:
    probs = {"t": torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.25] * 4, [1.0, 0.0, 0.0, 0.0]])}
    per_edge = edge_entropy(probs)
    assert per_edge["t"] == pytest.approx([0.5, 1.0, 0.0], abs=1e-12)
    assert mean_entropy(per_edge) == {"t": pytest.approx(0.5)}


def test_power_iteration_on_a_known_matrix() -> None:
    q, _ = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64,
                                       generator=torch.Generator().manual_seed(0)))
    a = q @ torch.diag(torch.tensor([-5.0, 2.0, 1.0, 0.5, 0.1, 3.0], dtype=torch.float64)) @ q.T
    x = torch.randn(6, dtype=torch.float64, requires_grad=True)
    value = dominant_eigenvalue(lambda: 0.5 * x @ a @ x, [x], iters=500,
                                tol=1e-12, generator=torch.Generator().manual_seed(1))
    assert value == pytest.approx(-5.0, rel=1e-6)  # the largest in magnitude, with its sign


def test_eigenvalue_matches_the_exact_hessian_of_a_tiny_supernet(program) -> None:
    net = make_supernet(program).double()
    torch.manual_seed(3)
    with torch.no_grad():
        for t in net.alphas.tables.values():
            t.normal_(0, 1.0)
    g = torch.Generator().manual_seed(4)
    image = torch.randn(1, 1, 16, 16, generator=g, dtype=torch.float64)
    mask = torch.randint(0, 2, (1, 16, 16), generator=g)
    loss_fn = build_loss("ce", 2)
    alphas = net.alpha_parameters()

    def loss() -> torch.Tensor:
        return loss_fn(net(image, *net.alphas.edge_weights()), mask)

    grads = torch.autograd.grad(loss(), alphas, create_graph=True)
    flat = torch.cat([gr.reshape(-1) for gr in grads])
    rows = [torch.cat([h.reshape(-1) for h in torch.autograd.grad(
        flat[i], alphas, retain_graph=True)]) for i in range(flat.numel())]
    hessian = torch.stack(rows)
    assert torch.allclose(hessian, hessian.T, atol=1e-8)
    eig = torch.linalg.eigvalsh(hessian)
    exact = float(eig[eig.abs().argmax()])
    value = dominant_eigenvalue(loss, alphas, iters=300, tol=1e-10,
                                generator=torch.Generator().manual_seed(5))
    assert value == pytest.approx(exact, rel=1e-3)


def test_eigen_stop_rule() -> None:
    rule = EigenStop(k=2, threshold=0.75)
    flat = {1: 1.0, 2: 1.0, 3: 1.1, 4: 1.2}
    assert [rule.check(flat, e) for e in range(1, 5)] == [None, None, None, None]
    jump = {1: 1.0, 2: 1.0, 3: 1.0, 4: 2.0}
    # epoch 4: mean λ of (2, 4] = 1.5, of (0, 2] = 1.0; 1.0 / 1.5 < 0.75 → back to epoch 2
    assert rule.check(jump, 4) == 2
    assert rule.check({3: 1.0, 4: 5.0}, 4) is None  # nothing measured k epochs before


def test_warmup_scales_with_the_epochs() -> None:
    assert SearchConfig().warmup == 10                     # the reference: 10 of 300
    assert [SearchConfig(epochs=e).warmup for e in (1, 4, 5, 20, 50)] == [0, 0, 1, 4, 10]
    assert SearchConfig(epochs=20, warmup_epochs=7).warmup == 7
    with pytest.raises(ValueError, match="hessian_every"):
        SearchConfig(eigen_stop="stop")


def test_monitors_are_logged_and_plotted(space_file, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    res = run_search(tiny_job(space_file, tmp_path / "m", hessian_every=2, plots=True))
    one, two = res.history
    assert "hessian_eig" not in one and math.isfinite(two["hessian_eig"])
    for r in res.history:
        assert set(r["param_free_share"]) == {"down", "up"}
        assert all(0.0 <= v <= 1.0 for v in r["entropy"].values())
        assert all(len(v) >= 1 for v in r["edge_entropy"].values())
    assert res.summary["monitors"]["hessian_eig"] == two["hessian_eig"]
    assert (tmp_path / "m" / "monitors.png").stat().st_size > 0
    assert "monitors.png" in res.summary["outputs"]


def test_eigen_stop_goes_back_to_the_epoch_before_the_jump(space_file, tmp_path, monkeypatch
                                                           ) -> None:
    values = iter([1.0, 1.0, 5.0, 9.0])
    monkeypatch.setattr(runner_mod, "_eigenvalue", lambda *a, **k: next(values))
    res = run_search(tiny_job(space_file, tmp_path / "e", epochs=4, hessian_every=1,
                              eigen_stop="stop", eigen_k=1,
                              alphas={"lr": 0.05}))
    assert res.status == "stopped_early" and res.epochs == 3
    assert res.history[-1]["event"] == "eigen_stop" and res.history[-1]["rolled_back_to"] == 2
    assert res.summary["stop_reason"] == "eigenvalue"
    body = res.genotype_file.read_text(encoding="utf-8").split("\n\n", 1)[1]
    assert body == (tmp_path / "e" / "history" / "epoch_0002.geno").read_text(encoding="utf-8").split("\n\n", 1)[1]


def test_alphas_that_barely_moved_are_reported(space_file, tmp_path) -> None:
    out = io.StringIO()
    res = run_search(tiny_job(space_file, tmp_path / "b", epochs=2, warmup_epochs=1),
                     console=Console(file=out, width=300))
    assert "the alphas barely moved" in out.getvalue()
    saved = json.loads((tmp_path / "b" / "summary.json").read_text(encoding="utf-8"))
    assert saved["alphas"]["trained_epochs"] == 1 and saved["alphas"]["max_shift"] < 0.02
    assert any("barely moved" in w for w in saved["warnings"])
    ok = run_search(tiny_job(space_file, tmp_path / "ok", epochs=2, warmup_epochs=1,
                             steps_per_epoch=3, alphas={"lr": 0.3}))
    assert ok.summary["warnings"] == [] and ok.summary["alphas"]["max_shift"] >= 0.02


def _batch(seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(2, 1, 16, 16, generator=g),
                 torch.randint(0, 2, (2, 16, 16), generator=g))


def test_eigenvalue_leaves_the_run_rng_alone(program) -> None:
    net = make_supernet(program)
    strategy = strategy_class("darts")(net, tiny_search(), build_loss("ce", 2),
                                       runtime=tiny_runtime())
    state = torch.get_rng_state()
    value = runner_mod._eigenvalue(strategy, _batch(1), 3, 0, 1)
    assert math.isfinite(value) and torch.equal(state, torch.get_rng_state())
    assert all(p.grad is None for p in net.parameters())


def test_resume_keeps_the_monitors(space_file, tmp_path) -> None:
    kw = dict(epochs=3, hessian_every=1, hessian_iters=3, regularizer="beta", aux_skip=1.0)
    full = run_search(tiny_job(space_file, tmp_path / "full", **kw))

    def stop_after_first(epoch: int, record: dict) -> None:
        if epoch == 1:
            raise KeyboardInterrupt

    run_search(tiny_job(space_file, tmp_path / "cut", **kw), on_epoch_end=stop_after_first)
    resumed = run_search(tiny_job(space_file, tmp_path / "cut", **kw), resume=True)
    assert full.genotype_file.read_bytes() == resumed.genotype_file.read_bytes()
    assert [r["hessian_eig"] for r in full.history] == [r["hessian_eig"] for r in resumed.history]
    assert full.summary["alphas"] == resumed.summary["alphas"]
