"""Config-driven field mappings: ``mappings/<system>.toml`` <-> the canonical ``Contact``.

Mapping files stay data: paths, named transforms (:mod:`.transforms`), enums and
defaults, never expressions. Problems carry the file and line.
"""

from contactsync.mapping.mapper import Mapping, MappingError, check_mappings, load_mappings

__all__ = ["Mapping", "MappingError", "check_mappings", "load_mappings"]
