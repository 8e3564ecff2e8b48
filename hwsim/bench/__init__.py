"""The benchmark suite (docs/performance.md): workloads B1-B4 on hwsim and on a plain per-step
numpy loop, measured in the same process by ``hwsim bench``.

  workloads  the B1-B4 specs and their fixed synthetic data set; ``build_simulation``
  plain      the plain numpy loop (the yardstick), weight and node perturbation
  runner     the measurements: throughput, ratio, memory, engine overhead, cold start
  probe      the child process that measures memory and the time to the first step
  report     the JSON -> markdown tables (``python -m hwsim.bench.report FILE.json``)
  profile    where the time goes in a workload (``python -m hwsim.bench.profile``)

The ``hwsim bench`` command itself is ``hwsim.cli.bench``.
"""
