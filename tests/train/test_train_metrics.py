"""Metric values against hand computations, the empty-mask rule, and the accumulator."""

from __future__ import annotations

import math

import pytest
import torch

from genodsl.errors import DataError
from genodsl.train.metrics import (CaseAccumulator, EmptyMaskRule, MetricAccumulator,
                                   segmentation_metrics)


def _case():
    """4x4: GT foreground is a 2x2 block; the prediction hits 2 of it plus 1 false positive."""
    gt = torch.zeros(1, 4, 4, dtype=torch.long)
    gt[0, 1:3, 1:3] = 1
    pred = torch.zeros_like(gt)
    pred[0, 1, 1:3] = 1
    pred[0, 0, 0] = 1
    return pred, gt


def test_dsc_iou_accuracy_by_hand():
    pred, gt = _case()
    m = segmentation_metrics(pred, gt, 2)
    # foreground: |P|=3, |G|=4, |P∩G|=2 ; background: |P|=13, |G|=12, |P∩G|=11
    assert m.dice[0].tolist() == pytest.approx([22 / 25, 4 / 7])
    assert m.iou[0].tolist() == pytest.approx([11 / 14, 2 / 5])
    assert m.pixel_accuracy.tolist() == pytest.approx([13 / 16])


def test_logits_are_accepted():
    pred, gt = _case()
    logits = torch.nn.functional.one_hot(pred, 2).permute(0, 3, 1, 2).float()
    assert torch.equal(segmentation_metrics(logits, gt, 2).dice,
                       segmentation_metrics(pred, gt, 2).dice)


def test_empty_mask_rule_score_default():
    gt = torch.zeros(2, 4, 4, dtype=torch.long)
    pred = torch.zeros_like(gt)
    pred[1, 0, 0] = 1  # image 1: empty GT with one false positive
    m = segmentation_metrics(pred, gt, 2)
    assert m.dice[:, 1].tolist() == [1.0, 0.0]
    assert m.iou[:, 1].tolist() == [1.0, 0.0]


def test_empty_mask_rule_ignore_leaves_values_out_of_means():
    gt = torch.zeros(2, 4, 4, dtype=torch.long)
    gt[0, 1:3, 1:3] = 1
    pred = gt.clone()
    pred[1, 0, 0] = 1  # image 1: empty GT with a false positive -> NaN under 'ignore'
    m = segmentation_metrics(pred, gt, 2, empty="ignore")
    assert m.dice[0, 1] == 1.0 and math.isnan(float(m.dice[1, 1]))
    acc = MetricAccumulator(2, empty=EmptyMaskRule.IGNORE)
    acc.update(pred, gt)
    assert acc.summary()["dsc"] == pytest.approx(1.0)
    acc_score = MetricAccumulator(2)
    acc_score.update(pred, gt)
    assert acc_score.summary()["dsc"] == pytest.approx(0.5)


def test_hd95_in_pixels_by_shift_per_case():
    gt = torch.zeros(12, 12, dtype=torch.long)
    gt[3:8, 3:8] = 1
    pred = torch.roll(gt, 2, dims=1)  # shifted by 2 pixels
    acc = CaseAccumulator(2, ["bg", "fg"])
    acc.add("c", pred, gt)
    assert acc.rows()[0]["hd95_fg"] == pytest.approx(2.0) and acc.rows()[0]["unit"] == "px"
    acc.add("empty prediction", torch.zeros_like(gt), gt)
    assert math.isnan(acc.rows()[1]["hd95_fg"])
    assert acc.summary()["hd95"] == pytest.approx(2.0)  # NaNs left out of the mean
    with pytest.raises(TypeError):
        acc.update(pred[None], gt[None])  # cases are scored whole


def test_miou_counts_the_last_class():
    gt = torch.tensor([[[0, 0, 1, 1], [0, 0, 2, 2]]])
    pred = torch.tensor([[[0, 0, 1, 2], [0, 0, 2, 2]]])
    # IoU: class 0 = 4/4, class 1 = 1/2, class 2 = 2/3
    acc = MetricAccumulator(3, ["bg", "a", "b"])
    acc.update(pred, gt, names=["x"], cases=["c"])
    s = acc.summary()
    assert s["iou_per_class"] == pytest.approx({"bg": 1.0, "a": 0.5, "b": 2 / 3})
    assert s["miou"] == pytest.approx((1 + 0.5 + 2 / 3) / 3)
    assert s["miou"] != pytest.approx((1 + 0.5) / 2)  # the reference's bug left 'b' out
    assert s["miou_pooled"] == pytest.approx((1 + 0.5 + 2 / 3) / 3)
    # headline DSC: foreground classes only; DSC a = 2/3, b = 4/5
    assert s["dsc"] == pytest.approx((2 / 3 + 4 / 5) / 2)


def test_accumulator_rows_and_pooled_summary():
    pred, gt = _case()
    acc = MetricAccumulator(2, ["background", "prostate"])
    acc.update(pred, gt, names=["a"], cases=["c1"])
    acc.update(gt, gt, names=["b"], cases=["c1"])
    rows = acc.rows()
    assert [r["name"] for r in rows] == ["a", "b"]
    assert acc.columns == ["name", "case", "pixel_accuracy", "dsc_background", "dsc_prostate",
                           "iou_background", "iou_prostate"]
    assert all(list(r) == acc.columns for r in rows)
    assert rows[0]["dsc_prostate"] == pytest.approx(4 / 7) and rows[1]["dsc_prostate"] == 1.0
    s = acc.summary()
    assert s["images"] == 2
    assert s["dsc"] == pytest.approx((4 / 7 + 1) / 2)  # mean over images
    assert s["dsc_pooled"] == pytest.approx(2 * 6 / (7 + 8))  # summed over the dataset
    assert s["pixel_accuracy"] == pytest.approx(29 / 32)
    acc.reset()
    with pytest.raises(DataError):
        acc.summary()


def test_bad_inputs_are_data_errors():
    gt = torch.zeros(1, 4, 4, dtype=torch.long)
    with pytest.raises(DataError):
        segmentation_metrics(gt + 2, gt, 2)
    with pytest.raises(DataError):
        segmentation_metrics(gt[:, :2], gt, 2)
    with pytest.raises(DataError):
        MetricAccumulator(2, ["only-one"])
