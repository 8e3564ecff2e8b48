"""Where presets are found, and that an installed hwsim (a wheel, ``pip install .``) ships them.

Names resolve the same way everywhere (``hwsim run NAME``, ``--chip``/``--firmware``,
``hwsim show``/``validate``, a sweep's ``scenario:``, ``extends:``): the user's own path or
``./<folder>/NAME.yaml`` first, then the presets of the installation (packaged inside hwsim,
or the source checkout it runs from). The slow tests build the project as a user installs it
and run it outside the source tree.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

import hwsim
from hwsim.cli import main
from hwsim.run_plan import load_scenario
from hwsim.spec import SpecError
from hwsim.spec.loader import SHIPPED_DIRS, locate_spec, project_root

ROOT = Path(__file__).resolve().parents[1]


def _shipped_folders() -> dict[str, str]:
    """setup.py's SHIPPED mapping (package under hwsim.presets -> folder of the checkout),
    read without running setup()."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SHIPPED" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no SHIPPED mapping")


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """A user's working folder outside the source tree, with a scenario of their own and
    their own copy of the quickstart (another seed) and of the ideal chip (another clock)."""
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "chips").mkdir()
    quick = yaml.safe_load((ROOT / "scenarios" / "quickstart.yaml").read_text())
    (tmp_path / "scenarios" / "mine.yaml").write_text(yaml.safe_dump({**quick, "name": "mine"}))
    (tmp_path / "scenarios" / "quickstart.yaml").write_text(yaml.safe_dump({**quick, "seed": 7}))
    chip = yaml.safe_load((ROOT / "chips" / "ideal_digital.yaml").read_text())
    (tmp_path / "chips" / "ideal_digital.yaml").write_text(yaml.safe_dump({**chip, "clock_period": 2e-9}))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_preset_folder_ships():
    """Each folder a name is looked up in, and the schemas the presets' $schema comments point
    to (../docs/schema from each folder), is package data of the same relative layout."""
    shipped = _shipped_folders()
    assert set(SHIPPED_DIRS.values()) | {"docs/schema"} <= set(shipped.values())
    for package, folder in shipped.items():
        assert package.replace(".", "/") == folder, "the installed tree keeps the checkout's layout"
        assert any((ROOT / folder).glob("*.yaml")) or any((ROOT / folder).glob("*.json")), folder


def test_the_users_file_wins_over_the_installations_preset(user_dir):
    assert locate_spec("quickstart") == Path("scenarios/quickstart.yaml").absolute()
    assert load_scenario("quickstart").scenario.seed == 7
    # a name the user does not have comes from the installation
    assert locate_spec("parity") == project_root() / "scenarios" / "parity.yaml"
    # --chip NAME is the user's too: their ./chips first
    assert load_scenario("parity", chip="ideal_digital").chip.clock_period == pytest.approx(2e-9)
    # a preset's own references resolve beside it: the installation's parity keeps its chip
    assert load_scenario("parity").chip == load_scenario(ROOT / "scenarios" / "parity.yaml").chip
    assert load_scenario("parity").chip.clock_period != pytest.approx(2e-9)


