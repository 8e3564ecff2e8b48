"""Training programs the chip runs (MGD in discrete and analog modes)."""
