"""Stage geometry shared by the network layout (which builds it) and the kernels (which read
it), in a module of its own so that reading specs does not import numba.

Kinds (hwsim.kernels.codes: DENSE, CONV, POOL), and the columns of ``geom`` (one row per stage): kind, fan-in F, positions P, gather
offset, input stride per output channel, output channels.
"""

G_KIND, G_FAN, G_POS, G_GOFF, G_IN_STRIDE, G_CH_OUT = range(6)
N_GEOM = 6
