"""The spec layer imports nothing from the model: every import statement of every module under
hwsim/spec/ (at the top, inside functions, under TYPE_CHECKING) is read with ast, so a lazy
import inside a function counts as much as one at the top."""

import ast
from pathlib import Path

import hwsim.spec

SPEC_DIR = Path(hwsim.spec.__file__).parent
FORBIDDEN = ("hwsim.chip", "hwsim.network", "hwsim.kernels", "hwsim.firmware", "hwsim.engine", "hwsim.sweep",
             "hwsim.run_plan", "hwsim.advice", "hwsim.api")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of each import in ``path``; relative imports resolved
    against the hwsim.spec package."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = "hwsim.spec".split(".")[:len("hwsim.spec".split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((node.lineno, module))
            if module in ("hwsim", ""):       # from hwsim import chip
                out.extend((node.lineno, f"hwsim.{alias.name}") for alias in node.names)
    return out


def forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FORBIDDEN)


def test_the_spec_layer_imports_nothing_from_the_model():
    files = sorted(SPEC_DIR.glob("*.py"))
    assert len(files) > 5              # the glob found the package
    found = [f"{path.name}:{line}: {module}" for path in files
             for line, module in imported_modules(path) if forbidden(module)]
    assert found == []


def test_the_import_reader_sees_lazy_and_relative_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\n"
                      "def f():\n"
                      "    from hwsim.chip.timing import inference_timing\n"
                      "    import hwsim.network.layout as L\n"
                      "if False:\n"
                      "    from ..kernels import codes\n"
                      "    from hwsim import engine\n")
    modules = [m for _, m in imported_modules(sample)]
    assert [m for m in modules if forbidden(m)] == ["hwsim.chip.timing", "hwsim.network.layout",
                                                    "hwsim.kernels", "hwsim.engine"]
