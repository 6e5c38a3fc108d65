"""Per-case metrics in millimetres: Dice over voxels, HD95, mean surface distance, NSD."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import binary_erosion

from genodsl.errors import DataError
from genodsl.train.metrics import CaseAccumulator, case_metrics

SPACING = (2.5, 0.8, 0.5)  # (z, y, x) mm: anisotropic


def _sphere(shape, centre, radius_mm, spacing) -> np.ndarray:
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1)
    d = (grid - np.asarray(centre)) * np.asarray(spacing)
    return (np.sqrt((d ** 2).sum(-1)) <= radius_mm).astype(np.int64)


def _hand_surface(pred: np.ndarray, gt: np.ndarray, spacing) -> tuple[float, float]:
    """HD95 and symmetric mean surface distance from the definitions, by brute force: the
    surface is the mask minus its erosion; each surface voxel's distance (in mm) to the
    nearest surface voxel of the other mask; HD95 = max of the two directed 95th
    percentiles, ASD = the mean over both surfaces' distances."""
    def surface(m):
        m = m.astype(bool)
        return np.argwhere(m & ~binary_erosion(m)) * np.asarray(spacing)

    sp, sg = surface(pred), surface(gt)
    dist = np.sqrt(((sp[:, None, :] - sg[None, :, :]) ** 2).sum(-1))
    d_pg, d_gp = dist.min(1), dist.min(0)
    hd95 = max(np.percentile(d_pg, 95), np.percentile(d_gp, 95))
    asd = np.concatenate([d_pg, d_gp]).mean()
    return float(hd95), float(asd)


def test_two_voxels_give_their_distance_in_mm():
    pred = torch.zeros(4, 5, 5, dtype=torch.long)
    gt = torch.zeros(4, 5, 5, dtype=torch.long)
    pred[0, 0, 0] = 1
    gt[2, 3, 1] = 1
    m = case_metrics(pred, gt, 2, spacing=SPACING)
    expected = math.sqrt((2 * 2.5) ** 2 + (3 * 0.8) ** 2 + (1 * 0.5) ** 2)
    assert float(m["hd95"][0]) == pytest.approx(expected, rel=1e-5)
    assert float(m["asd"][0]) == pytest.approx(expected, rel=1e-5)
    assert float(m["dsc"][1]) == 0.0


def test_offset_spheres_with_anisotropic_spacing_match_the_hand_computation():
    shape = (14, 40, 48)
    gt = _sphere(shape, (7, 20, 24), 7.0, SPACING)
    pred = _sphere(shape, (6, 22, 27), 6.0, SPACING)
    m = case_metrics(torch.from_numpy(pred), torch.from_numpy(gt), 2, spacing=SPACING)
    hd95, asd = _hand_surface(pred, gt, SPACING)
    assert float(m["hd95"][0]) == pytest.approx(hd95, rel=1e-4)
    assert float(m["asd"][0]) == pytest.approx(asd, rel=1e-4)
    assert hd95 > 1.0 and asd > 0.3  # the spheres really differ
    # in px (no spacing) the numbers change: the spacing is used
    px = case_metrics(torch.from_numpy(pred), torch.from_numpy(gt), 2)
    assert float(px["hd95"][0]) == pytest.approx(_hand_surface(pred, gt, (1, 1, 1))[0],
                                                 rel=1e-4)
    # surface Dice: all within a generous tolerance, not all within a tight one
    wide = case_metrics(torch.from_numpy(pred), torch.from_numpy(gt), 2, spacing=SPACING,
                        tolerance=hd95 * 3)
    tight = case_metrics(torch.from_numpy(pred), torch.from_numpy(gt), 2, spacing=SPACING,
                         tolerance=0.1)
    assert float(wide["nsd"][0]) == pytest.approx(1.0) and float(tight["nsd"][0]) < 0.9


def test_dice_per_case_is_the_voxel_count_formula():
    g = torch.Generator().manual_seed(0)
    pred = torch.randint(0, 3, (5, 12, 10), generator=g)
    gt = torch.randint(0, 3, (5, 12, 10), generator=g)
    m = case_metrics(pred, gt, 3)
    for c in range(3):
        p, t = pred == c, gt == c
        expected = 2 * (p & t).sum().item() / (p.sum().item() + t.sum().item())
        assert float(m["dsc"][c]) == pytest.approx(expected, rel=1e-6)
        assert float(m["iou"][c]) == pytest.approx((p & t).sum().item() / (p | t).sum().item(),
                                                   rel=1e-6)


def test_identical_masks_and_the_empty_mask_rule():
    gt = torch.from_numpy(_sphere((6, 16, 16), (3, 8, 8), 3.0, (1, 1, 1)))
    same = case_metrics(gt, gt, 2, spacing=(1, 1, 1))
    assert float(same["hd95"][0]) == 0 and float(same["asd"][0]) == 0
    assert float(same["nsd"][0]) == 1 and float(same["dsc"][1]) == 1
    empty = torch.zeros_like(gt)
    both_empty = case_metrics(empty, empty, 2)
    assert float(both_empty["nsd"][0]) == 1 and math.isnan(float(both_empty["hd95"][0]))
    assert math.isnan(float(case_metrics(empty, empty, 2, empty="ignore")["nsd"][0]))
    false_pos = case_metrics(gt, empty, 2)
    assert float(false_pos["nsd"][0]) == 0 and math.isnan(float(false_pos["asd"][0]))


def test_accumulator_rows_units_and_means():
    acc = CaseAccumulator(2, ["bg", "fg"], tolerance=2.0)
    gt = torch.from_numpy(_sphere((6, 16, 16), (3, 8, 8), 4.0, SPACING))
    acc.add("a", gt, gt, spacing=SPACING, slices=6)
    acc.add("b", torch.roll(gt, 1, 2), gt, spacing=SPACING, slices=6)
    rows = acc.rows()
    assert [r["case"] for r in rows] == ["a", "b"] and rows[0]["unit"] == "mm"
    assert rows[0]["spacing"] == "2.5x0.8x0.5" and rows[0]["shape"] == "6x16x16"
    s = acc.summary()
    assert s["cases"] == 2 and s["images"] == 12 and s["unit"] == "mm"
    assert s["hd95"] == pytest.approx((0 + rows[1]["hd95_fg"]) / 2)
    assert s["surface_tolerance"] == 2.0 and set(s["nsd_per_class"]) == {"fg"}
    acc.add("c", gt[0], gt[0])  # a 2D case without spacing: pixels
    assert acc.rows()[-1]["unit"] == "px" and acc.summary()["unit"] == "mixed"


def test_bad_cases_are_diagnostics():
    with pytest.raises(DataError):
        case_metrics(torch.zeros(3, 4, dtype=torch.long), torch.zeros(4, 3, dtype=torch.long), 2)
    with pytest.raises(DataError):
        case_metrics(torch.zeros(3, 4, dtype=torch.long), torch.zeros(3, 4, dtype=torch.long),
                     2, spacing=(1.0, 1.0, 1.0))
