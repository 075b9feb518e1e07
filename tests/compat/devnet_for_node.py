"""Runs a command with a fresh devnet: OGN_URL set, the affine model pushed (its CID in COMPAT_BUILD/cids.json)."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from conftest import BUILD, Devnet

with tempfile.TemporaryDirectory(prefix="ogn-compat-node-") as tmp:
    net = Devnet(Path(tmp))
    try:
        cids = {"affine": net.push("node-affine", BUILD / "models" / "affine.onnx")}
        (BUILD / "cids.json").write_text(json.dumps(cids))
        code = subprocess.call(sys.argv[1:], env={**os.environ, "OGN_URL": net.url})
    finally:
        net.stop()
sys.exit(code)