def test_run_takes_a_bare_scenario_name(user_dir, capsys):
    out = user_dir / "run"
    assert main(["run", "parity", "--max-cycles", "300", "--quiet", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["spec_hash"] == load_scenario(ROOT / "scenarios" / "parity.yaml").spec_hash
    assert json.loads((out / "summary.json").read_text())


def test_an_unknown_name_says_where_it_looked_and_suggests(user_dir, capsys):
    assert main(["run", "quickstrat"]) == 2
    err = capsys.readouterr().err
    assert "no such file, and no scenario preset by that name" in err
    assert "./scenarios" in err and str(project_root() / "scenarios") in err
    assert "did you mean 'quickstart'?" in err
    assert main(["run", "quickstart", "--chip", "rram_crosbar"]) == 2
    err = capsys.readouterr().err
    assert "./chips" in err and str(project_root() / "chips") in err and "did you mean 'rram_crossbar'?" in err


def test_a_missing_preset_path_points_to_the_name(user_dir, capsys):
    assert main(["show", "scenarios/parity.yaml"]) == 2
    err = capsys.readouterr().err
    assert "file not found" in err and "give its name, parity, instead of a path" in err


def test_show_and_validate_take_names_of_any_kind(user_dir, capsys):
    assert main(["show", "rram_crossbar"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["kind"] == "chip"
    assert main(["validate", "mine", "mgd_discrete", "noise_small", "mgd"]) == 0
    out = capsys.readouterr().out
    assert "(scenario 'mine')" in out and "(firmware " in out and "(sweep 'noise_small'" in out
    assert "(tune_space 'mgd'" in out


def test_list_says_where_each_preset_comes_from(user_dir, capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    line = {ln.split()[0]: ln for ln in lines if ln.startswith("  ")}
    assert "[./scenarios]" in line["mine"]
    assert "[./scenarios, hides" in line["quickstart"]
    assert "[./chips, hides" in line["ideal_digital"]
    assert "[./" not in line["parity"] and "[./" not in line["noise_small"]
    own = len(list((ROOT / "scenarios").glob("*.yaml")))
    assert f"scenarios/ (scenario, {own + 1}; 2 in ./scenarios)" in lines


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"hwsim {hwsim.__version__}")


# --------------------------------------------------------------------------- installed builds


def _source_copy(dest: Path) -> Path:
    """What a build reads (pyproject.toml, setup.py, README.md, hwsim/ and the shipped
    folders) copied out of the checkout: a build writes build/ and *.egg-info into its source
    folder, and the checkout is shared."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    for folder in ["hwsim", *_shipped_folders().values()]:
        shutil.copytree(ROOT / folder, dest / folder, ignore=skip)
    return dest


def _pip(*args: str, cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, (f"pip {' '.join(args)} failed (the test extras hold setuptools and "
                                  f"wheel: pip install -e '.[test]'):\n{done.stdout}\n{done.stderr}")


def _fresh_venv(where: Path) -> Path:
    """A new venv (no pip, no hwsim) whose only other packages are the dependencies of the
    environment running this test: a .pth adds that environment's site-packages after the
    venv's own, and the editable install's finder there is not run (a .pth line only adds a
    folder to sys.path; the .pth files in that folder are not read)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_outer_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    return python


def _hwsim(venv_python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run([str(venv_python.parent / "hwsim"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["wheel", "pip install ."])
def test_an_installed_build_lists_the_presets_and_runs_the_quickstart_by_name(tmp_path, how):
    """Builds the project as a user installs it (a wheel built with ``pip wheel`` and
    installed, or ``pip install .``, both without build isolation so no network is needed),
    into a fresh venv, and runs its ``hwsim`` script from an empty folder outside the source
    tree. Proves: the installed package is the one that runs (not the checkout); it ships
    every preset (``hwsim list`` shows all the checkout's presets as packaged); the
    quickstart runs by name, its chip, its firmware and the firmware's ``extends:`` found in
    the package; a sweep file resolves its scenario by name there; ``--version`` matches."""
    (tmp_path / "src").mkdir()
    src = _source_copy(tmp_path / "src")
    venv_python = _fresh_venv(tmp_path / "venv")
    if how == "wheel":
        _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp_path / "dist"), str(src),
             cwd=tmp_path)
        wheels = list((tmp_path / "dist").glob("hwsim-*.whl"))
        assert len(wheels) == 1
        target = str(wheels[0])
    else:
        target = str(src)
    _pip("--python", str(venv_python), "install", "--no-deps", "--no-build-isolation", "--no-index", target,
         cwd=tmp_path)
    shutil.rmtree(src)                       # nothing of the source is left to be found
    user = tmp_path / "user"
    user.mkdir()

    version = _hwsim(venv_python, "--version", cwd=user)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith(f"hwsim {hwsim.__version__} from {tmp_path / 'venv'}"), version.stdout

    listed = _hwsim(venv_python, "list", cwd=user)
    assert listed.returncode == 0, listed.stderr
    assert "packaged with hwsim in " + str(tmp_path / "venv") in listed.stdout
    rows = {ln.split()[0]: ln for ln in listed.stdout.splitlines() if ln.startswith("  ")}
    for folder in SHIPPED_DIRS.values():
        for preset in (ROOT / folder).glob("*.yaml"):
            assert preset.stem in rows and "[packaged]" in rows[preset.stem], (folder, preset.stem)

    run = _hwsim(venv_python, "run", "quickstart", "--max-cycles", "300", "--quiet", "--out", "qs", cwd=user)
    assert run.returncode == 0, run.stderr
    assert json.loads((user / "qs" / "summary.json").read_text())
    # the same spec as the checkout's quickstart: chip, firmware and extends: all resolved alike
    manifest = json.loads((user / "qs" / "manifest.json").read_text())
    assert manifest["spec_hash"] == load_scenario(ROOT / "scenarios" / "quickstart.yaml").spec_hash

    checked = _hwsim(venv_python, "validate", "noise_small", "rram_crossbar", cwd=user)
    assert checked.returncode == 0, checked.stderr
    assert "(sweep 'noise_small'" in checked.stdout and "(chip " in checked.stdout
