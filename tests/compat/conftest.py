"""Fixtures of the client compatibility tests: a real `ogn devnet` process on a free loopback port.

Environment: OGN_BIN (the ogn binary), COMPAT_BUILD (compiled contracts and models, from tests/compat/run).
"""
import json
import os
import re
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

# Dev accounts of the mnemonic "test test … junk" (anvil's): public test keys, never for real funds.
DEV_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
]
INFERENCE_CONTRACT = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
BUILD = Path(os.environ.get("COMPAT_BUILD", Path(__file__).parent / "build"))


class Devnet:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.proc = subprocess.Popen(
            [os.environ["OGN_BIN"], "devnet", "--listen", "127.0.0.1:0", "--state-dir", str(tmp / "state")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "OGN_DATA_DIR": str(tmp / "data")},
        )
        self.banner = []
        for line in self.proc.stdout:
            self.banner.append(line)
            m = re.match(r"listening on (http://\S+)", line.strip())
            if m:
                self.url = m.group(1)
                break
        else:
            raise RuntimeError("ogn devnet exited before listening:\n" + "".join(self.banner))
        # Keep draining output so the devnet never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def ogn(self, *args):
        out = subprocess.run(
            [os.environ["OGN_BIN"], "--hub", self.url, *args],
            capture_output=True,
            text=True,
            env={**os.environ, "OGN_DATA_DIR": str(self.tmp / "client")},
        )
        assert out.returncode == 0, f"ogn {args} failed: {out.stderr}"
        return out.stdout

    def push(self, name, path):
        """Creates model `name`, pushes `path` as its version 1.00 and returns the file's CID."""
        self.ogn("model", "create", name)
        pushed = json.loads(self.ogn("--json", "model", "push", name, str(path)))
        return pushed["files"][0]["ipfsCid"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def devnet():
    with tempfile.TemporaryDirectory(prefix="ogn-compat-") as tmp:
        net = Devnet(Path(tmp))
        try:
            yield net
        finally:
            net.stop()


@pytest.fixture(scope="module")
def models():
    return BUILD / "models"


@pytest.fixture(scope="module")
def contract_artifact():
    return json.loads((BUILD / "InferenceCaller.json").read_text())
