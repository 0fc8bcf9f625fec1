"""``python -m contactsync`` is the ``contactsync`` command."""

from contactsync.cli import app

app(prog_name="contactsync")
