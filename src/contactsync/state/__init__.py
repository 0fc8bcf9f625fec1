"""The state: backend-neutral value types here, the SQLite backend in :mod:`.sqlite`.

Nothing in this package's top level imports a backend, so the engine may import
:mod:`.types` (through its ports, :mod:`contactsync.engine.ports`) without
depending on SQLite.
"""
