"""Packages and package data (the rest of the metadata is in pyproject.toml).

The preset folders stay at the root of the checkout, where the README and the docs name them
(scenarios/quickstart.yaml), and ship inside the package as hwsim/presets/<folder>: a mapping
of packages to folders, which pyproject.toml's package discovery cannot combine with
discovering hwsim's own packages. docs/schema goes to hwsim/presets/docs/schema so that each
preset's ``$schema=../docs/schema/...`` comment resolves in the installed tree too.
"""

from setuptools import find_packages, setup

# hwsim.presets.<package> -> the folder in the checkout that it ships
SHIPPED = {"chips": "chips", "firmware_models": "firmware_models", "scenarios": "scenarios",
           "sweeps": "sweeps", "tunes": "tunes", "docs.schema": "docs/schema"}

setup(
    packages=find_packages(include=["hwsim", "hwsim.*"]) + [f"hwsim.presets.{p}" for p in SHIPPED],
    package_dir={f"hwsim.presets.{p}": folder for p, folder in SHIPPED.items()},
    package_data={f"hwsim.presets.{p}": ["*.yaml", "*.json"] for p in SHIPPED},
)
