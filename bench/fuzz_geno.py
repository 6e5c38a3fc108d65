"""A mutational fuzzer of the .geno tools: every input must end in success or a GenoError.

    python bench/fuzz_geno.py --inputs 100000 --seed 0 [--mem-gb 4] [--out fuzz.json]

Inputs are the shipped .geno files mutated (byte flips, token edits, splices of two files,
network entries set to extreme values) and special files (a folder, a symlink loop, a FIFO,
/dev/zero, a byte-order mark, NUL bytes, a file over the size limit, a name too long,
imports out of the project). Each goes through ``genodsl.loads`` or ``genodsl.load`` (and
``genodsl check`` for a share of them); a program that loads is compiled with
``genodsl.build`` when its networks have settings the seeds do not (and for a sample of the
rest). A child process runs the inputs one at a time under a memory limit
(``resource.setrlimit``); the parent kills it when an input runs past its time limit (5 s to
load, 20 s to build: in CPU time, or 10× that in wall time for an input that blocks) and
starts a new one. Outcomes are counted: ok, GenoError, foreign (any
other exception), hang, memory (MemoryError, or the child died), with the peak memory of the
children.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing as mp
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED_FILES = sorted((ROOT / "genotypes").glob("*.geno")) + [ROOT / "examples" / "tour.geno"]
LOAD_S, BUILD_S = 5.0, 20.0

TOKEN_RE = re.compile(r'\s+|#[^\n]*|"[^"\n]*"|[A-Za-z_]\w*|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|.',
                      re.S)
INTERESTING = [
    "0", "1", "-1", "2", "3", "4", "7", "32", "2.5", "-0.5", "1e999", "-1e400", "1e-400",
    "4096", "4097", "100000", "1000000000", "9223372036854775808", "9" * 5000, "1" + "0" * 30,
    '"ops.geno"', '"nasunet.geno"', '"/etc/passwd"', '"../../../../etc/hostname"',
    '"' + "a" * 5000 + '.geno"', '"x\x00.geno"', '"/dev/zero"', '"."', '""',
    "{", "}", "(", ")", "[", "]", "=", ",", "+", "\n", "#", '"', "\ufeff", "\x00", "\x0c",
    "\r", "é", "\u2028", "nodes", "node", "cell", "down", "up", "import", "opset", "genotype",
    "space", "network", "keep", "input", "output", "concat", "from", "use", "true", "false",
    "none", "identity", "conv", "up_conv", "down_conv", "cweight", "k", "dilation",
    "reduction", "C", "depth", "classes", "in_channels", "stem_multiplier", "cells",
    "double_down_channel", "backbone", "s0", "s1", "n2", "n3", "n4", "NASUNET",
]
NETWORK_KEYS = ["C", "depth", "classes", "in_channels", "stem_multiplier"]
EXTREME = ["0", "1", "3", "64", "100", "1024", "4096", "100000", "2147483648",
           "9223372036854775807", "9223372036854775808", "1e9", "-5"]


# ---- inputs ------------------------------------------------------------------------------
def _tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


def byte_flips(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(b))
        b[i] = rng.randrange(256) if rng.random() < 0.5 else b[i] ^ (1 << rng.randrange(8))
    return bytes(b)


def token_edits(rng: random.Random, text: str) -> str:
    toks = _tokens(text)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(toks))
        op = rng.randrange(5)
        if op == 0 and len(toks) > 1:
            del toks[i]
        elif op == 1:
            toks.insert(i, toks[i])
        elif op == 2:
            toks[i] = rng.choice(INTERESTING)
        elif op == 3:
            toks.insert(i, rng.choice(INTERESTING) + rng.choice(["", " "]))
        else:
            j = rng.randrange(len(toks))
            toks[i], toks[j] = toks[j], toks[i]
    return "".join(toks)


def splice(rng: random.Random, a: str, b: str) -> str:
    ta, tb = _tokens(a), _tokens(b)
    return "".join(ta[:rng.randrange(len(ta) + 1)] + tb[rng.randrange(len(tb) + 1):])


def network_edit(rng: random.Random, text: str) -> str:
    """One network entry set to an extreme value (the C / depth / nodes classes)."""
    key = rng.choice(NETWORK_KEYS + ["nodes"])
    value = rng.choice(EXTREME)
    if key == "nodes" and re.search(r"nodes \d+", text):
        return re.sub(r"nodes \d+", f"nodes {value}", text, count=1)
    key = key if key != "nodes" else "C"
    pattern = re.compile(rf"\b{key} = \S+")
    if pattern.search(text):
        return pattern.sub(f"{key} = {value}", text, count=1)
    return re.sub(r"(network \w+ \{)", rf"\1 {key} = {value}", text, count=1)


SPECIALS = ["folder", "symlink_loop", "fifo", "dev_zero", "bom", "nul", "not_utf8", "too_large",
            "long_name", "import_passwd", "import_passwd_allowed", "import_hostname",
            "import_long", "import_fifo", "import_loop", "import_self", "deep_imports",
            "empty"]


def make_input(rng: random.Random, seeds: list[str], index: int) -> tuple[str, object]:
    """(kind, payload): kind is 'text' (loads), 'bytes' (a file, load), or 'special'."""
    if index % 97 == 0:
        return "special", SPECIALS[(index // 97) % len(SPECIALS)]
    seed = rng.choice(seeds)
    r = rng.random()
    if r < 0.3:
        data = byte_flips(rng, seed.encode("utf-8"))
        return ("bytes", data) if rng.random() < 0.5 else ("text", data.decode("utf-8", "replace"))
    if r < 0.75:
        return "text", token_edits(rng, seed)
    if r < 0.9:
        return "text", splice(rng, seed, rng.choice(seeds))
    return "text", network_edit(rng, seed)


def special_file(name: str, work: Path) -> tuple[Path, bool]:
    """A path for a special case (and whether outside imports are allowed)."""
    d = Path(tempfile.mkdtemp(dir=work))
    shutil.copy(ROOT / "genotypes" / "ops.geno", d / "ops.geno")
    f = d / "f.geno"
    body = {"import_passwd": 'import "/etc/passwd"', "import_passwd_allowed": 'import "/etc/passwd"',
            "import_hostname": 'import "../../../../../../etc/hostname"',
            "import_long": 'import "' + "a" * 5000 + '.geno"', "import_fifo": 'import "p.geno"',
            "import_loop": 'import "l.geno"', "import_self": 'import "f.geno"',
            "deep_imports": 'import "d0.geno"', "empty": ""}
    if name == "folder":
        f.mkdir()
    elif name == "symlink_loop":
        f.symlink_to(f.name)
    elif name == "fifo":
        os.mkfifo(f)
    elif name == "dev_zero":
        f.symlink_to("/dev/zero")
    elif name == "bom":
        f.write_bytes(b"\xef\xbb\xbf" + (ROOT / "genotypes" / "nasunet.geno").read_bytes())
    elif name == "nul":
        f.write_bytes(b"opset A = [conv]\x00\n")
    elif name == "not_utf8":
        f.write_bytes(b"opset A = [conv]\xff\xfe\n")
    elif name == "too_large":
        f.write_text("# x\n" * 300_000)
    elif name == "long_name":
        f = d / ("a" * 5000 + ".geno")
    else:
        f.write_text(body[name] + "\n")
        os.mkfifo(d / "p.geno")
        (d / "l.geno").symlink_to("l.geno")
        for i in range(40):
            (d / f"d{i}.geno").write_text(f'import "d{i + 1}.geno"\n')
    return f, name == "import_passwd_allowed"


# ---- the child -----------------------------------------------------------------------------
def load_input(kind: str, payload, index: int, work_dir: Path, cli: bool):
    """The program of one input (raises what the API raises); ``cli``: also run
    ``genodsl check`` on a file input first."""
    import genodsl

    if kind == "text":
        return genodsl.loads(payload, file="fuzz.geno", base_dir=work_dir / "base")
    allow = False
    if kind == "bytes":
        path = work_dir / f"in{index % 50}.geno"
        path.write_bytes(payload)
    else:
        path, allow = special_file(payload, work_dir)
    if cli:
        _cli_check(path, allow)
    return genodsl.load(path, allow_outside_imports=allow)


def prepare(work: Path) -> None:
    """The folder inputs resolve their imports against (copies of the shipped files)."""
    (work / "base").mkdir(exist_ok=True)
    for f in SEED_FILES:
        shutil.copy(f, work / "base" / f.name)


def _worker(conn, mem_bytes: int, work: str, seed_settings: list) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    sys.setrecursionlimit(10_000)
    import genodsl
    from genodsl.errors import GenoError

    try:
        import genodsl.cli  # noqa: F401 - imported once here, not inside an input's time limit
        cli_ok = True
    except Exception:  # noqa: BLE001 - a CLI that does not import is reported, not fuzzed
        cli_ok = False

    known = {tuple(s) for s in seed_settings}
    rng = random.Random(os.getpid())
    while True:
        job = conn.recv()
        if job is None:
            return
        index, kind, payload, build_share = job
        outcome, detail = "ok", ""
        try:
            program = load_input(kind, payload, index, Path(work), cli=cli_ok and index % 5 == 0)
            novel = [n for n, net in program.networks.items() if net.settings is not None
                     and tuple(net.settings.model_dump().items()) not in known]
            if program.networks and (novel or rng.random() < build_share):
                conn.send(("build", index))
                _build(genodsl, program, (novel or list(program.networks))[0])
                detail = "built"
        except GenoError:
            outcome = "GenoError"
        except MemoryError:
            outcome = "memory"
        except BaseException as exc:  # noqa: BLE001 - the point is to see every other one
            outcome, detail = "foreign", "".join(traceback.format_exception(exc)[-3:])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn.send(("done", outcome, detail, peak, cli_ok))


def _build(genodsl, program, name: str) -> None:
    import torch

    torch.set_num_threads(1)
    genodsl.build(program, name)


def _cli_check(path: Path, allow: bool) -> None:
    """``genodsl check`` in process: exit 0 or 2 and no traceback, else a foreign outcome."""
    from genodsl.cli import main

    args = ["check", str(path)] + (["--allow-outside-imports"] if allow else [])
    with open(os.devnull, "w") as null:
        out, err = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = null
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code
        finally:
            sys.stdout, sys.stderr = out, err
    if code not in (0, 2):
        raise RuntimeError(f"genodsl check exited with {code!r}")


# ---- the parent ----------------------------------------------------------------------------
class Runner:
    def __init__(self, mem_gb: float, work: Path, seed_settings: list):
        self.ctx = mp.get_context("spawn")
        self.args = (int(mem_gb * 2**30), str(work), seed_settings)
        self.proc = None
        self.conn = None
        self.cli_ok = False
        self.cpu_start = 0.0

    def start(self) -> None:
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, *self.args), daemon=True)
        self.proc.start()
        self.conn = parent

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join()
        self.proc = None

    def cpu_seconds(self, absolute: bool = False) -> float:
        """CPU time of the child (since this job started, unless ``absolute``)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("inf")  # cannot tell: wall time decides
        return used if absolute else used - self.cpu_start

    def run(self, job: tuple, first_s: float) -> tuple[str, str, int]:
        if self.proc is None:
            self.start()
        self.cpu_start = self.cpu_seconds(absolute=True)
        self.conn.send(job)
        limit = first_s
        start = time.perf_counter()
        while True:
            if not self.conn.poll(0.25):
                waited = time.perf_counter() - start
                # a hang spends its limit in CPU time, or blocks (no CPU) for 10× the limit:
                # a child merely starved by a busy machine is not one
                if waited > limit and (self.cpu_seconds() > limit or waited > 10 * limit):
                    self.kill()
                    return "hang", f"over {limit:.0f} s", 0
                continue
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                code = self.proc.exitcode if self.proc else None
                self.kill()
                return "memory", f"the child died (exit {code})", 0
            if msg[0] == "build":
                limit, start = BUILD_S, time.perf_counter()
                self.cpu_start = self.cpu_seconds(absolute=True)
                continue
            self.cli_ok = msg[4]
            return msg[1], msg[2], msg[3]


