"""Export to ONNX, TorchScript and .pt2: each reloads and matches the eager model."""

from __future__ import annotations

import warnings

import pytest
import torch

from genodsl.baselines import build_baseline
from genodsl.errors import ConfigError
from genodsl.export import ExportError, export_model


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = build_baseline("unet", 1, 2, base=2, depth=2)
    model(torch.randn(4, 1, 16, 16))  # give BatchNorm non-trivial running stats
    return model


@pytest.mark.parametrize("fmt,suffix", [("torchscript", ".pt"), ("pt2", ".pt2")])
def test_torch_formats_round_trip(tiny, tmp_path, fmt, suffix):
    x = torch.randn(1, 1, 16, 16)
    report = export_model(tiny, x, fmt, tmp_path / "model")
    assert report.path == tmp_path / f"model{suffix}" and report.path.is_file()
    assert report.max_abs_diff <= 1e-5
    assert tiny.training  # the flags are restored
    assert [p.name for p in tmp_path.iterdir()] == [report.path.name]  # no temp files left
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated
            loaded = torch.jit.load(str(report.path))
    else:
        assert report.dynamic_batch
        loaded = torch.export.load(str(report.path)).module()
    tiny.eval()
    try:
        for batch in (1, 3) if fmt == "pt2" else (1,):
            x = torch.randn(batch, 1, 16, 16)
            with torch.no_grad():
                torch.testing.assert_close(loaded(x), tiny(x), atol=1e-5, rtol=1e-5)
    finally:
        tiny.train()


def test_onnx_matches_onnxruntime_with_dynamic_batch(tiny, tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    x = torch.randn(1, 1, 16, 16)
    report = export_model(tiny, x, "onnx", tmp_path / "m.onnx")
    assert report.path.is_file() and report.max_abs_diff <= 1e-4
    assert report.dynamic_batch
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    x3 = torch.randn(3, 1, 16, 16)
    (got,) = session.run(None, {session.get_inputs()[0].name: x3.numpy()})
    tiny.eval()
    try:
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(got), tiny(x3), atol=1e-4, rtol=1e-4)
    finally:
        tiny.train()


def test_unknown_format_suggests(tiny, tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'onnx'"):
        export_model(tiny, torch.randn(1, 1, 16, 16), "onxx", tmp_path / "m")


class Drifting(torch.nn.Module):
    """Returns something different on every call, so an exported copy never matches."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x + self.calls


@pytest.mark.parametrize("fmt", ["pt2", "torchscript"])
def test_mismatch_fails_and_leaves_no_file(tmp_path, fmt):
    with pytest.raises(ExportError, match="does not match|trace failed"):
        export_model(Drifting(), torch.randn(1, 1, 4, 4), fmt, tmp_path / "d")
    assert list(tmp_path.iterdir()) == []
