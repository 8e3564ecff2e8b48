"""hwsim tune: search a firmware's knobs with Optuna for the least time or energy to target
(see hwsim.tune.study for the protocol and docs/tuning.md for the command)."""

#: --objective -> the summary.json figure minimised (to the scenario's target), and its unit.
OBJECTIVES = {"cycles": "cycles_to_target", "seconds": "seconds_to_target",
              "joules": "energy_joules_to_target"}
OBJECTIVE_UNITS = {"cycles": "cycles", "seconds": "s", "joules": "J"}
