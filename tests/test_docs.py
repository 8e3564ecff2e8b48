"""The examples of the tutorial and the scenario pages run: every ``console`` command
(``$ hwsim ...``) exits 0, every ``python`` block executes, every ``yaml`` spec validates, and
every ``hwsim sweep FILE`` or ``hwsim run FILE`` line of a ``bash`` block names a file that
validates (sweeps take minutes, so they are checked, not run). The reference pages
(docs/data.md, docs/sweeps.md, ...) show commands on files the reader supplies (data sets,
sweep results); their spec examples are validated."""

import os
import re
import shlex
from pathlib import Path

import pytest

from hwsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "docs" / "tutorial.md", ROOT / "docs" / "network.md",
                *ROOT.glob("docs/scenarios/*.md")])
ALL_PAGES = sorted([*ROOT.glob("docs/*.md"), *ROOT.glob("docs/scenarios/*.md")])
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(kind, pages=PAGES):
    out = []
    for page in pages:
        for i, m in enumerate(FENCE.finditer(page.read_text())):
            if m.group(1) == kind:
                out.append(pytest.param(page, m.group(2), id=f"{page.relative_to(ROOT)}#{i}"))
    return out


@pytest.fixture(scope="module")
def project_view(tmp_path_factory):
    """A fresh folder that shows the project's files (links) but not its runs/: the examples
    write their run folders here, so a second test session does not meet the first one's
    (a run refuses a folder that holds another run's results)."""
    view = tmp_path_factory.mktemp("project")
    for entry in ROOT.iterdir():
        if entry.name not in ("runs", ".git"):
            (view / entry.name).symlink_to(entry)
    return view


@pytest.fixture
def at_root(monkeypatch, project_view):
    monkeypatch.chdir(project_view)


@pytest.mark.parametrize("page,text", blocks("console"))
def test_console_examples_exit_zero(page, text, at_root, capsys):
    commands = [line[2:] for line in text.splitlines() if line.startswith("$ ")]
    assert commands, f"{page}: a console block without a '$ ' command"
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "hwsim", command
        assert main(argv[1:]) == 0, (command, capsys.readouterr())


@pytest.mark.parametrize("page,text", blocks("python"))
def test_python_examples_run(page, text, at_root):
    exec(compile(text, str(page), "exec"), {"__name__": "__doc_example__"})


@pytest.mark.parametrize("page,text", [b for b in blocks("yaml", ALL_PAGES) if "kind:" in b.values[1]])
def test_yaml_spec_examples_validate(page, text, tmp_path, capsys):
    path = tmp_path / "example.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 0, capsys.readouterr()


@pytest.mark.parametrize("page,text", blocks("bash"))
def test_bash_examples_name_valid_files(page, text, at_root, capsys):
    for line in text.splitlines():
        argv = shlex.split(line, comments=True)
        if argv[:2] in (["hwsim", "sweep"], ["hwsim", "run"]) and len(argv) > 2:
            target = argv[2]
            if os.path.exists(target):
                assert main(["validate", target]) == 0, (line, capsys.readouterr())
