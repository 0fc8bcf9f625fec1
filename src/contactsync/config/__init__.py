"""The TOML config file turned into validated settings; secrets from the environment.

Every problem is reported as ``FILE:LINE: key.path: message`` (:class:`ConfigError`).
"""

from contactsync.config.errors import ConfigError
from contactsync.config.settings import Settings, load_settings

__all__ = ["ConfigError", "Settings", "load_settings"]
