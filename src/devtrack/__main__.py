"""``python -m devtrack``: the same as the ``devtrack`` command."""

from devtrack.cli.app import main

main()
