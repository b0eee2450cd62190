"""GitHub without configuration: the local repository through ``git``, GitHub through ``gh``.

With a stored token and no usable ``gh``, pull requests, CI runs and issues come from the
REST API instead (:mod:`devtrack.github.rest`). Everything here is async, argument lists
only (no shell), and turns failures into typed results.
"""
