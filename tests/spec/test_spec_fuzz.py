"""Property-based fuzzing of the loader: mutated presets load or fail with a SpecError."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsim.cli.spec import dump_resolved
from hwsim.spec.errors import SpecError
from hwsim.run_plan import load_spec
from spec_helpers import preset_files

PRESETS = {p: p.read_text() for p in preset_files()}
PATHS = sorted(PRESETS)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["10 ns", "1 GHz", "25 uS", "0.5 %", "3 pJ", "2 Gbit/s", "200 cycles", "2 us",
                     "full_period", "inf", "-1 ns", "1e-9", "cdma", "walsh", "digits", "parity",
                     "ideal_digital", "nope", "", "%", "ns", "1 ns ns", "1/0 s", "10**10**10"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=6)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _get_parent(data, path):
    node = data
    for part in path[:-1]:
        node = node[part]
    return node


@st.composite
def mutated_documents(draw):
    path = draw(st.sampled_from(PATHS))
    data = yaml.safe_load(PRESETS[path])
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths or not isinstance(data, dict):
            break
        where = draw(st.sampled_from(paths))
        parent = _get_parent(data, where)
        action = draw(st.sampled_from(["replace", "delete", "rename", "add"]))
        if action == "replace":
            parent[where[-1]] = draw(values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[where[-1]]
        elif action == "rename" and isinstance(parent, dict):
            key = where[-1]
            new = draw(st.sampled_from([key[:-1], key + "s", key.upper(), key.replace("_", ""), "x" + key]))
            if new and new not in parent:
                parent[new] = parent.pop(key)
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(values)
    return path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@st.composite
def text_mutations(draw):
    path = draw(st.sampled_from(PATHS))
    text = PRESETS[path]
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "truncate", "swap"]))
        if action == "insert":
            text = text[:i] + draw(st.sampled_from([":", " ", "\t", "-", "[", "{", "}", "'", '"', "&a", "*a",
                                                    "!!", "\n", "#", "\x00", "é", "%", ">"])) + text[i:]
        elif action == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 20)):]
        elif action == "truncate":
            text = text[:i]
        else:
            j = draw(st.integers(0, len(text)))
            a, b = sorted((i, j))
            text = text[:a] + text[b:] + text[a:b]
    return path, text


def _check(path: Path, text: str | bytes):
    with tempfile.TemporaryDirectory() as tmp:
        # Keep the preset's folder name so kind detection by folder works as in the real tree.
        folder = Path(tmp) / path.parent.name
        folder.mkdir()
        target = folder / path.name
        target.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
        try:
            kind, spec = load_spec(target)
        except SpecError as exc:
            assert exc.problems
            for p in exc.problems:
                assert isinstance(p.file, str) and p.path and p.message
                assert "\n" not in p.message
                str(p)
            return
        # It loaded: the resolved dump loads back to the same spec.
        again_path = folder / "resolved.yaml"
        again_path.write_text(dump_resolved(spec))
        assert load_spec(again_path)[1] == spec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_structural_mutations_load_or_fail_cleanly(case):
    _check(*case)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text_mutations())
def test_text_mutations_load_or_fail_cleanly(case):
    _check(*case)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(PATHS))
def test_binary_garbage_fails_cleanly(blob, path):
    _check(path, blob)


def test_unmutated_presets_pass_the_same_check():
    for path in PATHS:
        _check(path, copy.copy(PRESETS[path]))
