"""torch.compile and recomputation as run options (genodsl.runtime.compiling).

Compiled runs trace with the ``aot_eager`` backend here (``GENODSL_COMPILE_BACKEND``): the
same graphs, guards and recompiles as inductor, without generating C++ on a CPU shared by
many jobs; one slow test compiles with inductor itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch._dynamo.utils import counters

from genodsl.compile.discrete import build_discrete
from genodsl.compile.mixed import MixedOp
from genodsl.compile.supernet import build_supernet
from genodsl.lang.loader import loads
from genodsl.runtime import compiling
from genodsl.search.config import SearchConfig
from genodsl.search.darts import Darts
from genodsl.search.proxyless import Proxyless
from genodsl.search.strategy import Batch

GENOTYPES = Path(__file__).resolve().parents[2] / "genotypes"

# two candidates per edge: the smallest space whose graphs still mix and sample
TINY = '''import "nasunet.geno"

opset D = [max_pool, down_conv]
opset U = [up_conv, up_dep_conv]
opset N = [none, conv]

space TWO {
  keep 2
  cell down {
    input s0, s1
    nodes 2
    from s0 use D
    from s1 use D
    from nodes use N
  }
  cell up {
    input s0, s1
    nodes 2
    from s0 use N
    from s1 use U
    from nodes use N
  }
}

network tiny_space {
  cells = TWO
  in_channels = 1
  classes = 2
  C = 4
  depth = 1
  stem_multiplier = 2
}

network tiny_net {
  cells = NASUNET
  in_channels = 1
  classes = 2
  C = 4
  depth = 1
  stem_multiplier = 2
}
'''


@pytest.fixture(scope="module")
def program():
    return loads(TINY, "tiny.geno", base_dir=GENOTYPES)


@pytest.fixture(autouse=True)
def _traced(monkeypatch, tmp_path):
    monkeypatch.setenv(compiling.BACKEND_ENV, "aot_eager")
    monkeypatch.setenv(compiling.CACHE_ENV, str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()
    torch.set_num_threads(threads)


def _net(program, seed=0):
    torch.manual_seed(seed)
    return build_discrete(program.networks["tiny_net"].settings, program.genotypes["NASUNET"])


def _supernet(program, seed=0):
    torch.manual_seed(seed)
    return build_supernet(program.networks["tiny_space"].settings, program.spaces["TWO"])


def _batch(seed, size=16):
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(2, 1, size, size, generator=g),
                 torch.randint(0, 2, (2, size, size), generator=g))


def _graphs() -> int:
    return counters["stats"]["unique_graphs"]


# ------------------------------------------------------------------------- the cache
def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(compiling.CACHE_ENV, str(tmp_path / "mine"))
    assert compiling.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(compiling.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compiling.cache_dir() == tmp_path / "xdg" / "genodsl" / "inductor"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert compiling.cache_dir() == tmp_path / "home" / ".cache" / "genodsl" / "inductor"


def test_enable_cache_points_inductor_at_the_folder(monkeypatch, tmp_path):
    from torch._inductor.runtime.cache_dir_utils import cache_dir as inductor_cache_dir

    monkeypatch.delenv(compiling.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = compiling.enable_cache()
    assert path.is_dir() and Path(inductor_cache_dir()) == path
    assert torch._inductor.config.fx_graph_cache


def test_prepare_says_where_the_cache_is(program, tmp_path):
    said: list[str] = []
    net = _net(program)
    out = compiling.prepare(net, compile=True, say=said.append)
    assert out is not net and said == [
        "compiling the model: the first steps take longer; compiled graphs are cached in "
        f"{tmp_path / 'cache'}"]
    assert compiling.prepare(net, say=said.append) is net and len(said) == 1  # off: silent


def test_prepare_turns_recomputation_on(program):
    net, said = _net(program), []
    assert compiling.prepare(net, recompute=True, say=said.append) is net
    cells = [*net.down_cells, *net.up_cells]
    assert cells and all(c.recompute for c in cells) and said == []
    plain = nn.Sequential(nn.Conv2d(1, 2, 3))  # e.g. a baseline: nothing to recompute
    assert compiling.prepare(plain, recompute=True, say=said.append) is plain
    assert said == ["recompute: this model has no cells or mixed edges to recompute; it runs "
                    "as without"]


# ------------------------------------------------------------------------- discrete networks
def test_compiled_discrete_net_equals_eager_and_keeps_its_keys(program):
    eager, net = _net(program), _net(program)
    keys = list(net.state_dict())
    compiled = compiling.prepare(net, compile=True, recompute=True)
    x = torch.randn(2, 1, 16, 16)
    y_eager, y = eager(x), compiled(x)
    torch.testing.assert_close(y, y_eager, rtol=1e-5, atol=1e-5)
    y_eager.square().mean().backward()
    y.square().mean().backward()
    for (name, p), q in zip(eager.named_parameters(), net.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-6, msg=name)
    assert list(net.state_dict()) == keys
    assert not any("_orig_mod" in k for k in net.state_dict())
    graphs = _graphs()
    compiled(torch.randn(2, 1, 16, 16)).sum().backward()  # the same kind of call: no trace
    assert _graphs() == graphs


@pytest.mark.slow
def test_inductor_compiles_a_discrete_net_like_eager(program, monkeypatch):
    monkeypatch.setenv(compiling.BACKEND_ENV, "inductor")
    eager, net = _net(program), _net(program)
    compiled = compiling.prepare(net, compile=True)
    x = torch.randn(1, 1, 16, 16)
    y_eager, y = eager(x), compiled(x)
    torch.testing.assert_close(y, y_eager, rtol=1e-4, atol=1e-4)
    y_eager.sum().backward()
    y.sum().backward()
    for p, q in zip(eager.parameters(), net.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-3, atol=1e-4)


# ------------------------------------------------------------------------- search
@pytest.mark.parametrize("recompute", [False, True])
def test_darts_compiles_once_and_steps_like_eager(program, recompute):
    net, ref = _supernet(program), _supernet(program)
    keys = list(net.state_dict())
    s = Darts(net, SearchConfig(strategy="darts", compile=True, recompute=recompute),
              nn.CrossEntropyLoss())
    e = Darts(ref, SearchConfig(strategy="darts"), nn.CrossEntropyLoss())
    # recomputing edges rerun candidates one by one: then the candidates are compiled
    assert (s.forward_net is net) == recompute and e.forward_net is ref
    graphs = []
    for step in range(3):
        val, train = _batch(2 * step), _batch(2 * step + 1)
        for strategy in (s, e):
            strategy.alpha_step(val, train)
            strategy.weight_step(train)
        graphs.append(_graphs())
    if not recompute:  # the alpha step's graph (gradients to alphas) and the weight step's
        assert graphs[0] == 2
    assert graphs[0] > 0 and graphs == graphs[:1] * 3  # new alphas and weights: same graphs
    assert counters["frames"]["ok"] == counters["frames"]["total"]  # no graph break
    for (name, p), q in zip(ref.state_dict().items(), net.state_dict().values()):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-6, msg=name)
    assert list(net.state_dict()) == keys


def test_alpha_steps_run_with_the_weights_frozen(program):
    """The alpha step's graph reaches no weight (a compiled backward would compute their
    gradients for nothing); its alpha gradients are those of the full graph."""
    net = _supernet(program)
    s = Darts(net, SearchConfig(strategy="darts", regularizer="none"), nn.CrossEntropyLoss())
    b = _batch(0)
    grads, _, _ = s.alpha_grads(b, b)
    down, up = net.alphas.edge_weights()
    full = torch.autograd.grad(s.loss(s.run(b.image, down, up), b.mask), s.alphas)
    for g, ref in zip(grads, full):
        torch.testing.assert_close(g, ref, rtol=1e-5, atol=1e-8)
    assert all(p.requires_grad and p.grad is None for p in s.weights)
    logits = s.run_for_alphas(b.image, down, up)
    with pytest.raises(RuntimeError, match="does not require grad|not have been used"):
        torch.autograd.grad(s.loss(logits, b.mask), s.weights[:1])


def test_proxyless_compiles_the_parts_between_mixed_edges(program):
    net = _supernet(program)
    keys = list(net.state_dict())
    s = Proxyless(net, SearchConfig(strategy="proxyless", compile=True), nn.CrossEntropyLoss())
    assert s.forward_net is net  # compiled in place, part by part
    parts = compiling.compiled_parts(net)
    kinds = {type(p).__name__ for p in parts}
    assert not any(isinstance(m, MixedOp) for p in parts for m in p.modules())
    assert all(any(True for _ in p.parameters()) for p in parts)  # pools stay eager
    mixed = [op for _, _, op in net.mixed_ops()]
    weighted = [c for op in mixed for c in op.ops if any(True for _ in c.parameters())]
    assert set(map(id, weighted)) <= set(map(id, parts))
    assert {id(net.net.stem0), id(net.net.stem1), id(net.net.head)} <= set(map(id, parts))
    assert all(p.forward is not type(p).forward for p in parts)
    assert not any(p is net.alphas for p in parts)  # never called: nothing to compile
    again = compiling.compile_parts(net, MixedOp)  # a second strategy on the same supernet
    assert [p.forward for p in again] == [p.forward for p in parts]  # compiled once
    assert len(kinds) > 1
    assert list(net.state_dict()) == keys
    # the same sample twice: the second step traces nothing
    state = s.gen.get_state()
    s.alpha_step(_batch(0), _batch(1))
    s.weight_step(_batch(1))
    graphs = _graphs()
    assert graphs > 0
    s.gen.set_state(state)
    s.alpha_step(_batch(2), _batch(3))
    s.weight_step(_batch(3))
    assert _graphs() == graphs
    # any number of samples: at most one graph per part and kind of call
    for step in range(4):
        s.alpha_step(_batch(4 + step), _batch(5 + step))
        s.weight_step(_batch(5 + step))
    assert _graphs() <= 3 * len(parts)
    assert counters["frames"]["ok"] == counters["frames"]["total"]
    compiling.uncompile_parts(net)
    assert compiling.compiled_parts(net) == []


def test_eager_runs_compiled_parts_without_tracing(program):
    net = _supernet(program)
    Proxyless(net, SearchConfig(strategy="proxyless", compile=True), nn.CrossEntropyLoss())
    down, up = net.alphas.edge_weights()
    with compiling.eager():
        loss = net(torch.randn(1, 1, 16, 16), down, up).square().mean()
        grads = torch.autograd.grad(loss, net.alpha_parameters(), create_graph=True)
        sum(g.sum() for g in grads).backward()  # double backward (the Hessian eigenvalue)
    assert counters["stats"]["unique_graphs"] == 0


# ------------------------------------------------------------------------- training runs
class _Seg(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randn(n, 1, 16, 16, generator=g)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        image = self.images[i]
        return {"image": image, "mask": (image[0] > 0.5).long(), "name": f"i{i}", "case": f"c{i}"}


def test_trainer_compiles_the_steps_and_saves_the_module(program, tmp_path, capsys):
    from genodsl.config import RuntimeConfig
    from genodsl.train.checkpoint import RunPaths, load_checkpoint
    from genodsl.train.config import TrainConfig
    from genodsl.train.loop import fit

    def stop_after_one(trainer, stats):
        if stats.epoch == 1:
            raise KeyboardInterrupt

    def run(name, compile, resume=False, **kw):
        cfg = TrainConfig(epochs=2, batch_size=4, lr=1e-2, compile=compile, count_flops=False)
        net = _net(program, seed=1)
        result = fit(net, _Seg(8), _Seg(4, seed=1), config=cfg, run_dir=tmp_path / name,
                     num_classes=2, runtime=RuntimeConfig(device="cpu", progress=False),
                     resume=resume, **kw)
        return net, result.status, load_checkpoint(RunPaths(tmp_path / name).last)["model"]

    _, _, eager = run("eager", False)
    assert "compiling the model" not in capsys.readouterr().err
    net, status, saved = run("compiled", True, callbacks=[stop_after_one])
    assert status == "interrupted" and "compiling the model" in capsys.readouterr().err
    assert list(saved) == list(net.state_dict())  # no _orig_mod. prefixes
    _, status, saved = run("compiled", True, resume=True)  # resumes into a compiled model
    assert status == "completed"
    for name, value in eager.items():  # the same training as without compiling
        torch.testing.assert_close(saved[name], value, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.slow
def test_cli_train_with_compile_and_recompute(cli, tmp_path):
    from safetensors.torch import load_file

    from genodsl.compile.discrete import build_discrete as build

    out = tmp_path / "run"
    args = ["train", GENOTYPES / "nasunet.geno", "-n", "nasunet_tiny", "--data", "synthetic",
            "--out", out, "--set", "data.size=32", "--set", "data.synthetic.n_images=8",
            "--set", "train.batch_size=4", "--set", "train.count_flops=false",
            "--set", "train.compile=true", "--set", "train.recompute=true"]
    code, _, err = cli(*args, "--epochs", "1")
    assert code == 0, err
    assert "compiling the model" in err
    program = loads((GENOTYPES / "nasunet.geno").read_text(encoding="utf-8"),
                    str(GENOTYPES / "nasunet.geno"), base_dir=GENOTYPES)
    keys = set(build(program.networks["nasunet_tiny"].settings,
                     program.genotypes["NASUNET"]).state_dict())
    assert set(load_file(out / "model.safetensors")) == keys


def test_search_with_compile_runs_and_saves_the_supernet(program, tmp_path):
    """proxyless, compiled in parts, with the Hessian eigenvalue (double backward: eager)."""
    import io

    from rich.console import Console

    from genodsl.config import RuntimeConfig
    from genodsl.data.config import parse_data_config
    from genodsl.search.runner import SearchJob, run_search

    space = tmp_path / "two.geno"
    space.write_text(TINY, encoding="utf-8")
    data = parse_data_config({"layout": "synthetic", "size": 16, "augment": {"enabled": False},
                              "synthetic": {"n_images": 8, "size": 16}})
    cfg = SearchConfig(strategy="proxyless", compile=True, epochs=2, steps_per_epoch=2,
                       batch_size=2, warmup_epochs=0, patience=None, plots=False,
                       hessian_every=1, hessian_iters=2)
    job = SearchJob(loads(TINY, str(space), base_dir=GENOTYPES), "tiny_space", cfg, data,
                    tmp_path / "run", runtime=RuntimeConfig(device="cpu", progress=False),
                    source=space.name)
    text = io.StringIO()
    result = run_search(job, console=Console(file=text, width=200))
    assert result.status == "completed"
    assert "compiling the model" in text.getvalue()
    assert all(r["hessian_eig"] is not None for r in result.history)
    saved = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=False)
    assert list(saved["net"]) == list(_supernet(program).state_dict())
