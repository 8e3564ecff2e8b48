"""The discrete-event engine: SimPy processes for the chip's irregular events, numba blocks between."""
