"""Load -> dump resolved -> load gives the same spec and hash; extends and overrides compose."""

from __future__ import annotations

import textwrap

import pytest

from hwsim.cli.spec import dump_resolved
from hwsim.spec.errors import SpecError
from hwsim.run_plan import load_scenario, load_spec
from spec_helpers import ROOT, preset_files


def _write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("path", preset_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_round_trip_of_every_preset(path, tmp_path):
    kind, spec = load_spec(path)
    dumped = _write(tmp_path / "resolved.yaml", dump_resolved(spec, source=str(path)))
    kind2, again = load_spec(dumped)
    assert again == spec
    assert dump_resolved(again, source=str(path)) == dump_resolved(spec, source=str(path))
    if kind == "scenario":
        assert kind2 == "run"
        assert again.spec_hash == spec.spec_hash
        assert load_scenario(dumped) == spec


def test_round_trip_with_units_and_symbols(tmp_path):
    scen = _write(tmp_path / "s.yaml", """\
        kind: scenario
        chip: rram_crossbar
        firmware: finite_difference
        overrides:
          chip.clock_period: 2 ns
          chip.array.tile_latency: null    # one inference at a time: 60 cycles per step
          firmware.tau_p: 240 cycles
        dataset: {name: parity, n_bits: 3}
        network: {hidden: [4], output_activation: sigmoid}
        accuracy: threshold
        target_accuracy: 95 %
        """)
    spec = load_scenario(scen)
    assert spec.chip.clock_period == pytest.approx(2e-9)
    assert spec.firmware.tau_p == 4                          # 240 cycles / 60 cycles per inference
    p = 3 * 4 + 4 + 4 * 1 + 1
    assert spec.firmware.tau_theta == spec.firmware.tau_x == 4 * p
    assert spec.scenario.target_accuracy == pytest.approx(0.95)
    text = dump_resolved(spec)
    assert f"tau_theta: {4 * p}  # steps = {4 * p * 60} cycles = " in text
    dumped = _write(tmp_path / "r.yaml", text)
    again = load_scenario(dumped)
    assert again == spec and again.spec_hash == spec.spec_hash


def test_extends_chain_overrides_recursively(tmp_path):
    _write(tmp_path / "base.yaml", """\
        kind: chip
        extends: rram_crossbar
        name: base
        inference: {baseline_cycles: 0}
        """)
    child = _write(tmp_path / "child.yaml", """\
        kind: chip
        extends: base.yaml
        name: child
        cost_unit: {noise_sigma: 0.01}
        """)
    _, spec = load_spec(child)
    assert spec.name == "child"
    assert spec.inference.cycles_per_inference == 60       # from rram_crossbar
    assert spec.inference.baseline_cycles == 0              # from base
    assert spec.cost_unit.noise_sigma == 0.01               # from child
    assert spec.cost_unit.baseline_noisy is True            # from rram_crossbar, beside the child's key


def test_scenario_extends_and_reference_by_path(tmp_path):
    _write(tmp_path / "fw.yaml", """\
        kind: firmware
        extends: spsa
        eta: 0.01
        """)
    scen = _write(tmp_path / "s.yaml", f"""\
        kind: scenario
        extends: {ROOT / 'scenarios' / 'quickstart.yaml'}
        name: derived
        firmware: fw.yaml
        overrides: {{firmware.tau_p: 2}}
        """)
    spec = load_scenario(scen)
    assert spec.scenario.name == "derived" and spec.scenario.dataset.name == "digits"
    assert spec.firmware.name == "spsa" and spec.firmware.tau_p == 2
    # The parent's overrides are inherited (mappings merge); the child's entry wins on its key.
    assert spec.scenario.overrides["firmware.tau_p"] == 2
    assert set(load_scenario(ROOT / "scenarios" / "quickstart.yaml").scenario.overrides) <= set(spec.scenario.overrides)


def test_overrides_apply_in_order_and_cli_wins(tmp_path):
    quick = ROOT / "scenarios" / "quickstart.yaml"
    spec = load_scenario(quick, {"firmware.eta": 0.7, "network.hidden": [8, 8], "chip.clock_period": "2 ns",
                                 "firmware.tau_theta": "40 ns"})
    assert spec.firmware.eta == 0.7 and spec.scenario.network.hidden == [8, 8]
    assert spec.chip.clock_period == pytest.approx(2e-9) and spec.firmware.tau_theta == 20
    assert spec.spec_hash != load_scenario(quick).spec_hash
    assert spec.with_overrides({"firmware.eta": 0.7}) == spec


def test_cli_set_problems_are_attributed_to_set():
    with pytest.raises(SpecError) as info:
        load_scenario(ROOT / "scenarios" / "quickstart.yaml", {"firmware.tau_x": "1 GHz"})
    [p] = info.value.problems
    assert p.file == "--set" and p.path == "firmware.tau_x" and "wrong dimension" in p.message


def test_spec_hash_ignores_seed_only():
    quick = ROOT / "scenarios" / "quickstart.yaml"
    a = load_scenario(quick)
    assert a.with_overrides({"seed": 5}).spec_hash == a.spec_hash
    assert a.with_overrides({"firmware.eta": a.firmware.eta * 2}).spec_hash != a.spec_hash
