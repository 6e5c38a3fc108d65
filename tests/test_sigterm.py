"""A run killed with SIGTERM stops like Ctrl-C: a checkpoint and a summary, exit 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_sigterm_ends_a_training_run_cleanly(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "genodsl", "train", "--baseline", "unet_small", "--data",
           "synthetic", "--out", str(run), "--epochs", "200", "--set", "data.size=32",
           "--set", "data.synthetic.n_images=8", "--set", "train.batch_size=4",
           "--set", "train.count_flops=false"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace")
    deadline = time.time() + 120
    while not (run / "checkpoints" / "last.pt").exists():  # at least one epoch done
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "no epoch finished in time"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "interrupted"
