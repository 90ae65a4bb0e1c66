"""The built wheel, installed outside the checkout: its only top-level import is `clonekit`, the chat templates ship
in it, and it runs from a folder holding a user's own train.py and serve.py."""

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from clonekit.train.tiny import make_tiny_model

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], cwd: Path, env: dict) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        timeout=600,
        cwd=dist,
    )
    (found,) = dist.glob("clonekit-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv with only the wheel installed into it. The dependencies (torch, transformers, ...) come from the
    test environment's site-packages through a .pth line: installing them again would take minutes. That
    environment's own clonekit is an editable install whose finder a .pth line does not activate."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    (site,) = (venv / "lib").glob("python3*/site-packages")
    (site / "test_env_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.fixture
def user_folder(tmp_path) -> Path:
    """A user's working folder with files named like clonekit's stages: none of them may be imported."""
    for name in ("train", "serve", "bot", "compare", "data_prep", "learn", "samples", "hosted"):
        (tmp_path / f"{name}.py").write_text(f"raise SystemExit('the user\\'s own {name}.py was imported')\n")
    return tmp_path


@pytest.mark.slow
def test_wheel_has_one_top_level_name_and_the_templates(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"clonekit"}
    (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["clonekit"]
    for sub in ("data_prep", "train", "serve", "bot", "compare", "learn", "samples", "hosted", "cli", "config"):
        assert f"clonekit/{sub}/__init__.py" in names
    assert "clonekit/templates/chatml-names.jinja" in names
    assert "clonekit/templates/llama3-names.jinja" in names


@pytest.mark.slow
def test_installed_wheel_builds_a_dataset_and_trains_with_its_template(installed, user_folder, tmp_path):
    env = {**os.environ, "CLONEKIT_CACHE": str(tmp_path / "cache"), "PYTHONPATH": ""}
    python = str(installed / "bin" / "python")
    where = _run([python, "-c", "import clonekit, clonekit.train; print(clonekit.train.__file__)"], user_folder, env)
    assert where.strip().startswith(str(installed)), where

    clonekit = str(installed / "bin" / "clonekit")
    _run([clonekit, "sample", "-o", "sample", "--corpus", "small", "--weeks", "1"], user_folder, env)
    info = json.loads((user_folder / "sample" / "sample.json").read_text(encoding="utf-8"))
    _run(
        [clonekit, "prep", "parse", str(Path("sample") / info["files"]["whatsapp"]), "-o", "messages.jsonl"],
        user_folder,
        env,
    )
    _run([clonekit, "prep", "build", "messages.jsonl", "-o", "ds", "--target", info["target"]], user_folder, env)
    assert (user_folder / "ds" / "train.jsonl").stat().st_size > 0

    tiny = make_tiny_model(tmp_path / "tiny")
    _run(
        [clonekit, "train", "--data", "ds", "--out", "run", "--base", str(tiny), "--max-steps", "1", "--quiet"],
        user_folder,
        env,
    )
    template = (user_folder / "run" / "chat_template.jinja").read_text(encoding="utf-8")
    assert "clonekit: end_of_turn=<|im_end|>" in template


@pytest.mark.parametrize("stage", ["data_prep", "train", "serve", "bot", "compare", "learn", "samples", "hosted"])
def test_this_environment_resolves_the_stages_inside_clonekit_not_a_users_file(stage, user_folder):
    """The test environment's own (editable) install, run from a folder with a user's train.py etc."""
    code = f"import importlib.util as u; print(u.find_spec('clonekit.{stage}').origin)"
    where = subprocess.run([sys.executable, "-c", code], cwd=user_folder, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).resolve() == (ROOT / stage / "__init__.py").resolve()
    proc = subprocess.run(
        [sys.executable, "-m", "clonekit.cli", "--help"], cwd=user_folder, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
