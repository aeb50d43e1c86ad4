"""The router status listener's basic-auth credentials: one pair per cluster, in a private file.

gorouter protects its status listener's ``GET /routes`` with the ``router.status.user`` and
``password`` properties; the embedded router does the same with a pair generated when the
cluster first starts and kept in ``<state_dir>/router-status-credentials.json`` (mode 0600), so a
restarted router keeps it. cluster.json, which people read and attach to bug reports, names the
file and the user, never the password (as it does for the store's DSN).
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

USER = "router-status"  # cf-deployment's router.status.user
FILENAME = "router-status-credentials.json"


@dataclass(frozen=True)
class StatusCredentials:
    user: str
    password: str = field(repr=False)

    @classmethod
    def generate(cls) -> StatusCredentials:
        return cls(USER, secrets.token_urlsafe(24))

    def accepts(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries exactly these credentials (gorouter's check)."""
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme != "Basic":
            return False
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return bool(sep) and hmac.compare_digest(f"{user}:{password}".encode(),
                                                 f"{self.user}:{self.password}".encode())


def load_or_create(path: Path) -> StatusCredentials:
    """The pair in ``path``, or a new one written there (0600) if there is none yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return StatusCredentials(str(data["user"]), str(data["password"]))
    except FileNotFoundError:
        pass
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path} is not a router status credentials file ({e!r}): delete it and "
                         "start the cluster again") from None
    credentials = StatusCredentials.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"user": credentials.user, "password": credentials.password}, f)
    return credentials


def status_url(admin_url: str, router: Mapping[str, Any]) -> str:
    """``admin_url`` with the credentials of the ``router`` entry of cluster.json in it: a secret,
    never print it."""
    credentials_file = router.get("status_credentials")
    if not credentials_file:
        raise ValueError("cluster.json's router entry names no status credentials file: the cluster was "
                         "started by an older pytest-diego; stop it and start it again")
    data = json.loads(Path(credentials_file).read_text(encoding="utf-8"))
    parts = urlsplit(admin_url)
    netloc = f"{quote(data['user'], safe='')}:{quote(data['password'], safe='')}@{parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))
