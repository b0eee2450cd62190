"""Pieces of the loopback GitHub emulator (see :mod:`devtrack.sandbox.github_emulator`)."""
