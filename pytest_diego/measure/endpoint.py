"""How to reach an endpoint an operator names: URL, credentials, TLS and timeout, secrets never shown.

Every source of routes and metrics (gorouter's status listener, a metrics agent, a Prometheus
server) is an ``Endpoint``. Credentials come from, in this order: the arguments, the URL's
userinfo (``http://user:pass@10.0.16.4:8080``), then environment variables the source names
(``EnvNames``). The URL is kept *without* them, so ``Endpoint.url`` is safe to print and every
message and ``repr`` uses it; the secrets live only in the requests session.

TLS: ``ca_file`` verifies the server (default: the system's CAs), ``cert_file``/``key_file`` is
the client certificate for mutual TLS (Loggregator's metrics agent asks for one signed by the
metrics CA), ``skip_verify`` accepts any server certificate. Auth: HTTP basic (user and
password) or a bearer token, not both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
import urllib3

from pytest_diego.measure.http import EndpointError, get


class EndpointConfigError(ValueError):
    """An endpoint setting that cannot work; the message says which and how to fix it."""


@dataclass(frozen=True)
class EnvNames:
    """Environment variables a source reads credentials from (None: not read)."""

    user: str | None = None
    password: str | None = None
    bearer_token: str | None = None

    def describe(self) -> str:
        names = [n for n in (self.user, self.password, self.bearer_token) if n]
        return "/".join(names)


def redact_url(url: str) -> str:
    """``url`` with any userinfo replaced by ``***`` (for messages about a URL we reject)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<an unparseable URL>"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def split_credentials(url: str, what: str) -> tuple[str, str | None, str | None]:
    """The URL without userinfo, and the user and password it carried (percent-decoded)."""
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as e:
        raise EndpointConfigError(f"{what} URL {redact_url(url)!r} is not a valid URL ({e})") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise EndpointConfigError(f"{what} URL {redact_url(url)!r} must be an http(s) URL with a host, "
                                  "such as http://10.0.16.4:8080")
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    netloc = parts.netloc.rsplit("@", 1)[1] if "@" in parts.netloc else parts.netloc
    clean = urlunsplit(parts._replace(netloc=netloc, fragment="")).rstrip("/")
    return clean, user, password


class Endpoint:
    """One HTTP(S) endpoint with its credentials and TLS settings; ``url`` never holds secrets.

    ``what`` names the endpoint in messages ("router status", "metrics endpoint"...);
    ``auth_hint`` is what a 401/403 answer tells the user to check.
    """

    def __init__(self, url: str, *, what: str, user: str | None = None, password: str | None = None,
                 bearer_token: str | None = None, ca_file: str | os.PathLike[str] | None = None,
                 cert_file: str | os.PathLike[str] | None = None,
                 key_file: str | os.PathLike[str] | None = None, skip_verify: bool = False,
                 timeout: float = 5.0, env: EnvNames = EnvNames(),
                 environ: Mapping[str, str] | None = None, auth_hint: str = "") -> None:
        self.what = what
        self.url, url_user, url_password = split_credentials(url, what)
        environ = os.environ if environ is None else environ
        user = _first(user, url_user, _env(environ, env.user))
        password = _first(password, url_password, _env(environ, env.password))
        bearer_token = _first(bearer_token, _env(environ, env.bearer_token))
        if (user is None) != (password is None):
            missing = "password" if password is None else "user"
            raise EndpointConfigError(
                f"{what} {self.url}: a {'user' if user is not None else 'password'} was given but no "
                f"{missing}; give both (in the URL as {_scheme(self.url)}://USER:PASSWORD@host:port"
                + (f", or in {env.describe()}" if env.user else "") + ")")
        if user is not None and bearer_token is not None:
            raise EndpointConfigError(f"{what} {self.url}: both basic auth and a bearer token were given; "
                                      "use one")
        if not timeout > 0:
            raise EndpointConfigError(f"{what} {self.url}: timeout must be > 0 seconds, got {timeout!r}")
        if (cert_file is None) != (key_file is None):
            raise EndpointConfigError(f"{what} {self.url}: the client certificate and key go together "
                                      "(mutual TLS needs both)")
        tls_options = {"CA file": ca_file, "client certificate": cert_file, "client key": key_file}
        given = [name for name, path in tls_options.items() if path is not None]
        if self.url.startswith("http:") and (given or skip_verify):
            raise EndpointConfigError(
                f"{what} {self.url} is plain http://, so its TLS settings "
                f"({', '.join(given) or 'skip-verify'}) would never be used: use https:// or drop them")
        if ca_file is not None and skip_verify:
            raise EndpointConfigError(f"{what} {self.url}: give a CA file to verify the server or skip "
                                      "verification, not both")
        for name, path in tls_options.items():
            if path is not None and not Path(path).is_file():
                raise EndpointConfigError(f"{what} {self.url}: {name} {path} is not a readable file")
        self.timeout = timeout
        self.auth_hint = auth_hint
        self.has_credentials = user is not None or bearer_token is not None
        self._auth_kind = "basic auth" if user is not None else "bearer token" if bearer_token else ""
        self._tls = ", ".join(name for name, on in (("CA file", ca_file), ("client certificate", cert_file),
                                                    ("skip-verify", skip_verify)) if on)
        session = requests.Session()
        if user is not None and password is not None:
            session.auth = (user, password)
        if bearer_token is not None:
            session.headers["Authorization"] = f"Bearer {bearer_token}"
        # given with every request: requests lets REQUESTS_CA_BUNDLE override a session's verify
        self._verify: bool | str = False if skip_verify else (str(ca_file) if ca_file is not None else True)
        if skip_verify:  # chosen on purpose, as for the BBS client: no warning per request
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        if cert_file is not None and key_file is not None:
            session.cert = (str(cert_file), str(key_file))
        self._session = session

    def __repr__(self) -> str:
        extras = [x for x in (self._auth_kind, self._tls) if x]
        return f"Endpoint({self.url!r}{', ' if extras else ''}{', '.join(extras)})"

    def fetch(self, path: str = "", params: Mapping[str, str] | None = None,
              headers: Mapping[str, str] | None = None) -> tuple[int, bytes, str]:
        """GET ``url + path``: status, body and content type, within ``timeout`` in total.

        ``EndpointError`` (naming the URL, never the credentials) for transport failures and for
        401/403, with ``auth_hint``; other statuses are the caller's to judge.
        """
        url = self.url + path
        kwargs: dict[str, Any] = {"params": params, "allow_redirects": False, "verify": self._verify}
        if headers:
            kwargs["headers"] = dict(headers)
        response, body = get(self._session, url, self.timeout, **kwargs)
        status = response.status_code
        if status in (401, 403):
            given = ("the credentials given were refused" if self.has_credentials
                     else "no credentials were given")
            raise EndpointError(f"{url} answered HTTP {status} "
                                f"{'Unauthorized' if status == 401 else 'Forbidden'}: {given}; "
                                f"{self.auth_hint or 'check the user/password or token'}")
        return status, body, response.headers.get("Content-Type", "")

    def close(self) -> None:
        self._session.close()


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v is not None), None)


def _env(environ: Mapping[str, str], name: str | None) -> str | None:
    return (environ.get(name) or None) if name else None


def _scheme(url: str) -> str:
    return url.split(":", 1)[0]
