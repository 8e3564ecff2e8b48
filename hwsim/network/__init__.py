"""Layers, activations and the flat parameter layout of the network on the chip."""
