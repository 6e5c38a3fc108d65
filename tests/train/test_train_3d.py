"""3D end to end from the CLI: train a dims = 3 network on volume patches, predict a whole
volume (one label volume with the input's geometry and label values), evaluate per case in mm.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from genodsl.cli import main

sitk = pytest.importorskip("SimpleITK")

GENO = ('import "nasunet.geno"\n'
        "network t3 { cells = NASUNET  C = 4  depth = 1  dims = 3 }\n")
SPACING = (0.8, 0.9, 2.5)                    # (x, y, z) mm
ORIGIN = (-12.0, 30.5, 7.25)
DIRECTION = (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0)
SHARED_CT = Path(__file__).resolve().parents[3] / "shared" / "data" / "volumes" / "totalseg_ct"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def _write(array: np.ndarray, path: Path) -> None:
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(SPACING)
    img.SetOrigin(ORIGIN)
    img.SetDirection(DIRECTION)
    sitk.WriteImage(img, str(path))


def decathlon(root: Path, n: int = 3, shape: tuple[int, int, int] = (8, 16, 16)) -> Path:
    """imagesTr/ + labelsTr/ with ``n`` cases: a bright box labelled 2 (the class map reads
    {0: 0, 2: 1}) on noise."""
    rng = np.random.default_rng(0)
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    for i in range(n):
        label = np.zeros(shape, np.uint8)
        z, y, x = (int(v) for v in rng.integers(1, 4, 3))
        label[z:z + 4, y:y + 8, x:x + 8] = 2
        image = rng.normal(0, 1, shape) + 3.0 * (label > 0)
        _write(image.astype(np.float32), root / "imagesTr" / f"case{i}.nii.gz")
        _write(label, root / "labelsTr" / f"case{i}.nii.gz")
    return root


def _geometry(path: Path) -> tuple:
    img = sitk.ReadImage(str(path))
    return (img.GetSize(), np.round(img.GetSpacing(), 5).tolist(),
            np.round(img.GetOrigin(), 5).tolist(), np.round(img.GetDirection(), 5).tolist())


def _train_predict_evaluate(geno: Path, data: Path, image: Path, out: Path, capsys,
                            extra: list[str]) -> Path:
    code, stdout, err = run(["train", str(geno), "--network", "t3", "--data", str(data),
                             "--epochs", "1", "--batch-size", "2", "--no-progress",
                             "--out", str(out / "run"), *extra], capsys)
    assert code == 0, err
    code, stdout, err = run(["predict", str(out / "run"), str(image), "--out",
                             str(out / "pred"), "--no-progress"], capsys)
    assert code == 0, err
    label = next((out / "pred").glob("*_seg.nii.gz"))
    assert _geometry(label) == _geometry(image)
    code, stdout, err = run(["evaluate", str(out / "run"), "--no-progress"], capsys)
    assert code == 0, err
    return label


def test_train_predict_evaluate_3d_on_a_decathlon_folder(tmp_path, capsys):
    data = decathlon(tmp_path / "data")
    geno = tmp_path / "t3.geno"
    geno.write_text(GENO, encoding="utf-8")
    image = data / "imagesTr" / "case0.nii.gz"
    label = _train_predict_evaluate(
        geno, data, image, tmp_path, capsys,
        ["--set", "data.patch=[8,16,16]", "--set", "data.class_map={0: 0, 2: 1}",
         "--set", "data.split.val_count=1", "--set", "data.split.mode=contiguous"])
    values = np.unique(sitk.GetArrayFromImage(sitk.ReadImage(str(label))))
    assert set(values.tolist()) <= {0, 2}  # the data's own label values, not class indices
    lines = (tmp_path / "run" / "eval" / "per_case.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    assert len(lines) == 2 and lines[1].startswith("case2")  # one validation volume
    assert any(h.startswith("hd95") for h in header)
    import json
    summary = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text(encoding="utf-8"))
    assert summary["unit"] == "mm" and summary["images"] == 8  # 8 slices in one volume


def test_a_2d_patch_for_a_3d_network_is_one_clear_error(tmp_path, capsys):
    data = decathlon(tmp_path / "data", n=2)
    geno = tmp_path / "t3.geno"
    geno.write_text(GENO, encoding="utf-8")
    code, _, err = run(["train", str(geno), "--network", "t3", "--data", str(data),
                        "--epochs", "1", "--no-progress", "--out", str(tmp_path / "run"),
                        "--set", "data.patch=[16,16]", "--set", "data.class_map={0: 0, 2: 1}"],
                       capsys)
    assert code == 2 and "data.patch" in err and "[d, h, w]" in err and "Traceback" not in err


@pytest.mark.skipif(not (SHARED_CT / "image.nii.gz").is_file(), reason="no shared CT volume")
def test_train_predict_evaluate_3d_on_the_shared_ct(tmp_path, capsys):
    """I/O and geometry only: the liver label of the shared CT is model-made (TotalSegmentator),
    and the two cases are one volume linked twice."""
    data = tmp_path / "ct"
    (data / "imagesTr").mkdir(parents=True)
    (data / "labelsTr").mkdir()
    for case in ("ct_a", "ct_b"):
        os.symlink(SHARED_CT / "image.nii.gz", data / "imagesTr" / f"{case}.nii.gz")
        os.symlink(SHARED_CT / "seg_liver_only.nii.gz", data / "labelsTr" / f"{case}.nii.gz")
    geno = tmp_path / "t3.geno"
    geno.write_text(GENO, encoding="utf-8")
    _train_predict_evaluate(
        geno, data, data / "imagesTr" / "ct_b.nii.gz", tmp_path, capsys,
        ["--set", "data.patch=[16,32,32]", "--set", "data.class_map={0: 0, 5: 1}",
         "--set", "data.split.mode=contiguous", "--set", "data.split.val_count=1"])
    assert (tmp_path / "run" / "eval" / "per_case.csv").read_text(encoding="utf-8").count("\n") == 2
