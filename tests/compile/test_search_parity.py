"""The search supernet against the reference's (tianbaochou/NasUnet, `NasUnetSearch`) at its
search settings: 3 input channels, 21 classes, C = 16, depth 4, M = 3, stems 48 wide.

The reference has 614,091 weights (alphas not counted).  genodsl has 525,537; the difference is
exactly: the reference's duplicate `shuffle_conv` candidate (42 normal edges × a bias-free 3×3
conv of 2,304 weights), its `none` op's unused affine GroupNorm (42 × 32), its head's unused
GroupNorm over 21 classes (42), less the affine GroupNorm weights genodsl's search cells have
and the reference's (built with affine=False) do not (9,600).
"""

from __future__ import annotations

from pathlib import Path

import torch

from genodsl.compile.supernet import build_supernet
from genodsl.lang.loader import loads
from genodsl.ops.builders import param_count
from genodsl.ops.registry import OpKind

ROOT = Path(__file__).resolve().parents[2]
SEARCH = '''import "nasunet_space.geno"

network reference_search {
  cells           = NASUNET_SPACE
  in_channels     = 3
  classes         = 21
  C               = 16
  depth           = 4
  stem_multiplier = 3
}
'''
REFERENCE = 614_091


def test_supernet_weights_against_the_reference() -> None:
    program = loads(SEARCH, base_dir=ROOT / "genotypes")
    net = build_supernet(program.networks["reference_search"].settings,
                         program.spaces["NASUNET_SPACE"])
    total = sum(p.numel() for p in net.weight_parameters())
    cell_norms = sum(p.numel() for name, m in net.net.named_modules()
                     if isinstance(m, torch.nn.GroupNorm) and "cells" in name
                     for p in m.parameters())
    normal_edges = sum(1 for _, _, op in net.mixed_ops() if op.role is OpKind.NORMAL)
    c = 16
    conv_without_norm = param_count("conv", c) - 2 * c  # 3×3 conv, C → C, no bias
    assert (total, cell_norms, normal_edges, conv_without_norm) == (525_537, 9_600, 42, 2_304)
    shuffle_conv = normal_edges * conv_without_norm
    none_norm = normal_edges * 2 * c
    head_norm = 2 * 21
    assert total - cell_norms + shuffle_conv + none_norm + head_norm == REFERENCE


def test_search_affine_norm_false_is_the_references_supernet() -> None:
    """``search.affine_norm: false`` drops exactly the cells' 9,600 GroupNorm weights."""
    program = loads(SEARCH, base_dir=ROOT / "genotypes")
    settings = program.networks["reference_search"].settings
    net = build_supernet(settings, program.spaces["NASUNET_SPACE"], affine_norm=False)
    total = sum(p.numel() for p in net.weight_parameters())
    c = 16
    duplicates_and_dead_norms = 42 * (param_count("conv", c) - 2 * c) + 42 * 2 * c + 2 * 21
    assert total == 515_937 and total + duplicates_and_dead_norms == REFERENCE
    cell_norms = [m for name, m in net.net.named_modules()
                  if isinstance(m, torch.nn.GroupNorm) and "cells" in name]
    assert cell_norms and not any(m.affine or m.weight is not None for m in cell_norms)
    stem_and_head = [m for name, m in net.net.named_modules()
                     if isinstance(m, torch.nn.GroupNorm) and "cells" not in name]
    assert stem_and_head and all(m.affine for m in stem_and_head)
