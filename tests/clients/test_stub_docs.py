"""docs/stubs.md: the documented contract checks and Python stub generation work as written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.clients.test_grpcurl_docs import documented_examples

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_stub_commands_work(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    for name in ("buf.yaml", "buf.gen.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    # buf and python of this environment (buf-bin and grpcio-tools are dev dependencies).
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    examples = documented_examples((ROOT / "docs" / "stubs.md").read_text())
    assert len(examples) == 2
    for example in examples:
        done = subprocess.run(
            ["bash", "-c", example.command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.rstrip() == example.output.rstrip()
