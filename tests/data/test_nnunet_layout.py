"""nnU-Net v2 raw datasets (dataset.json, one file per channel) and 4D NIfTI modalities:
channels follow the data, class names come from dataset.json, shown by evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nibabel")

from genodsl.data import build_dataset, parse_data_config  # noqa: E402
from genodsl.data.config import Layout  # noqa: E402
from genodsl.data.layouts import detect_layout  # noqa: E402
from genodsl.data.fitting import fit_to_data  # noqa: E402
from genodsl.errors import GenoError  # noqa: E402

LABELS = {"background": 0, "PZ": 1, "TZ": 2}
TINY = ["--set", "data.size=16", "--set", "train.batch_size=4", "--set",
        "train.count_flops=false", "--epochs", "1", "--baseline", "unet_small"]


def _save(path: Path, xyz: np.ndarray) -> None:
    import nibabel as nib

    nib.save(nib.Nifti1Image(xyz, np.eye(4)), str(path))


def write_dataset(root: Path, cases: int = 4, *, four_d: bool = False,
                  labels: dict | None = None) -> Path:
    """Two modalities whose values encode their channel: m0 = label, m1 = 10 + label."""
    rng = np.random.default_rng(0)
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    if not four_d:
        (root / "dataset.json").write_text(json.dumps({
            "channel_names": {"0": "T2", "1": "ADC"}, "labels": labels or LABELS,
            "numTraining": cases, "file_ending": ".nii.gz"}))
    for c in range(cases):
        lab = rng.integers(0, 3, (16, 16, 2)).astype(np.uint8)  # (x, y, z)
        chans = [lab.astype(np.float32), 10 + lab.astype(np.float32)]
        if four_d:
            _save(root / "imagesTr" / f"case{c}.nii.gz", np.stack(chans, -1))
        else:
            for k, ch in enumerate(chans):
                _save(root / "imagesTr" / f"case{c}_{k:04d}.nii.gz", ch)
        _save(root / "labelsTr" / f"case{c}.nii.gz", lab)
    return root


@pytest.mark.parametrize("four_d", [False, True])
def test_two_modalities_become_two_channels(tmp_path, four_d):
    root = write_dataset(tmp_path / "ds", four_d=four_d)
    cfg = fit_to_data(parse_data_config({"root": str(root), "size": None, "normalize": "none",
                                         **({"num_classes": 3} if four_d else {})}))
    assert cfg.in_channels == 2
    assert detect_layout(root) is (Layout.NIFTI if four_d else Layout.NNUNET)
    ds = build_dataset(cfg)
    assert len(ds) == 4 * 2 and ds.cases == ["case0", "case1", "case2", "case3"]
    sample = ds[0]
    assert sample["image"].shape == (2, 16, 16)
    # channel 1 is channel 0 + 10 everywhere: the second modality was kept, in order
    assert np.array_equal(sample["image"][1].numpy(), sample["image"][0].numpy() + 10)
    assert np.array_equal(sample["mask"].numpy(), sample["image"][0].numpy().astype(int))
    if not four_d:
        assert cfg.num_classes == 3 and cfg.class_names == ("background", "PZ", "TZ")


def test_labels_that_are_not_consecutive_are_mapped(tmp_path):
    root = write_dataset(tmp_path / "ds", labels={"background": 0, "a": 1, "b": 2})
    data = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    data["labels"] = {"b": 2, "background": 0, "a": 1}  # any order in the file
    (root / "dataset.json").write_text(json.dumps(data), encoding="utf-8")
    cfg = fit_to_data(parse_data_config({"root": str(root)}))
    assert cfg.class_names == ("background", "a", "b") and cfg.class_map is None


def test_a_contradicting_setting_is_an_error(tmp_path):
    root = write_dataset(tmp_path / "ds")
    with pytest.raises(GenoError, match="data.in_channels = 1 but the data has 2") as err:
        fit_to_data(parse_data_config({"root": str(root), "in_channels": 1}))
    assert "dataset.json" in str(err.value)


def test_missing_channel_and_bad_json_are_clear_errors(tmp_path):
    root = write_dataset(tmp_path / "ds")
    (root / "imagesTr" / "case2_0001.nii.gz").unlink()
    with pytest.raises(GenoError, match="case 'case2' has 1 channels, dataset.json's "
                                        "channel_names 2"):
        build_dataset(fit_to_data(parse_data_config({"root": str(root)})))
    data = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    data["labels"] = {"background": 0, "tumour": [1, 2]}
    (root / "dataset.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(GenoError, match="region labels are not supported"):
        fit_to_data(parse_data_config({"root": str(root)}))


def test_train_evaluate_export_with_class_names(tmp_path, cli):
    root = write_dataset(tmp_path / "ds")
    run = tmp_path / "run"
    code, out, err = cli("train", "--data", root, "--out", run, *TINY)
    assert code == 0, err
    saved = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert saved.get("status") == "completed"
    code, out, err = cli("evaluate", run, "--out", tmp_path / "eval")
    assert code == 0, err
    assert "PZ" in out and "TZ" in out and "background" in out
    header = (tmp_path / "eval" / "per_case.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "dsc_PZ" in header
    # an imagesTs case: CASE_0000 brings CASE_0001 beside it; one label volume comes back
    tests = root / "imagesTs"
    tests.mkdir()
    for k in (0, 1):
        (tests / f"new_{k:04d}.nii.gz").write_bytes(
            (root / "imagesTr" / f"case0_{k:04d}.nii.gz").read_bytes())
    code, out, err = cli("predict", run, tests / "new_0000.nii.gz", "--out", tmp_path / "p")
    assert code == 0, err
    (label,) = [f for f in (tmp_path / "p").iterdir() if f.name.endswith(".nii.gz")]
    import nibabel as nib

    assert nib.load(str(label)).shape == (16, 16, 2)
    (tests / "new_0001.nii.gz").unlink()
    code, out, err = cli("predict", run, tests / "new_0000.nii.gz", "--out", tmp_path / "q")
    assert code == 2 and "new_0001.nii.gz is missing" in err
    pytest.importorskip("onnxruntime")
    code, out, err = cli("export", run, "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert code == 0, err
    from genodsl.export import read_metadata

    meta = read_metadata(tmp_path / "m.onnx")
    assert json.loads(meta["genodsl.class_names"]) == ["background", "PZ", "TZ"]
    assert json.loads(meta["genodsl.preprocessing"])["in_channels"] == 2


def test_a_network_of_one_channel_is_refused(tmp_path, cli):
    from tests.conftest import GENOTYPES

    root = write_dataset(tmp_path / "ds")
    code, out, err = cli("train", GENOTYPES / "nasunet.geno", "-n", "nasunet_tiny",
                         "--data", root, "--out", tmp_path / "run", "--set", "data.size=16")
    assert code == 2 and "Traceback" not in err
    assert "in_channels" in err and "model.in_channels=2" in err


def write_ct(root: Path, cases: int = 4) -> Path:
    """One CT channel: air -1000 around, tissue 40 + noise in the labels, a 3000 HU outlier
    (metal) in the foreground of every case."""
    rng = np.random.default_rng(1)
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    (root / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1},
        "numTraining": cases, "file_ending": ".nii.gz"}))
    for c in range(cases):
        lab = np.zeros((16, 16, 2), np.uint8)
        lab[2:14, 2:14] = 1
        img = np.where(lab > 0, 40 + rng.normal(0, 10, lab.shape), -1000.0)
        img[5, 5, 0] = 3000.0
        _save(root / "imagesTr" / f"ct{c}_0000.nii.gz", img.astype(np.float32))
        _save(root / "labelsTr" / f"ct{c}.nii.gz", lab)
    return root


def test_ct_is_normalised_with_the_training_foreground_window(tmp_path, cli):
    import yaml

    from genodsl.data import load_input
    from genodsl.data.splits import load_split
    from genodsl.runs.load import load_run

    root = write_ct(tmp_path / "ct")
    run = tmp_path / "run"
    code, _, err = cli("train", "--data", root, "--out", run, "--set",
                       "data.split.val_count=1", *TINY)
    assert code == 0, err
    data = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))["data"]
    assert data["normalize"] == "ct"  # from channel_names "CT"
    ((lo, hi, mean, std),) = data["ct_window"]
    assert -1000 < lo < 40 < hi < 3000  # percentiles of the foreground: no air, no metal
    assert 30 < mean < 50 and 5 < std < 15
    # the window comes from the training cases only
    from genodsl.data.intensity import foreground_statistics

    cfg = load_run(run).config.data
    train = set(load_split(run / "split.json").train)
    assert foreground_statistics(cfg, train)[0] == pytest.approx((lo, hi, mean, std))
    # predict applies the same window: air clips to the low end, metal to the high end
    item = load_input(root / "imagesTr" / "ct0_0000.nii.gz", cfg)
    values = item.images.flatten()
    assert values.min().item() == pytest.approx((lo - mean) / std, rel=1e-4)
    assert values.max().item() <= (hi - mean) / std + 1e-4


def test_ct_without_a_window_is_a_clear_error():
    from genodsl.data.config import Normalize
    from genodsl.data.preprocess import ClassMap, Preprocess

    with pytest.raises(GenoError, match="ct needs data.ct_window"):
        Preprocess(ClassMap(2), normalize=Normalize.CT)
    pre = Preprocess(ClassMap(2), normalize=Normalize.CT, ct_window=((-100.0, 200.0, 50.0, 25.0),))
    out = pre.image(np.array([[-1000.0, 50.0], [75.0, 900.0]], np.float32))
    assert out.flatten().tolist() == pytest.approx([-6.0, 0.0, 1.0, 6.0])
