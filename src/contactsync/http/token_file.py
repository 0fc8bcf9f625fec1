"""OAuth tokens kept in a file beside the state, so a one-shot ``sync`` reuses the
token the previous one fetched.

Why: Rhythm caps machine tokens at 1,000 a month, and a token lives 24 h; a cron
``sync`` every 5 minutes would otherwise take 8,640. Why not the SQLite state: secrets
never go there (the state is backed up, exported and copied for ``plan``).

The file (``<state>.tokens``) is created with mode 0600, replaced atomically on each
new token (write a temporary file, then rename), and keyed by a hash of the token URL
and client id. A file that cannot be read or parsed counts as empty (a new token is
fetched and the file rewritten); one that cannot be written costs only the reuse
(logged, never raised): the token is still kept in memory for the process.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path

import structlog

from contactsync.http.auth import AccessToken

log = structlog.get_logger(__name__)

#: the suffix of the token file beside the state file
TOKEN_FILE_SUFFIX = ".tokens"


def token_file_for(state_path: Path) -> Path:
    """Where the tokens of the state at ``state_path`` are kept."""
    return state_path.with_name(state_path.name + TOKEN_FILE_SUFFIX)


class FileTokenCache:
    """A :class:`~contactsync.http.auth.TokenCache` backed by one 0600 JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._memory: dict[str, AccessToken] = {}

    @staticmethod
    def _slot(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def get(self, key: str) -> AccessToken | None:
        with self._lock:
            if key in self._memory:
                return self._memory[key]
            entry = self._read().get(self._slot(key))
            if not isinstance(entry, dict):
                return None
            value, expires_at = entry.get("value"), entry.get("expires_at")
            if not isinstance(value, str) or not isinstance(expires_at, int | float):
                return None
            token = AccessToken(value, float(expires_at))
            self._memory[key] = token
            return token

    def set(self, key: str, token: AccessToken) -> None:
        with self._lock:
            self._memory[key] = token
            stored = self._read()
            stored[self._slot(key)] = {"value": token.value, "expires_at": token.expires_at}
            try:
                self._write(stored)
            except OSError as exc:  # the reuse is lost, nothing else
                log.warning("token file not written", path=str(self.path), error=exc.strerror)

    def _read(self) -> dict[str, object]:
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def _write(self, stored: dict[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=self.path.name, dir=self.path.parent)
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(stored, out)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def __repr__(self) -> str:  # never the tokens
        return f"FileTokenCache({str(self.path)!r})"