def seed_network_settings() -> list:
    import genodsl

    out = []
    for f in SEED_FILES:
        for net in genodsl.load(f).networks.values():
            out.append(list(net.settings.model_dump().items()))
    return out


def fuzz(n: int, seed: int, mem_gb: float, build_share: float, report_every: int) -> dict:
    rng = random.Random(seed)
    seeds = [f.read_text(encoding="utf-8") for f in SEED_FILES]
    counts: collections.Counter = collections.Counter()
    examples: dict[str, list] = collections.defaultdict(list)
    peak_kb = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepare(work)
        runner = Runner(mem_gb, work, seed_network_settings())
        # the first job pays the child's start (imports): allow for it
        runner.run((0, "text", "", 0.0), 120.0)
        for i in range(n):
            kind, payload = make_input(rng, seeds, i)
            outcome, detail, peak = runner.run((i, kind, payload, build_share),
                                               LOAD_S + (30 if runner.proc is None else 0))
            counts[outcome] += 1
            counts["built"] += outcome == "ok" and detail == "built"
            peak_kb = max(peak_kb, peak)
            if outcome in ("foreign", "hang", "memory") and len(examples[outcome]) < 20:
                shown = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
                examples[outcome].append({"index": i, "kind": kind, "detail": detail,
                                          "input": shown[:2000]})
            if report_every and (i + 1) % report_every == 0:
                print(f"{i + 1:>7} inputs {time.perf_counter() - start:7.0f} s  "
                      f"{dict(counts)}  peak {peak_kb / 2**20:.2f} GiB", flush=True)
        runner.conn.send(None)
        runner.kill()
    return {"inputs": n, "seed": seed, "counts": dict(counts), "peak_rss_gib": peak_kb / 2**20,
            "memory_limit_gib": mem_gb, "seconds": time.perf_counter() - start,
            "cli_checked": runner.cli_ok,
            "examples": examples}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inputs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mem-gb", type=float, default=4.0, help="address-space limit of the child")
    ap.add_argument("--build-share", type=float, default=0.01,
                    help="share of loaded programs with the seeds' settings also built")
    ap.add_argument("--report-every", type=int, default=5000)
    ap.add_argument("--out", type=Path, help="write the counts and examples as JSON")
    args = ap.parse_args()
    result = fuzz(args.inputs, args.seed, args.mem_gb, args.build_share, args.report_every)
    print(json.dumps({k: v for k, v in result.items() if k != "examples"}, indent=1))
    for outcome, items in result["examples"].items():
        for item in items[:3]:
            print(f"--- {outcome} #{item['index']} ({item['kind']}): {item['detail']}\n"
                  f"{item['input'][:300]!r}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    bad = sum(result["counts"].get(k, 0) for k in ("foreign", "hang", "memory"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
