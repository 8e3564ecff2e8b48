"""The kernel interface's declarations (hwsim.kernels.state): config groups filled once each,
records readable by field name in compiled code and in plain Python alike."""

import numpy as np
import pytest

from hwsim.kernels import codes
from hwsim.kernels.devices import DEVICE_CONFIG
from hwsim.kernels.forward import PERIPHERY_CONFIG
from hwsim.kernels.state import (CONFIG, CONFIG_GROUPS, COUNTERS, FLOATS, Devices, Periphery, make_config,
                                 new_counters, record)


def full_parts():
    return {group: {name: 1 for name, _ in fields} for group, fields in CONFIG_GROUPS.items()}


@pytest.mark.parametrize("dtype", [CONFIG, COUNTERS, FLOATS, DEVICE_CONFIG, PERIPHERY_CONFIG],
                         ids=["config", "counters", "floats", "device_config", "periphery_config"])
def test_no_field_is_hidden_by_a_numpy_attribute(dtype):
    """r[0].name must read the field under NUMBA_DISABLE_JIT too, where np.record's own
    attributes (clip, sum, ...) would win over a field of the same name."""
    rec = record(dtype)[0]
    hidden = [name for name in dtype.names if name in dir(rec)]
    assert not hidden


def test_every_config_field_belongs_to_one_group():
    names = [name for fields in CONFIG_GROUPS.values() for name, _ in fields]
    assert len(names) == len(set(names)) == len(CONFIG.names)


def test_make_config_refuses_a_missing_or_foreign_field():
    parts = full_parts()
    config = make_config(parts)
    assert config[0].tau_p == 1 and config[0]["eta"] == 1.0
    del parts["broadcast"]["bcast_noise"]
    with pytest.raises(ValueError, match="broadcast: missing \\['bcast_noise'\\]"):
        make_config(parts)
    parts = full_parts()
    parts["firmware"]["bcast_noise"] = 0.0      # a field of another group
    with pytest.raises(ValueError, match="unknown \\['bcast_noise'\\]"):
        make_config(parts)


def test_counters_start_with_no_epoch_and_no_divergence():
    c = new_counters()[0]
    assert (c.order_epoch, c.diverged, c.step) == (-1, -1, 0)
    c.step += 3
    assert new_counters()[0].step == 0 and c.step == 3


def test_code_tables_are_one_to_one():
    for name in dir(codes):
        table = getattr(codes, name)
        if isinstance(table, dict) and name.isupper():
            assert len(set(table.values())) == len(table), name
            for spec_name, code in table.items():
                assert codes.name_of(table, code) == spec_name


def test_component_bundles_carry_one_config_record_each():
    """The devices and the periphery hand the kernels one named record each, no index arrays."""
    assert Devices._fields == ("dev", "stuck", "t_prog", "pulses", "config")
    assert Periphery._fields == ("config", "neuron_par")
    seeds = [name for name in DEVICE_CONFIG.names if name.startswith("seed_")]
    assert seeds == ["seed_round", "seed_c2c", "seed_prog", "seed_read"]
    assert all(DEVICE_CONFIG[name] == np.uint64 for name in seeds)
    rec = record(PERIPHERY_CONFIG)[0]
    rec.rows = 16           # written and read by name in plain Python, as the kernels do
    assert rec.rows == 16 and rec["rows"] == 16
