"""The data folder is private (#15): whatever a Bastion command creates there first is 0600
(folders 0700), and start-up names what others may read. Real CLI in a subprocess, no Ray."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from serving.config import Settings

BIN = Path(sys.executable).parent / "bastion"


def _modes(root: Path) -> dict[str, int]:
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        out[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return out


def _run(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BASTION_DATA_DIR": str(data)}
    # A permissive umask, as an operator's shell may have: Bastion must not inherit it.
    return subprocess.run(
        [str(BIN), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: os.umask(0o022),
    )


def test_keys_create_before_serve_leaves_only_private_files(tmp_path):
    data = tmp_path / "data"
    r = _run("keys", "create", "--tenant", "acme", "--role", "admin", data=data)
    assert r.returncode == 0, r.stderr
    r = _run("keys", "list", data=data)
    assert r.returncode == 0, r.stderr
    modes = _modes(data)
    assert "keys.db" in modes or any(name.endswith(".db") for name in modes), modes
    assert any(name.startswith("audit.db") for name in modes), modes  # the key.created record
    for name, mode in modes.items():
        is_dir = name == "." or (data / name).is_dir()
        assert mode == (0o700 if is_dir else 0o600), f"{name}: {mode:04o}"


def test_first_start_writes_a_private_bootstrap_policy(tmp_path):
    # What `bastion serve` does before it starts Ray (umask from main, then _bootstrap), in a
    # fresh process so the umask of this test process is untouched.
    data = tmp_path / "data"
    code = (
        "import os; os.umask(0o022)\n"
        "from serving.datadir import private_umask; private_umask()\n"
        "from serving.cli import _bootstrap, _settings\n"
        f"_bootstrap(_settings(None, __import__('pathlib').Path({str(data)!r})))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    modes = _modes(data)
    assert modes["policy.yaml"] == 0o600
    for name, mode in modes.items():
        is_dir = name == "." or (data / name).is_dir()
        assert mode == (0o700 if is_dir else 0o600), f"{name}: {mode:04o}"


def test_start_up_names_files_others_may_read(tmp_path, capsys):
    from serving.cli import _warn_loose_files
    from serving.datadir import loose_files

    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    data.chmod(0o700)
    (data / "sub").chmod(0o755)
    for name, mode in {"keys.db": 0o644, "audit.db": 0o600, "sub/old.yaml": 0o640}.items():
        (data / name).write_text("x")
        (data / name).chmod(mode)
    assert sorted(p.relative_to(data).as_posix() for p in loose_files(data)) == [
        "keys.db",
        "sub",
        "sub/old.yaml",
    ]
    _warn_loose_files(Settings(data_dir=data))
    err = capsys.readouterr().err
    assert f"{data / 'keys.db'} is accessible to other users (mode 0644)" in err
    assert f"{data / 'sub' / 'old.yaml'}" in err and "audit.db" not in err
