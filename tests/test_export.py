"""Export to ONNX, TorchScript and .pt2: each reloads and matches the eager model."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from genodsl.baselines import build_baseline
from genodsl.errors import ConfigError
from genodsl.export import ExportError, export_metadata, export_model, read_metadata


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = build_baseline("unet", 1, 2, base=2, depth=2)
    model(torch.randn(4, 1, 16, 16))  # give BatchNorm non-trivial running stats
    return model


META = export_metadata(network="tiny", genotype="genotype G { }", class_names=["bg", "gland"],
                       preprocessing={"normalize": "zscore", "in_channels": 1})


def _eager(model, x):
    model.eval()
    try:
        with torch.no_grad():
            return model(x)
    finally:
        model.train()


@pytest.mark.parametrize("fmt,suffix", [("torchscript", ".pt"), ("pt2", ".pt2")])
def test_torch_formats_serve_other_sizes_and_carry_metadata(tiny, tmp_path, fmt, suffix):
    x = torch.randn(1, 1, 16, 16)
    report = export_model(tiny, x, fmt, tmp_path / "model", metadata=META)
    assert report.path == tmp_path / f"model{suffix}" and report.path.is_file()
    assert report.max_abs_diff <= 1e-5
    assert report.dynamic == ("batch", "height", "width")
    assert report.checked_shapes == ((1, 1, 16, 16), (2, 1, 20, 24))  # other batch and size
    assert tiny.training  # the flags are restored
    assert [p.name for p in tmp_path.iterdir()] == [report.path.name]  # no temp files left
    assert read_metadata(report.path) == META
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated
            loaded = torch.jit.load(str(report.path))
    else:
        loaded = torch.export.load(str(report.path)).module()
    for shape in ((1, 1, 16, 16), (3, 1, 32, 48)):
        x = torch.randn(*shape)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), _eager(tiny, x), atol=1e-5, rtol=1e-5)


def test_onnx_runs_at_two_sizes_with_metadata(tiny, tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    x = torch.randn(1, 1, 16, 16)
    report = export_model(tiny, x, "onnx", tmp_path / "m.onnx", metadata=META)
    assert report.path.is_file() and report.max_rel_diff <= 1e-3
    assert report.dynamic == ("batch", "height", "width")
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    for shape in ((3, 1, 16, 16), (2, 1, 32, 48), (1, 1, 64, 64)):  # 64² on a 16² trace
        x = torch.randn(*shape)
        (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        torch.testing.assert_close(torch.from_numpy(got), _eager(tiny, x), atol=1e-4, rtol=1e-4)
    meta = read_metadata(report.path)
    assert meta["genodsl.genotype"] == "genotype G { }"
    assert json.loads(meta["genodsl.class_names"]) == ["bg", "gland"]
    assert json.loads(meta["genodsl.preprocessing"])["normalize"] == "zscore"


class Scaled(torch.nn.Module):
    """Logits of a trained model's magnitude (hundreds), plus a wobble on every other call."""

    def __init__(self, wobble: float):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 3, 3, padding=1)
        self.wobble, self.calls = wobble, 0

    def forward(self, x):
        self.calls += 1
        return 500 * self.conv(x) + self.wobble * (self.calls % 2)


def test_tolerance_is_relative_to_the_logits(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(1, 1, 8, 8)
    # 2e-3 absolute on logits of about 1000 is float32 noise, not a wrong export
    report = export_model(Scaled(2e-3), x, "torchscript", tmp_path / "ok", dynamic=False)
    assert 1e-3 < report.max_abs_diff and report.max_rel_diff < 1e-5
    with pytest.raises(ExportError, match="does not match"):  # 5 on ~1000 is not noise
        export_model(Scaled(5.0), x, "torchscript", tmp_path / "bad", dynamic=False)
    assert not (tmp_path / "bad.pt").exists()


def test_a_flipped_pixel_is_an_error_even_within_the_tolerance():
    from genodsl.export import _compare, _Diff

    e = torch.zeros(1, 2, 4, 4)
    e[:, 1] = 1.0  # class 1 everywhere, by a clear margin
    r = e.clone()
    r[0, 0, 2, 2], r[0, 1, 2, 2] = 0.55, 0.45  # one pixel flips to class 0
    _compare(e, e + 1e-6, 1e-3, 1e-5, "onnx", (1, 1, 4, 4), _Diff())  # noise passes
    with pytest.raises(ExportError, match="does not match"):
        _compare(e, r, 1e-3, 1e-5, "onnx", (1, 1, 4, 4), _Diff())
    with pytest.raises(ExportError, match=r"arg-max class differs .* on 1 of 16 pixels"):
        _compare(e, r, 0.6, 0.0, "onnx", (1, 1, 4, 4), _Diff())  # within 0.6, but flipped


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
