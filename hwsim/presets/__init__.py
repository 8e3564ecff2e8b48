"""The presets that ship inside the package.

In a source checkout this folder holds only this file: the presets stay at the root of the
checkout (chips/, firmware_models/, scenarios/, sweeps/, tunes/ and docs/schema/), where the
README and the docs name them. Building a wheel (or ``pip install .``) copies each of those
folders here as package data (setup.py maps ``hwsim.presets.<folder>`` to ``<folder>``), so an
installed hwsim finds them by name with nothing else on disk. hwsim.spec.loader.project_root
says which of the two places this installation uses.
"""
