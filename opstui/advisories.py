"""Application versions known to be outdated: a small table of minimum safe upstream versions, each from the
project's own security advisory, that the Inventory tab flags.

It is deliberately small and conservative. A version is flagged only when its upstream number is below the
version that fixed a HIGH-severity advisory of the same release branch. Distribution packages that carry a
distro revision (Debian/Ubuntu ``3.0.2-0ubuntu1.15``) are not flagged: the distribution backports fixes
without changing the upstream number, so only its own advisories can tell (Ubuntu 22.04 ships 3.0.2 with the
fixes). The Inventory's Version column is what AWS:Application reports, the upstream number on rpm systems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opstui.aws.ssm_inventory import version_key


@dataclass(frozen=True)
class MinimumSafe:
    """Below ``minimum`` (same ``branch``) the package has the advisory's vulnerabilities."""

    names: tuple[str, ...]  # package names as inventories report them (rpm, deb, Windows)
    branch: str  # the release branch the minimum is for ("3.0." matches 3.0.x)
    minimum: str
    advisory: str  # what was fixed
    source: str  # the advisory itself


MINIMUM_SAFE: tuple[MinimumSafe, ...] = (
    MinimumSafe(("openssl", "openssl-libs", "libssl3"), "3.0.", "3.0.7",
                "CVE-2022-3602 and CVE-2022-3786, X.509 email address buffer overflows (HIGH); affected "
                "3.0.0 to 3.0.6",
                "https://www.openssl.org/news/secadv/20221101.txt"),
)

_DISTRO_REVISION = re.compile(r"-[0-9A-Za-z.+~]*(ubuntu|deb|build)", re.IGNORECASE)


def outdated(name: str, version: str) -> MinimumSafe | None:
    """The advisory a package version is below the fix of, or None (unknown, current, or distro-patched)."""
    if not version or _DISTRO_REVISION.search(version):
        return None
    upstream = version.split(":", 1)[-1].split("-", 1)[0]  # epoch and release off: "1:3.0.2-1.el9" -> 3.0.2
    for entry in MINIMUM_SAFE:
        if name.lower() in entry.names and upstream.startswith(entry.branch) \
                and version_key(upstream) < version_key(entry.minimum):
            return entry
    return None


def outdated_mark(name: str, version: str) -> str:
    """`` ⚠ < 3.0.7`` for a flagged version ('' otherwise): what the tables append to the version."""
    entry = outdated(name, version)
    return f" ⚠ < {entry.minimum}" if entry is not None else ""
