"""A step does no reference counting: the path drivers are compiled without it.

numba counts the references to every array a compiled function holds: an atomic increment and
decrement for each array argument of a call that is not inlined, for each slice, and for each
array taken out of a bundle (hwsim.kernels.state). In the loops over a step's rows and stages
these add up: on B1 a breakpoint on numba's NRT_incref and NRT_decref counted 212 of them per
step (327 on B3), about 13 % of the step's time in a profile, more than the typed interface's
bundles could afford.

A step allocates nothing (its working arrays are the run state and the scratch, built in
Python), and every array it touches belongs to the caller in Python, which keeps it alive for
the whole call. So the drivers (hwsim.kernels.paths) are compiled with numba's ``_nrt=False``
option (``NO_REFCOUNT``), which every function they call inherits. The rule this sets: nothing
a driver calls may allocate; numba refuses to compile an allocation without reference
counting, so breaking it fails at the first compilation (every path is compiled by the test
suite), not at run time.
"""

NO_REFCOUNT = {"_nrt": False}
