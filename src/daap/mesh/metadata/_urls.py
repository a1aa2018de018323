"""Store URLs: safe to print, and the SQLite path inside one."""

from __future__ import annotations

import re
from pathlib import Path

from daap.errors import ConfigError

# user:password@ in the authority, and password=... in a libpq query string
_PASSWORDS = (
    re.compile(r"(?<=://)(?P<keep>[^/@:\s]*:)(?P<secret>[^/@\s]*)(?=@)"),
    re.compile(r"(?i)(?P<keep>\bpassword=)(?P<secret>[^&\s]*)"),
)


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe for messages and logs.

    ``postgresql://ana:s3cret@db:5432/mesh`` -> ``postgresql://ana:***@db:5432/mesh``
    """
    for pattern in _PASSWORDS:
        url = pattern.sub(r"\g<keep>***", url)
    return url


def sqlite_path(url: str) -> Path:
    """The database file of ``sqlite:///abs/path/metadata.db``.

    Only absolute paths are accepted: a relative one would depend on the
    directory the process happens to start in, and two processes of one mesh
    could silently use two different stores.

    Raises:
        ConfigError: the URL has no absolute path.
    """
    prefix = "sqlite://"
    path = url[len(prefix) :] if url.lower().startswith(prefix) else ""
    if not path.startswith("/") or path.rstrip("/") == "":
        raise ConfigError(
            f"metadata store URL {url!r} does not name an absolute file path",
            hint="write sqlite:// followed by an absolute path, "
            "e.g. sqlite:///home/me/mesh/.daap/metadata.db",
        )
    return Path(path)


def scrub(text: str, url: str) -> str:
    """``text`` (say a driver's error message) without the password that ``url`` holds.

    Drivers echo the connection string in some errors ("invalid URI ...");
    whatever they echo, the secret itself must not reach logs.
    """
    secrets = {match["secret"] for pattern in _PASSWORDS for match in pattern.finditer(url)}
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return redact_url(text)
