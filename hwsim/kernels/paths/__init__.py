"""The kernel paths: each is one driver of the chip's step, a loop over the phases of
docs/firmware.md in their hardware order, sharing the phase functions of the component
modules (hwsim.kernels.input_path, perturb, forward, cost_unit, broadcast, integrators,
update_controller, chip_time):

  present input -> perturb -> infer -> measure cost -> AC-couple -> broadcast -> integrate
  -> update -> advance the clock

* ``reference``: the equations as written, one step after another, on the ideal chip or
  through the modelled circuits; every configuration runs on it.
* ``sign``: weight perturbation with random signs on the ideal chip (discrete, dense, no
  delay): the same equations on int8 signs, the first stage's product reused per sample, the
  integration deferred by a step and the rows split over the cores.
* ``node_fold``: node perturbation on the ideal chip in discrete mode: node sums folded into
  the integrators when the presynaptic activity changes, the first stage queued until the
  update.

hwsim.engine.paths chooses the path once per run, in Python, and says why a shortcut does
not apply; the shortcuts give the reference path's results (to the last bit for the
configurations the tests cover: tests/test_shortcuts.py).
"""
