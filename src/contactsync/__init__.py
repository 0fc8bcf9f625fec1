"""contactsync: keep the people in five contact systems in step."""

__version__ = "0.1.0"
