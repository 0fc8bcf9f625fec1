"""The ``contactsync`` command line: thin wiring over the library; the only layer that prints.

The typer app is :data:`contactsync.cli.app.app`; other distributions add commands
through the ``contactsync.commands`` entry-point group (:mod:`.plugins`).
"""
