"""The command line: thin typer commands over the manager and the other layers."""
