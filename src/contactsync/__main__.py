"""``python -m contactsync`` is the ``contactsync`` command."""

from contactsync.cli.app import app

app(prog_name="contactsync")
