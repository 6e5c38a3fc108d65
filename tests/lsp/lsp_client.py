"""A small LSP client for the tests: starts ``python -m genodsl lsp`` and speaks JSON-RPC 2.0
over its stdin/stdout with Content-Length framing, as an editor does.

Hand-written rather than pytest-lsp: it is synchronous, needs no plugin or event loop, and
records every message both ways, so a test can write the exchange out as a transcript.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

TIMEOUT = 20.0
ROOT = Path(__file__).resolve().parents[2]  # the tree under test, whatever is installed


class LspClient:
    def __init__(self, cwd: Path):
        self.stderr = tempfile.TemporaryFile()
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = dict(os.environ, PYTHONPATH=path)
        self.proc = subprocess.Popen([sys.executable, "-m", "genodsl", "lsp"], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        self.inbox: queue.Queue = queue.Queue()
        self.pending: list[dict] = []  # notifications seen while waiting for something else
        self.transcript: list[tuple[str, dict]] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    # ---- framing ------------------------------------------------------------------------
    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            headers: dict[str, str] = {}
            while True:
                line = out.readline()
                if not line:
                    self.inbox.put(None)  # the server closed its stdout
                    return
                line = line.decode("ascii").strip()
                if not line:
                    break
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            body = out.read(int(headers["content-length"]))
            self.inbox.put(json.loads(body.decode("utf-8")))

    def _send(self, message: dict) -> None:
        message = {"jsonrpc": "2.0", **message}
        self.transcript.append(("client → server", message))
        body = json.dumps(message).encode("utf-8")
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body)
        self.proc.stdin.flush()

    def _next(self) -> dict:
        try:
            message = self.inbox.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"no message from the server in {TIMEOUT}s; stderr:\n"
                                 + self.server_stderr()) from None
        if message is None:
            raise AssertionError("the server closed its output; stderr:\n" + self.server_stderr())
        self.transcript.append(("server → client", message))
        if "id" in message and "method" in message:  # a request from the server
            self._send({"id": message["id"], "result": None})
        return message

    # ---- the protocol -------------------------------------------------------------------
    def request(self, method: str, params: Any = None) -> Any:
        self.next_id += 1
        rid = self.next_id
        self._send({"id": rid, "method": method, **({} if params is None else {"params": params})})
        while True:
            message = self._next()
            if message.get("id") == rid and "method" not in message:
                assert "error" not in message, message["error"]
                return message.get("result")
            if "method" in message and "id" not in message:
                self.pending.append(message)

    def notify(self, method: str, params: Any = None) -> None:
        self._send({"method": method, **({} if params is None else {"params": params})})

    def wait_for(self, method: str, match: Callable[[dict], bool] = lambda p: True) -> dict:
        """The params of the first notification ``method`` that ``match`` accepts."""
        for i, message in enumerate(self.pending):
            if message["method"] == method and match(message["params"]):
                return self.pending.pop(i)["params"]
        while True:
            message = self._next()
            if message.get("method") == method and match(message.get("params") or {}):
                return message["params"]
            if "method" in message and "id" not in message:
                self.pending.append(message)

    def shutdown(self) -> int:
        """shutdown → exit; the server's exit code."""
        assert self.request("shutdown") is None
        self.notify("exit")
        try:
            return self.proc.wait(timeout=TIMEOUT)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self.stderr.close()

    def server_stderr(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def write_transcript(self, path: Path) -> None:
        lines = []
        for direction, message in self.transcript:
            what = message.get("method") or f"response #{message.get('id')}"
            lines.append(f"{direction}  {what}\n{json.dumps(message, ensure_ascii=False)}\n")
        path.write_text("\n".join(lines), encoding="utf-8")
