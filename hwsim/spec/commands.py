"""Spec commands of the CLI (validate, schema, list, show): registered by add_commands."""


def add_commands(subparsers, commands: dict) -> None:
    """Add this module's subcommands to the CLI parser and their handlers to ``commands``."""
