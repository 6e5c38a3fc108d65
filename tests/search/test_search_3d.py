"""A 3D search, step by step: each strategy on a synthetic volume derives a genotype whose
written text reloads as a 3D network; `genodsl search` on volumes does the same from patches."""

from __future__ import annotations

import pytest
import torch

from genodsl.compile import build
from genodsl.compile.supernet import build_supernet
from genodsl.lang.loader import loads
from genodsl.search.config import SearchConfig
from genodsl.search.derive import derive
from genodsl.search.genotype_file import Provenance, genotype_text
from genodsl.search.strategies import strategy_class
from genodsl.search.strategy import Batch
from genodsl.train.losses import build_loss

SPACE = ('import "nasunet_space.geno"\n'
         "network s3 { cells = NASUNET_SPACE  C = 2  depth = 1  dims = 3  inplane_stages = 1 }")


def _volume(seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(1, 1, 2, 8, 8, generator=g)  # [B, C, D, H, W]
    return Batch(image, (image[:, 0] > 0).long())    # [B, D, H, W]


@pytest.mark.parametrize("strategy", ["darts", "darts2", "proxyless"])
def test_a_3d_search_step_writes_a_genotype_that_reloads_in_3d(strategy):
    torch.manual_seed(0)
    program = loads(SPACE)
    settings = program.network("s3").settings
    space = program.spaces[settings.cells]
    supernet = build_supernet(settings, space)
    search = strategy_class(strategy)(supernet, SearchConfig(strategy=strategy),
                                      build_loss("dice", settings.classes))
    before = {k: v.detach().clone() for k, v in supernet.alphas.tables.items()}
    result = search.weight_step(_volume(1))
    assert result.logits.shape == (1, 2, 2, 8, 8) and torch.isfinite(torch.tensor(result.loss))
    search.alpha_step(_volume(2), _volume(3))
    assert any(not torch.equal(before[k], v) for k, v in supernet.alphas.tables.items())
    genotype = derive(space, supernet.alphas, f"G_{strategy}")
    text = genotype_text(genotype, "s3", settings, Provenance(
        "NASUNET_SPACE", "nasunet_space.geno", "s3", strategy, 0, 1, 1, "synthetic volume", "x"))
    reloaded = loads(text)
    net = reloaded.network("s3_derived")
    assert (net.settings.dims, net.settings.inplane_stages) == (3, 1)
    model = build(reloaded, net.name)
    assert model(torch.randn(1, 1, 2, 8, 8)).shape == (1, 2, 2, 8, 8)


@pytest.mark.parametrize("metric", ["params", "flops"])
def test_the_cost_model_counts_3d_ops(metric):
    from genodsl.search.config import CostMetric
    from genodsl.search.costs import CostModel
    from genodsl.search.genotype_file import derived_settings

    program = loads(SPACE)
    settings = program.network("s3").settings
    supernet = build_supernet(settings, program.spaces[settings.cells])
    derived = derived_settings(settings, settings.cells)
    model = CostModel(supernet, derived, CostMetric(metric), (2, 8, 8))
    cost = model(supernet.alphas.probs()).detach()
    assert torch.isfinite(cost) and float(cost) > model.fixed > 0


def _decathlon(root, n: int = 2):
    """imagesTr/ + labelsTr/: ``n`` volumes 8×16×16 (a bright box labelled 2 on noise)."""
    import numpy as np
    sitk = pytest.importorskip("SimpleITK")

    rng = np.random.default_rng(0)
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    for i in range(n):
        label = np.zeros((8, 16, 16), np.uint8)
        label[2:6, 4 + i:12, 3:11] = 2
        image = (rng.normal(0, 1, label.shape) + 3.0 * (label > 0)).astype(np.float32)
        for array, folder in ((image, "imagesTr"), (label, "labelsTr")):
            img = sitk.GetImageFromArray(array)
            img.SetSpacing((0.8, 0.9, 2.5))
            sitk.WriteImage(img, str(root / folder / f"case{i}.nii.gz"))
    return root


@pytest.mark.parametrize("strategy", ["darts", "darts2", "proxyless"])
def test_a_1_epoch_3d_search_on_volumes_from_the_cli(strategy, tmp_path, capsys):
    """`genodsl search` on a dims = 3 space trains on 3D patches of the weight half's volumes,
    steps alphas on patches of the alpha half, reports the supernet's peak memory and writes
    a genotype that reloads as a 3D network."""
    import json

    from genodsl.cli import main
    from genodsl.lang.loader import load
    data = _decathlon(tmp_path / "data")
    space = tmp_path / "s3.geno"
    space.write_text(SPACE, encoding="utf-8")
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["search", str(space), "--network", "s3", "--data", str(data), "--strategy",
              strategy, "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2",
              "--no-progress", "--out", str(out), "--set", "data.patch=[4,8,8]",
              "--set", "data.class_map={0: 0, 2: 1}", "--set", "search.warmup_epochs=0",
              "--set", "search.plots=false"])
    err = capsys.readouterr().err
    assert int(exc.value.code or 0) == 0, err
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["memory"]["input"] == [1, 4, 8, 8] and summary["memory"]["peak_mb"] > 0
    program = load(out / "genotype.geno")
    net = next(n for n in program.networks.values() if n.settings.cells in program.genotypes)
    assert (net.settings.dims, net.settings.inplane_stages) == (3, 1)
    model = build(program, net.name)
    assert model(torch.randn(1, 1, 4, 8, 8)).shape == (1, 2, 4, 8, 8)
