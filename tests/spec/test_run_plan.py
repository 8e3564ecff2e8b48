"""hwsim.run_plan: the resolved run is built once and handed on (the warnings, the progress
budget and the CLI's checks take it instead of laying the network out again)."""

from pathlib import Path

import pytest

import hwsim.network.layout
from hwsim.advice import spec_warnings, timing_warnings
from hwsim.chip.perturbation import walsh_order
from hwsim.chip.timing import inference_timing
from hwsim.results.progress import budget_cycles
from hwsim.run_plan import ResolvedRun, as_resolved, load_scenario, resolve
from hwsim.seeds import Stream

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "scenarios" / "quickstart.yaml"


@pytest.fixture
def layouts(monkeypatch):
    """Counts the network layouts built (hwsim.network.layout.scenario_layout calls)."""
    calls = []
    real = hwsim.network.layout.scenario_layout

    def counting(scenario):
        calls.append(scenario)
        return real(scenario)

    monkeypatch.setattr(hwsim.network.layout, "scenario_layout", counting)
    return calls


@pytest.mark.parametrize("scheme, target", [("tdma", "weights"), ("walsh", "weights"), ("cdma", "weights"),
                                            ("tdma", "nodes")])
def test_resolve_holds_what_the_run_implies(scheme, target):
    spec = load_scenario(QUICK, {"firmware.perturbation.scheme": scheme,
                                 "firmware.perturbation.target": target, "max_steps": 70})
    plan = resolve(spec)
    layout = hwsim.network.layout.scenario_layout(spec.scenario)
    assert plan.spec is spec
    assert plan.n_params == layout.n_params and plan.layout.sizes == layout.sizes
    assert plan.n_perturbed == (layout.n_neurons if target == "nodes" else layout.n_params)
    assert plan.n_perturbed != plan.n_params or target == "weights"
    assert plan.timing == inference_timing(spec.chip, layout) and plan.interval == plan.timing.interval
    expected = {"tdma": plan.n_perturbed, "walsh": walsh_order(plan.n_perturbed), "cdma": None}[scheme]
    assert plan.perturbation_period == expected
    assert plan.streams is Stream and plan.path is None
    assert budget_cycles(plan) == budget_cycles(spec) == 70 * plan.interval


def test_loading_lays_out_once_and_the_consumers_never(layouts):
    spec = load_scenario(QUICK, {"chip.perturbation.injection": "weight_device"}, chip="rram_crossbar")
    assert len(layouts) == 1
    plan = resolve(spec)
    assert len(layouts) == 2
    warnings = spec_warnings(plan)
    timing_warnings(plan)
    budget_cycles(resolve(spec.with_overrides({"max_steps": 10})))
    assert len(layouts) == 4                 # with_overrides validates (one), resolve (one)
    budget_cycles(plan)
    assert as_resolved(plan) is plan
    assert len(layouts) == 4
    assert warnings == spec_warnings(spec)   # a RunSpec is resolved on the way: same lines
    assert len(layouts) == 5
    assert any(w.startswith("chip.perturbation.injection") for w in warnings)


def test_resolve_refuses_what_is_not_a_validated_spec():
    spec = load_scenario(QUICK)
    with pytest.raises(TypeError, match="validated RunSpec"):
        resolve(spec.resolved())
    with pytest.raises(TypeError, match="validated RunSpec"):
        resolve(resolve(spec))
    assert isinstance(resolve(spec), ResolvedRun)
