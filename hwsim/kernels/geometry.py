"""Stage geometry shared by the network layout (which builds it) and the kernels (which read
it), in a module of its own so that reading specs does not import numba.

Kinds, and the columns of ``geom`` (one row per stage): kind, fan-in F, positions P, gather
offset, input stride per output channel, output channels.
"""

from hwsim.kernels.codes import CONV, DENSE, POOL  # noqa: F401  (the kinds' codes)

G_KIND, G_FAN, G_POS, G_GOFF, G_IN_STRIDE, G_CH_OUT = range(6)
N_GEOM = 6
