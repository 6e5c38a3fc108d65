"""Each bad-data case ends in one clear message naming the files, exit 2, nothing written."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

ARGS = ["--set", "data.size=32", "--set", "train.epochs=1", "--set", "train.batch_size=2"]


def _pair(root, name, image=(32, 32), mask=(32, 32), values=(0, 1)):
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, image, dtype=np.uint8)).save(root / "images" / name)
    m = rng.choice(np.array(values, dtype=np.uint8), size=mask)
    Image.fromarray(m).save(root / "masks" / name)


def _good(root, n=4):
    for i in range(n):
        _pair(root, f"{i:02d}.png")


CASES = {
    "corrupt image": (lambda r: (_good(r), (r / "images" / "01.png").write_bytes(b"not a png")),
                      ["01.png"]),
    "size mismatch": (lambda r: (_good(r), _pair(r, "02.png", mask=(16, 16))), ["02.png"]),
    "values outside the class map": (lambda r: (_good(r), _pair(r, "03.png", values=(0, 7))),
                                     ["03.png", "7"]),
    "empty folder": (lambda r: ((r / "images").mkdir(parents=True), (r / "masks").mkdir()),
                     ["images"]),
    "mismatched names": (lambda r: (_good(r), (r / "masks" / "00.png").rename(
        r / "masks" / "zz.png")), ["has no mask: 00", "zz"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_data_is_one_clear_message(case, cli, tmp_path):
    make, expected = CASES[case]
    data = tmp_path / "data"
    make(data)
    run = tmp_path / "run"
    code, out, err = cli("train", "--baseline", "unet_small", "--data", data, "--out", run, *ARGS)
    assert code == 2, (case, out, err)
    assert "Traceback" not in err
    for text in expected:
        assert text in err, (case, text, err)
    written = [p for p in run.rglob("*") if p.is_file()] if run.exists() else []
    assert written == [], f"{case}: half-written run {written}"
