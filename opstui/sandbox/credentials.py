"""The sandbox's per-run credentials: who may drive it, and how the other side learns them.

The sandbox runs real shells and commands as the local user, so it answers only to the holder of the pair it
makes at start-up (``generate``). It hands them out on its stdout, right after the ``endpoint`` line, as the
two lines ``export AWS_ACCESS_KEY_ID=<id>`` and ``export AWS_SECRET_ACCESS_KEY=<secret>``; ``opstui --demo``,
the tests and the bench read them from there (:func:`parse_ready_lines`).

A test or a bench run that wants a pair of its own names a file in ``OPSTUI_SANDBOX_CREDENTIALS`` (never a
command-line argument: ``ps`` shows those to every local user). The file holds the same two ``export`` lines
(or ``NAME=value`` lines) and must be readable by its owner only.

The control endpoints (``/_opstui/*``) take a bearer token derived from the secret
(:meth:`SandboxCredentials.control_token`), so whoever holds the AWS pair can drive the knobs and nobody else
can: ``Authorization: Bearer <hex>``. It is an HMAC-SHA256 of a fixed label under the secret, so the token
reveals nothing of the secret and the secret never travels in a request.

This module imports no moto: the app's demo runner and the tests use it without the sandbox's dependencies.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: environment variable naming a file with a chosen pair (tests and bench only)
CREDENTIALS_FILE_ENV = "OPSTUI_SANDBOX_CREDENTIALS"
#: the IAM user the pair belongs to: GetCallerIdentity answers with it and session ids start with it
USER_NAME = "sandbox-operator"

_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # AWS access key ids: AKIA + 16 of base32's alphabet
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_CONTROL_LABEL = b"opstui-sandbox-control-v1"


class CredentialsError(ValueError):
    """The credentials file is missing, unreadable, too open or malformed."""


@dataclass(frozen=True)
class SandboxCredentials:
    """One sandbox run's access key pair. ``repr`` never shows the secret."""

    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"SandboxCredentials(access_key_id={self.access_key_id!r}, secret_access_key=***)"

    @classmethod
    def generate(cls) -> SandboxCredentials:
        """A fresh random pair in AWS's shapes (``AKIA`` + 16 characters; a 40-character secret)."""
        key = "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
        secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
        return cls(key, secret)

    def control_token(self) -> str:
        """The bearer token of the control endpoints: HMAC-SHA256(secret, label), hex."""
        return hmac.new(self.secret_access_key.encode(), _CONTROL_LABEL, hashlib.sha256).hexdigest()

    def export_lines(self) -> list[str]:
        """The two lines the sandbox prints: plain, unquoted ``export NAME=value`` (both values are shell-safe)."""
        return [f"export AWS_ACCESS_KEY_ID={self.access_key_id}",
                f"export AWS_SECRET_ACCESS_KEY={self.secret_access_key}"]


def _valid(creds: SandboxCredentials) -> bool:
    ok = set(_KEY_ALPHABET) | set("0123456789")
    return (16 <= len(creds.access_key_id) <= 128 and set(creds.access_key_id) <= ok
            and 16 <= len(creds.secret_access_key) <= 128
            and set(creds.secret_access_key) <= set(_SECRET_ALPHABET))


def parse_pairs(lines: Iterable[str]) -> SandboxCredentials | None:
    """The pair from ``export AWS_ACCESS_KEY_ID=…`` / ``export AWS_SECRET_ACCESS_KEY=…`` lines (or without
    ``export``); None when either is missing."""
    found: dict[str, str] = {}
    for raw in lines:
        line = raw.strip()
        if line.startswith("export "):
            line = line[len("export "):].strip()
        name, sep, value = line.partition("=")
        if sep and name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            found[name] = value.strip()
    if "AWS_ACCESS_KEY_ID" in found and "AWS_SECRET_ACCESS_KEY" in found:
        return SandboxCredentials(found["AWS_ACCESS_KEY_ID"], found["AWS_SECRET_ACCESS_KEY"])
    return None


def from_file(path: str | Path) -> SandboxCredentials:
    """Read a chosen pair; the file must belong to this user and be readable by nobody else."""
    p = Path(path)
    try:
        st = p.stat()
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise CredentialsError(f"{CREDENTIALS_FILE_ENV}={p}: cannot read it ({exc.__class__.__name__})") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(f"{CREDENTIALS_FILE_ENV}={p}: other users can read it; chmod 600 {p}")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise CredentialsError(f"{CREDENTIALS_FILE_ENV}={p}: belongs to another user")
    creds = parse_pairs(text.splitlines())
    if creds is None or not _valid(creds):
        raise CredentialsError(f"{CREDENTIALS_FILE_ENV}={p}: needs the lines AWS_ACCESS_KEY_ID=<id> and "
                               "AWS_SECRET_ACCESS_KEY=<secret> (letters, digits, + and /)")
    return creds


def chosen_or_generated(environ: dict[str, str] | None = None) -> SandboxCredentials:
    """The pair named by ``OPSTUI_SANDBOX_CREDENTIALS`` if set, else a fresh random one."""
    env = os.environ if environ is None else environ
    path = env.get(CREDENTIALS_FILE_ENV)
    return from_file(path) if path else SandboxCredentials.generate()


def write_file(path: str | Path, creds: SandboxCredentials) -> Path:
    """Write a pair for ``OPSTUI_SANDBOX_CREDENTIALS`` (mode 0600 from the start, never world-readable)."""
    p = Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(creds.export_lines()) + "\n")
    os.chmod(p, 0o600)
    return p


def parse_ready_lines(lines: Iterable[str]) -> tuple[str, SandboxCredentials | None]:
    """(endpoint, pair) from the first lines the sandbox prints; endpoint is '' when absent."""
    endpoint = ""
    collected: list[str] = []
    for line in lines:
        if line.startswith("endpoint ") and not endpoint:
            endpoint = line[len("endpoint "):].strip()
        collected.append(line)
    return endpoint, parse_pairs(collected)
