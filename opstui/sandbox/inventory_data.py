"""What the simulated SSM Agent's inventory gatherer reports: scenario data and the local machine's real data.

Pure data and generators (no moto): :mod:`opstui.sandbox.inventory` stores what these produce.

Scenario data is deterministic from the node's id (and the scenario seed through it): the same fleet always
reports the same packages. Realism, per distro family:

* rpm (Amazon Linux 2023 / 2, RHEL 9): ``Name``/``Version``/``Release``/``Epoch``/``Architecture``
  (x86_64, aarch64, noarch), ``Publisher`` (the rpm Vendor), ``ApplicationType`` (the rpm Group), ``PackageId``
  (the source rpm), ``URL``, ``Summary``, ``InstalledTime``;
* deb (Ubuntu 22.04 / 24.04): Version carries the Debian revision, Architecture amd64/arm64/all, Publisher is
  the Maintainer, ApplicationType the Section;
* Windows Server 2022: MSI-style names and publishers, plus AWS:WindowsUpdate hotfixes.

Version skew built in: some prod nodes run an outdated ``openssl`` (3.0.2 where the rest run 3.0.13; Ubuntu
22.04 ships 3.0.2 anyway), kernels and agents differ by node.

Entry dicts are SHARED between nodes (a fleet built from one AMI reports identical rows): a node's
``AWS:Application`` list is a list of references into a per-(family, arch) catalog, so 1,000 nodes x 500
applications cost 500,000 references, not 500,000 dicts. Treat every entry dict as immutable.

:func:`local_applications` / :func:`local_network` read the machine the sandbox runs on (dpkg-query, rpm, else
the Python distributions; ``ip -j addr``), once per process, for the scenario's "real" node.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import threading
from typing import Any

from .environment import clean_environment

Entry = dict[str, str]

FAMILY = {"al2023": "rpm", "al2": "rpm", "rhel9": "rpm", "ubuntu2204": "deb", "ubuntu2404": "deb",
          "win2022": "windows"}

OPENSSL_CURRENT = "3.0.13"
OPENSSL_OUTDATED = "3.0.2"

# (name, application type / section, summary, url). Versions come from _VERSIONS or are derived from the name.
_BASE: list[tuple[str, str, str, str]] = [
    ("bash", "System Environment/Shells", "The GNU Bourne Again shell", "https://www.gnu.org/software/bash"),
    ("coreutils", "System Environment/Base", "A set of basic GNU tools commonly used in shell scripts",
     "https://www.gnu.org/software/coreutils/"),
    ("glibc", "System Environment/Libraries", "The GNU libc libraries", "https://www.gnu.org/software/glibc/"),
    ("openssl", "System Environment/Libraries", "Utilities from the general purpose cryptography library with TLS "
     "implementation", "http://www.openssl.org/"),
    ("openssl-libs", "System Environment/Libraries", "A general purpose cryptography library with TLS "
     "implementation", "http://www.openssl.org/"),
    ("openssh-server", "System Environment/Daemons", "An open source SSH server daemon", "http://www.openssh.com/"),
    ("openssh-clients", "Applications/Internet", "An open source SSH client applications",
     "http://www.openssh.com/"),
    ("systemd", "System Environment/Base", "System and Service Manager", "https://systemd.io"),
    ("curl", "Applications/Internet", "A utility for getting files from remote servers (FTP, HTTP, and others)",
     "https://curl.se/"),
    ("libcurl", "System Environment/Libraries", "A library for getting files from web servers", "https://curl.se/"),
    ("python3", "Development/Languages", "Python 3 interpreter", "https://www.python.org/"),
    ("python3-libs", "Development/Libraries", "Python runtime libraries", "https://www.python.org/"),
    ("python3-pip", "Development/Libraries", "A tool for installing and managing Python3 packages",
     "https://pip.pypa.io/"),
    ("sudo", "Applications/System", "Allows restricted root access for specified users",
     "https://www.sudo.ws"),
    ("tzdata", "System Environment/Base", "Timezone data", "https://www.iana.org/time-zones"),
    ("ca-certificates", "System Environment/Base", "The Mozilla CA root certificate bundle",
     "https://fedoraproject.org/wiki/CA-Certificates"),
    ("chrony", "System Environment/Daemons", "An NTP client/server", "https://chrony-project.org"),
    ("cronie", "System Environment/Base", "Cron daemon for executing programs at set times",
     "https://github.com/cronie-crond/cronie"),
    ("rsyslog", "System Environment/Daemons", "Enhanced system logging and kernel message trapping daemon",
     "http://www.rsyslog.com/"),
    ("logrotate", "System Environment/Base", "Rotates, compresses, removes and mails system log files",
     "https://github.com/logrotate/logrotate"),
    ("git", "Development/Tools", "Fast Version Control System", "https://git-scm.com/"),
    ("vim-minimal", "Applications/Editors", "A minimal version of the VIM editor", "http://www.vim.org/"),
    ("less", "Applications/Text", "A text file browser similar to more, but better",
     "http://www.greenwoodsoftware.com/less/"),
    ("tar", "Applications/Archiving", "GNU file archiving program", "https://www.gnu.org/software/tar/"),
    ("gzip", "Applications/File", "The GNU data compression program", "https://www.gnu.org/software/gzip/"),
    ("xz", "Applications/File", "LZMA compression utilities", "https://tukaani.org/xz/"),
    ("zlib", "System Environment/Libraries", "Compression and decompression library", "https://www.zlib.net/"),
    ("zstd", "Applications/File", "Zstd compression library", "https://github.com/facebook/zstd"),
    ("sqlite-libs", "System Environment/Libraries", "Shared library for the sqlite3 embeddable SQL database engine",
     "http://www.sqlite.org/"),
    ("libxml2", "System Environment/Libraries", "Library providing XML and HTML support", "http://xmlsoft.org/"),
    ("pcre2", "System Environment/Libraries", "Perl-compatible regular expression library",
     "https://www.pcre.org/"),
    ("krb5-libs", "System Environment/Libraries", "The non-admin shared libraries used by Kerberos 5",
     "https://web.mit.edu/kerberos/www/"),
    ("gnupg2", "Applications/System", "Utility for secure communication and data storage",
     "https://www.gnupg.org/"),
    ("dbus", "System Environment/Libraries", "D-BUS message bus", "http://www.freedesktop.org/Software/dbus/"),
    ("util-linux", "System Environment/Base", "A collection of basic system utilities",
     "https://en.wikipedia.org/wiki/Util-linux"),
    ("procps-ng", "Applications/System", "System and process monitoring utilities",
     "https://sourceforge.net/projects/procps-ng/"),
    ("iproute", "Applications/System", "Advanced IP routing and network device configuration tools",
     "https://kernel.org/pub/linux/utils/net/iproute2/"),
    ("iptables-libs", "System Environment/Libraries", "iptables libraries", "http://www.netfilter.org/"),
    ("nss", "System Environment/Libraries", "Network Security Services", "http://www.mozilla.org/projects/security/"),
    ("shadow-utils", "System Environment/Base", "Utilities for managing accounts and shadow password files",
     "https://github.com/shadow-maint/shadow"),
    ("audit", "System Environment/Daemons", "User space tools for kernel auditing",
     "https://people.redhat.com/sgrubb/audit/"),
    ("selinux-policy", "System Environment/Base", "SELinux policy configuration",
     "https://github.com/fedora-selinux/selinux-policy"),
    ("e2fsprogs", "System Environment/Base", "Utilities for managing ext2, ext3, and ext4 file systems",
     "http://e2fsprogs.sourceforge.net/"),
    ("xfsprogs", "System Environment/Base", "Utilities for managing the XFS filesystem", "https://xfs.wiki.kernel.org"),
    ("lvm2", "System Environment/Base", "Userland logical volume management tools", "https://sourceware.org/lvm2"),
    ("cloud-init", "System Environment/Base", "Cloud instance init scripts", "https://launchpad.net/cloud-init"),
    ("ec2-utils", "System Environment/Base", "A set of tools for running in EC2",
     "https://github.com/amazonlinux/amazon-ec2-utils"),
    ("awscli-2", "Applications/System", "Universal Command Line Environment for AWS, version 2",
     "https://github.com/aws/aws-cli/tree/v2"),
    ("jq", "Applications/System", "Command-line JSON processor", "https://jqlang.github.io/jq/"),
    ("wget", "Applications/Internet", "A utility for retrieving files using the HTTP or FTP protocols",
     "https://www.gnu.org/software/wget/"),
    ("rsync", "Applications/Internet", "A program for synchronizing files over a network",
     "https://rsync.samba.org/"),
    ("bind-utils", "Applications/System", "Utilities for querying DNS name servers", "https://www.isc.org/downloads/bind/"),
    ("tcpdump", "Applications/Internet", "Command-line tool for monitoring network traffic",
     "http://www.tcpdump.org"),
    ("strace", "Development/Debuggers", "Tracks and displays system calls associated with a running process",
     "https://strace.io"),
    ("lsof", "Development/Debuggers", "A utility which lists open files on a Linux/UNIX system",
     "https://github.com/lsof-org/lsof"),
    ("htop", "Applications/System", "Interactive process viewer", "https://htop.dev/"),
    ("perl", "Development/Languages", "Practical Extraction and Report Language", "https://www.perl.org/"),
    ("libgcc", "System Environment/Libraries", "GCC version 11 shared support library", "http://gcc.gnu.org"),
    ("libstdc++", "System Environment/Libraries", "GNU Standard C++ Library", "http://gcc.gnu.org"),
    ("ncurses", "System Environment/Base", "Ncurses support utilities", "https://invisible-island.net/ncurses/"),
    ("readline", "System Environment/Libraries", "A library for editing typed command lines",
     "https://tiswww.case.edu/php/chet/readline/rltop.html"),
    ("file", "Applications/File", "A utility for determining file types", "https://www.darwinsys.com/file/"),
    ("findutils", "Applications/File", "The GNU versions of find utilities (find and xargs)",
     "https://www.gnu.org/software/findutils/"),
    ("grep", "Applications/Text", "Pattern matching utilities", "https://www.gnu.org/software/grep/"),
    ("sed", "Applications/Text", "A GNU stream text editor", "https://sed.sourceforge.io/"),
    ("gawk", "Applications/Text", "The GNU version of the AWK text processing utility",
     "https://www.gnu.org/software/gawk/"),
    ("which", "Applications/System", "Displays where a particular program in your path is located",
     "https://savannah.gnu.org/projects/which/"),
    ("hostname", "Applications/System", "Utility to set/show the host name or domain name",
     "https://packages.debian.org/sid/hostname"),
    ("kmod", "System Environment/Kernel", "Linux kernel module management utilities",
     "https://git.kernel.org/pub/scm/utils/kernel/kmod/kmod.git"),
    ("dracut", "System Environment/Base", "Initramfs generator using udev",
     "https://github.com/dracutdevs/dracut/wiki/"),
    ("grub2-common", "System Environment/Base", "grub2 common layout", "http://www.gnu.org/software/grub/"),
    ("firewalld", "System Environment/Base", "A firewall daemon with D-Bus interface", "http://www.firewalld.org"),
    ("NetworkManager", "System Environment/Base", "Network connection manager and user applications",
     "https://networkmanager.dev/"),
    ("polkit", "System Environment/Libraries", "An authorization framework",
     "https://www.freedesktop.org/wiki/Software/polkit"),
    ("libselinux", "System Environment/Libraries", "SELinux library and simple utilities",
     "https://github.com/SELinuxProject/selinux/wiki"),
    ("libsemanage", "System Environment/Libraries", "SELinux binary policy manipulation library",
     "https://github.com/SELinuxProject/selinux/wiki"),
    ("dnf", "System Environment/Base", "Package manager", "https://github.com/rpm-software-management/dnf"),
    ("rpm", "System Environment/Base", "The RPM package management system", "http://www.rpm.org/"),
    ("libuv", "System Environment/Libraries", "Platform layer for node.js", "http://libuv.org/"),
    ("expat", "System Environment/Libraries", "An XML parser library", "https://libexpat.github.io/"),
    ("libffi", "System Environment/Libraries", "A portable foreign function interface library",
     "http://sourceware.org/libffi"),
    ("elfutils-libs", "System Environment/Libraries", "Libraries to handle compiled objects",
     "http://elfutils.org/"),
    ("bzip2-libs", "System Environment/Libraries", "Libraries for applications using bzip2",
     "https://sourceware.org/bzip2/"),
    ("lz4-libs", "System Environment/Libraries", "Libaries for lz4", "https://lz4.github.io/lz4/"),
    ("libssh", "System Environment/Libraries", "A library implementing the SSH protocol", "http://www.libssh.org"),
    ("nghttp2", "System Environment/Libraries", "Experimental HTTP/2 client, server and proxy",
     "https://nghttp2.org/"),
    ("libidn2", "System Environment/Libraries", "Library to support IDNA2008 internationalized domain names",
     "https://www.gnu.org/software/libidn/#libidn2"),
    ("cyrus-sasl-lib", "System Environment/Libraries", "Shared libraries needed by applications which use "
     "Cyrus SASL", "https://www.cyrusimap.org/sasl/"),
    ("openldap", "System Environment/Libraries", "LDAP support libraries", "http://www.openldap.org/"),
    ("pam", "System Environment/Base", "An extensible library which provides authentication for applications",
     "http://www.linux-pam.org/"),
    ("passwd", "System Environment/Base", "An utility for setting or changing passwords using PAM",
     "https://pagure.io/passwd"),
    ("acl", "System Environment/Base", "Access control list utilities", "https://savannah.nongnu.org/projects/acl"),
    ("attr", "System Environment/Base", "Utilities for managing filesystem extended attributes",
     "https://savannah.nongnu.org/projects/attr"),
    ("keyutils-libs", "System Environment/Libraries", "Key utilities library", "http://people.redhat.com/~dhowells/keyutils/"),
    ("libcap", "System Environment/Libraries", "Library for getting and setting POSIX.1e capabilities",
     "https://sites.google.com/site/fullycapable/"),
    ("libseccomp", "System Environment/Libraries", "Enhanced seccomp library", "https://github.com/seccomp/libseccomp"),
    ("libsepol", "System Environment/Libraries", "SELinux binary policy manipulation library",
     "https://github.com/SELinuxProject/selinux/wiki"),
    ("mpfr", "System Environment/Libraries", "C library for multiple-precision floating-point computations",
     "http://www.mpfr.org/"),
    ("gmp", "System Environment/Libraries", "A GNU arbitrary precision library", "http://gmplib.org/"),
    ("json-c", "System Environment/Libraries", "JSON implementation in C", "https://github.com/json-c/json-c"),
    ("libyaml", "System Environment/Libraries", "YAML 1.1 parser and emitter written in C",
     "http://pyyaml.org/"),
    ("python3-setuptools", "Development/Languages", "Easily build and distribute Python 3 packages",
     "https://pypi.python.org/pypi/setuptools"),
    ("python3-requests", "Development/Languages", "HTTP library, written in Python, for human beings",
     "https://pypi.io/project/requests"),
    ("python3-urllib3", "Development/Languages", "Python3 HTTP library with thread-safe connection pooling",
     "https://github.com/urllib3/urllib3"),
    ("python3-pyyaml", "Development/Languages", "YAML parser and emitter for Python", "https://github.com/yaml/pyyaml"),
    ("python3-jinja2", "Development/Languages", "General purpose template engine", "https://palletsprojects.com/p/jinja/"),
    ("python3-botocore", "Development/Languages", "Low-level, data-driven core of boto 3",
     "https://github.com/boto/botocore"),
    ("amazon-ssm-agent", "Amazon/Tools", "Manage EC2 Instances using SSM APIs", "https://github.com/aws/amazon-ssm-agent"),
]

# role extras: (name, type, summary, url)
_ROLE_EXTRAS: dict[str, list[tuple[str, str, str, str]]] = {
    "web": [("nginx", "System Environment/Daemons", "A high performance web server and reverse proxy server",
             "https://nginx.org"),
            ("nginx-core", "System Environment/Daemons", "nginx minimal core", "https://nginx.org"),
            ("certbot", "Applications/System", "A free, automated certificate authority client",
             "https://certbot.eff.org")],
    "app": [("java-17-amazon-corretto-headless", "Development/Languages",
             "Amazon Corretto's packaging of the runtime core elements of OpenJDK 17 code",
             "https://github.com/corretto/corretto-17"),
            ("nodejs", "Development/Languages", "JavaScript runtime", "http://nodejs.org/"),
            ("redis6", "Applications/Databases", "A persistent key-value database", "http://redis.io")],
    "db": [("postgresql15-server", "Applications/Databases", "The programs needed to create and run a PostgreSQL "
            "server", "http://www.postgresql.org/"),
           ("postgresql15", "Applications/Databases", "PostgreSQL client programs", "http://www.postgresql.org/"),
           ("pgbouncer", "Applications/Databases", "Lightweight connection pooler for PostgreSQL",
            "https://www.pgbouncer.org/")],
    "batch": [("python3-pandas", "Development/Languages", "Python library providing high-performance data analysis "
               "tools", "https://pandas.pydata.org/"),
              ("python3-numpy", "Development/Languages", "A fast multidimensional array facility for Python",
               "https://numpy.org/"),
              ("awscli", "Applications/System", "Universal Command Line Environment for AWS",
               "https://aws.amazon.com/cli/")],
}

_VERSIONS: dict[str, str] = {
    "bash": "5.2.15", "coreutils": "8.32", "glibc": "2.34", "openssl": OPENSSL_CURRENT,
    "openssl-libs": OPENSSL_CURRENT, "openssh-server": "8.7p1", "openssh-clients": "8.7p1", "systemd": "252.23",
    "curl": "8.5.0", "libcurl": "8.5.0", "python3": "3.9.16", "python3-libs": "3.9.16", "python3-pip": "21.3.1",
    "sudo": "1.9.15", "tzdata": "2024a", "git": "2.40.1", "nginx": "1.24.0", "nginx-core": "1.24.0",
    "java-17-amazon-corretto-headless": "17.0.11+9", "nodejs": "18.20.2", "postgresql15-server": "15.6",
    "postgresql15": "15.6", "awscli-2": "2.15.30", "perl": "5.32.1", "zlib": "1.2.11", "xz": "5.2.5",
}

# synthetic but plausible names to pad a catalog to hundreds of packages (the bench's 500 applications a node)
_PREFIXES = ["lib", "python3-", "perl-", "golang-", "ruby-", "nodejs-", "texlive-", "php-"]
_STEMS = ["asn1", "attrs", "base64", "cairo", "certifi", "chardet", "click", "colorama", "cryptography", "dateutil",
          "docutils", "editor", "event", "fontconfig", "freetype", "gdbm", "glib", "gpgme", "graphite", "harfbuzz",
          "html5lib", "http-parser", "idna", "iniparse", "jansson", "jmespath", "jsonpointer", "jsonschema", "kerberos",
          "lxml", "markupsafe", "mock", "msgpack", "ndg-httpsclient", "netaddr", "oauthlib", "packaging", "pango",
          "paramiko", "pcap", "pexpect", "pillow", "ply", "psutil", "pyasn1", "pycparser", "pygments", "pyparsing",
          "pyserial", "pysocks", "pytz", "rsa", "s3transfer", "six", "snappy", "tiff", "toml", "tornado", "unbound",
          "uuid", "webencodings", "websocket", "wheel", "xmlsec", "xslt", "yaml-cpp", "zipp", "zope-interface",
          "bcrypt", "blinker", "cffi", "configobj", "decorator", "distro", "fasteners", "gevent", "greenlet",
          "isodate", "ldap3", "mako", "nacl", "pbr", "prettytable", "retrying", "simplejson", "tabulate", "wrapt"]

_WINDOWS_APPS: list[tuple[str, str, str]] = [
    ("Amazon SSM Agent", "Amazon Web Services", ""),
    ("AWS PV Drivers", "Amazon Web Services", "8.4.3"),
    ("Amazon Elastic Network Adapter Driver", "Amazon Web Services", "2.8.0"),
    ("AWS NVMe Driver", "Amazon Web Services", "1.5.1"),
    ("aws-cfn-bootstrap", "Amazon Web Services", "2.0.29"),
    ("AWS Command Line Interface v2", "Amazon Web Services", "2.15.30.0"),
    ("Amazon CloudWatch Agent", "Amazon.com, Inc.", "1.300057.1"),
    ("EC2Launch v2", "Amazon Web Services", "2.0.1815"),
    ("Microsoft Edge", "Microsoft Corporation", "124.0.2478.80"),
    ("Microsoft Edge Update", "Microsoft Corporation", "1.3.185.29"),
    ("Microsoft Visual C++ 2015-2022 Redistributable (x64) - 14.38.33135", "Microsoft Corporation", "14.38.33135.0"),
    ("Microsoft Visual C++ 2022 X64 Minimum Runtime - 14.38.33135", "Microsoft Corporation", "14.38.33135"),
    ("Microsoft Visual C++ 2022 X64 Additional Runtime - 14.38.33135", "Microsoft Corporation", "14.38.33135"),
    ("Microsoft .NET Runtime - 6.0.29 (x64)", "Microsoft Corporation", "48.117.30307"),
    ("Microsoft Windows Desktop Runtime - 6.0.29 (x64)", "Microsoft Corporation", "48.117.30399"),
    ("PowerShell 7-x64", "Microsoft Corporation", "7.4.2.0"),
    ("Windows PowerShell Desired State Configuration", "Microsoft Corporation", "5.1.0.0"),
    ("Active Directory Domain Services", "Microsoft Corporation", "10.0.20348.1"),
    ("DNS Server", "Microsoft Corporation", "10.0.20348.1"),
    ("Group Policy Management Console", "Microsoft Corporation", "10.0.20348.1"),
    ("7-Zip 23.01 (x64)", "Igor Pavlov", "23.01"),
    ("Notepad++ (64-bit x64)", "Notepad++ Team", "8.6.5"),
    ("Git", "The Git Development Community", "2.44.0"),
    ("Google Chrome", "Google LLC", "124.0.6367.119"),
    ("Mozilla Firefox (x64 en-US)", "Mozilla", "125.0.3"),
    ("OpenSSL 3.0.13 Light (64-bit)", "OpenSSL Win64 Installer Team", OPENSSL_CURRENT),
    ("Python 3.11.9 (64-bit)", "Python Software Foundation", "3.11.9150.0"),
    ("Sysinternals Suite", "Microsoft Corporation", "2024.2.13"),
    ("Windows Admin Center", "Microsoft Corporation", "1.5.2306.14001"),
    ("Microsoft Monitoring Agent", "Microsoft Corporation", "10.20.18069.0"),
]
_WINDOWS_UPDATES = [("KB5034439", "Security Update"), ("KB5035857", "Security Update"), ("KB5036909", "Update"),
                    ("KB5037422", "Security Update"), ("KB5034232", "Update"), ("KB5012170", "Security Update"),
                    ("KB5035970", "Update"), ("KB5037930", "Security Update"), ("KB5028951", "Update"),
                    ("KB5036617", "Update")]

_VENDOR = {"al2023": "Amazon Linux", "al2": "Amazon Linux", "rhel9": "Red Hat, Inc."}
_RELEASE = {"al2023": "1.amzn2023.0.{n}", "al2": "1.amzn2.0.{n}", "rhel9": "{n}.el9_4"}
_DEB_REV = {"ubuntu2204": "0ubuntu1.{n}", "ubuntu2404": "1ubuntu0.{n}"}
_DEB_PUBLISHER = "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"
_DEB_SECTIONS = ["admin", "libs", "utils", "net", "python", "perl", "devel", "web", "database", "shells"]
_IMAGE_BUILT = {"al2023": dt.datetime(2024, 5, 2, 3, 11, tzinfo=dt.UTC),
                "al2": dt.datetime(2024, 4, 18, 22, 40, tzinfo=dt.UTC),
                "rhel9": dt.datetime(2024, 5, 9, 14, 2, tzinfo=dt.UTC),
                "ubuntu2204": dt.datetime(2024, 4, 25, 8, 30, tzinfo=dt.UTC),
                "ubuntu2404": dt.datetime(2024, 5, 14, 9, 5, tzinfo=dt.UTC),
                "win2022": dt.datetime(2024, 5, 15, 1, 0, tzinfo=dt.UTC)}


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def _derived_version(name: str) -> str:
    h = _h("ver", name)
    return f"{1 + h % 4}.{(h >> 8) % 30}.{(h >> 16) % 20}"


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Catalog:
    """Shared, immutable entry dicts per (distro, arch), built on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str, str, str], Entry] = {}
        self._names: dict[str, list[tuple[str, str, str, str]]] = {}

    def names(self, distro: str, count: int) -> list[tuple[str, str, str, str]]:
        """The first ``count`` package rows of a distro's catalog (base list, then padding)."""
        rows = self._names.get(distro)
        if rows is None or len(rows) < count:
            rows = list(_BASE)
            if distro in ("al2023", "rhel9"):
                rows = [r for r in rows if r[0] not in ("awscli",)]
            seen = {r[0] for r in rows}
            # stems x prefixes give ~800 names; the -devel/-libs/... split packages extend it past 2,000
            # (the bench browses a node with 2,000 entries)
            for suffix in ("", "-devel", "-libs", "-doc", "-common", "-tools"):
                for stem in _STEMS:
                    for prefix in _PREFIXES:
                        name = f"{prefix}{stem}{suffix}"
                        if name not in seen:
                            seen.add(name)
                            rows.append((name, "System Environment/Libraries" if prefix == "lib" else
                                         "Development/Languages",
                                         f"{stem} support for {prefix.rstrip('-') or 'C'}{suffix.replace('-', ' ')}",
                                         ""))
                    if len(rows) >= max(count, 800):
                        break
                if len(rows) >= max(count, 800):
                    break
            self._names[distro] = rows
        return rows[:count]

    def entry(self, distro: str, arch: str, row: tuple[str, str, str, str], version: str | None = None) -> Entry:
        name = row[0]
        version = version or _VERSIONS.get(name) or _derived_version(name)
        key = (distro, arch, name, version)
        found = self._entries.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                found = _make_entry(distro, arch, row, version)
                self._entries[key] = found
        return found


def _make_entry(distro: str, arch: str, row: tuple[str, str, str, str], version: str) -> Entry:
    name, group, summary, url = row
    n = 1 + _h("rel", distro, name, version) % 12
    installed = _IMAGE_BUILT[distro] + dt.timedelta(seconds=_h("t", distro, name) % 900)
    if version != (_VERSIONS.get(name) or _derived_version(name)):
        installed += dt.timedelta(days=40 + _h("upd", name, version) % 50)
    noarch = name.startswith(("python3-", "perl-", "texlive-", "tzdata", "ca-certificates", "ruby-", "php-"))
    if FAMILY[distro] == "rpm":
        release = _RELEASE[distro].format(n=n)
        rpm_arch = "noarch" if noarch else ("aarch64" if arch == "arm64" else "x86_64")
        return {"Name": name, "Version": version, "Release": release, "Epoch": "1" if name.startswith("openssl")
                else "", "Architecture": rpm_arch, "Publisher": _VENDOR[distro], "ApplicationType": group,
                "URL": url, "Summary": summary, "PackageId": f"{name}-{version}-{release}.src.rpm",
                "InstalledTime": _iso(installed)}
    deb_arch = "all" if noarch else ("arm64" if arch == "arm64" else "amd64")
    deb_name = {"openssl-libs": "libssl3", "openssh-clients": "openssh-client", "procps-ng": "procps",
                "python3-libs": "libpython3-stdlib", "vim-minimal": "vim-tiny", "cronie": "cron"}.get(name, name)
    full = f"{version}-{_DEB_REV[distro].format(n=n)}"
    return {"Name": deb_name, "Version": full, "Architecture": deb_arch, "Publisher": _DEB_PUBLISHER,
            "ApplicationType": _DEB_SECTIONS[_h("sec", name) % len(_DEB_SECTIONS)], "URL": url, "Summary": summary,
            "PackageId": f"{deb_name}_{full}_{deb_arch}.deb", "InstalledTime": _iso(installed)}


CATALOG = _Catalog()


def _windows_entry(name: str, publisher: str, version: str) -> Entry:
    key = ("win2022", "x86_64", name, version)
    found = CATALOG._entries.get(key)
    if found is None:
        installed = _IMAGE_BUILT["win2022"] + dt.timedelta(minutes=_h("w", name) % 600)
        found = {"Name": name, "Version": version, "Publisher": publisher, "Architecture": "x86_64",
                 "ApplicationType": "", "URL": "", "Summary": "", "PackageId": "", "InstalledTime": _iso(installed)}
        CATALOG._entries[key] = found
    return found


def applications(instance_id: str, distro: str, arch: str, role: str, agent_version: str, *,
                 outdated_openssl: bool, count: int | None = None) -> list[Entry]:
    """A node's AWS:Application rows: the distro's base packages (a few dozen to ~200 by node), role extras,
    and skew (openssl, kernel); ``count`` forces exactly that many rows (the bench's fleets)."""
    if FAMILY[distro] == "windows":
        rows = [_windows_entry(n, p, v or agent_version) for n, p, v in _WINDOWS_APPS]
        if count is not None:
            rows = (rows + [_windows_entry(f"{prefix}{stem}", "Open Source", _derived_version(prefix + stem))
                            for stem in _STEMS for prefix in _PREFIXES])[:count]
        return rows
    if count is None:
        size = 60 + _h("n", instance_id) % 140  # 60-199 packages
        size = min(size, len(_BASE) + len(_STEMS) * len(_PREFIXES))
    else:
        size = count
    base = CATALOG.names(distro, max(size, len(_BASE)))
    chosen = list(base[: len(_BASE)])
    chosen += list(base[len(_BASE):size]) if size > len(_BASE) else []
    if count is None:
        chosen += _ROLE_EXTRAS.get(role, [])
    entries: list[Entry] = []
    kernel_versions = ["6.1.90", "6.1.94", "6.1.102"] if distro == "al2023" else ["5.10.215", "5.10.217", "5.14.0"]
    for row in chosen:
        name = row[0]
        if name in ("openssl", "openssl-libs"):
            version = OPENSSL_OUTDATED if outdated_openssl or distro == "ubuntu2204" else OPENSSL_CURRENT
            entries.append(CATALOG.entry(distro, arch, row, version))
        elif name == "amazon-ssm-agent":
            entries.append(CATALOG.entry(distro, arch, row, agent_version))
        elif name == "python3" and distro == "ubuntu2404":
            entries.append(CATALOG.entry(distro, arch, row, "3.12.3"))
        else:
            entries.append(CATALOG.entry(distro, arch, row))
    kernel = ("kernel", "System Environment/Kernel", "The Linux kernel", "https://www.kernel.org/")
    if FAMILY[distro] == "deb":
        kernel = ("linux-image-aws", "kernel", "Linux kernel image for Amazon Web Services (AWS) systems",
                  "https://kernel.ubuntu.com/")
    entries.append(CATALOG.entry(distro, arch, kernel, kernel_versions[_h("k", instance_id) % len(kernel_versions)]))
    if count is not None:
        entries = entries[:count]
    return entries


# ----------------------------------------------------------------------------------------------------------
# the other types

_CPU = {"m6i": ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "2900", True),
        "c6i": ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "2900", True),
        "r6i": ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "2900", True),
        "t3": ("Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", "2500", True),
        "r6g": ("Neoverse-N1", "2500", False), "m7g": ("Neoverse-V1", "2600", False),
        "t4g": ("Neoverse-N1", "2500", False)}
_VCPUS = {"small": 2, "medium": 2, "large": 2, "xlarge": 4, "2xlarge": 8}


def detailed_information(instance_type: str, windows: bool) -> Entry:
    family, _, size = instance_type.partition(".")
    model, mhz, ht = _CPU.get(family, ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "2300", True))
    cpus = _VCPUS.get(size, 2)
    cores = cpus // 2 if ht else cpus
    return {"CPUModel": model, "CPUs": str(cpus), "CPUSpeedMHz": mhz, "CPUSockets": "1", "CPUCores": str(cores),
            "CPUHyperThreadEnabled": "true" if ht else "false", "OSServicePack": "0" if windows else ""}


def network(ip: str, instance_id: str, windows: bool, hybrid: bool) -> list[Entry]:
    h = _h("mac", instance_id)
    mac = "0" + "2:" + ":".join(f"{(h >> (8 * i)) & 0xFF:02x}" for i in range(5))
    octets = ip.split(".")
    gateway = f"{octets[0]}.{octets[1]}.{int(octets[2]) & ~31}.1" if not hybrid else f"{'.'.join(octets[:3])}.1"
    dns = f"{octets[0]}.{octets[1]}.0.2" if not hybrid else "192.168.0.53"
    name = "Amazon Elastic Network Adapter" if windows else ("eth0" if hybrid else "ens5")
    ipv6 = f"fe80::{h & 0xFFFF:x}:{(h >> 16) & 0xFFFF:x}:{(h >> 32) & 0xFFFF:x}:{(h >> 48) & 0xFFFF:x}"
    rows = [{"Name": name, "SubnetMask": "255.255.224.0" if not hybrid else "255.255.255.0", "Gateway": gateway,
             "DHCPServer": gateway, "DNSServer": dns, "MacAddress": mac.upper() if windows else mac, "IPV4": ip,
             "IPV6": ipv6}]
    if not windows:
        rows.append({"Name": "lo", "SubnetMask": "255.0.0.0", "Gateway": "", "DHCPServer": "", "DNSServer": "",
                     "MacAddress": "", "IPV4": "127.0.0.1", "IPV6": "::1"})
    return rows


_LINUX_SERVICES = [("sshd", "OpenSSH server daemon"), ("amazon-ssm-agent", "amazon-ssm-agent"),
                   ("chronyd", "NTP client/server"), ("crond", "Command Scheduler"),
                   ("rsyslog", "System Logging Service"), ("systemd-journald", "Journal Service"),
                   ("systemd-logind", "User Login Management"), ("systemd-resolved", "Network Name Resolution"),
                   ("dbus-broker", "D-Bus System Message Bus"), ("auditd", "Security Auditing Service"),
                   ("cloud-init", "Initial cloud-init job (metadata service crawler)"),
                   ("getty@tty1", "Getty on tty1")]
_ROLE_SERVICES = {"web": [("nginx", "The nginx HTTP and reverse proxy server")],
                  "app": [("checkout-api", "Checkout API service"), ("redis6", "Redis persistent key-value database")],
                  "db": [("postgresql", "PostgreSQL database server"), ("pgbouncer", "A lightweight connection pooler "
                                                                           "for PostgreSQL")],
                  "batch": [("nightly-etl.timer", "Nightly ETL timer")]}
_WINDOWS_SERVICES = [("AmazonSSMAgent", "Amazon SSM Agent", "Running", "Automatic"),
                     ("AmazonCloudWatchAgent", "Amazon CloudWatch Agent", "Running", "Automatic"),
                     ("EC2Launch", "Amazon EC2Launch", "Stopped", "Manual"),
                     ("W32Time", "Windows Time", "Running", "Automatic"),
                     ("WinRM", "Windows Remote Management (WS-Management)", "Running", "Automatic"),
                     ("Dnscache", "DNS Client", "Running", "Automatic"),
                     ("EventLog", "Windows Event Log", "Running", "Automatic"),
                     ("LanmanServer", "Server", "Running", "Automatic"),
                     ("LanmanWorkstation", "Workstation", "Running", "Automatic"),
                     ("NTDS", "Active Directory Domain Services", "Running", "Automatic"),
                     ("DNS", "DNS Server", "Running", "Automatic"),
                     ("Netlogon", "Netlogon", "Running", "Automatic"),
                     ("wuauserv", "Windows Update", "Stopped", "Manual"),
                     ("Spooler", "Print Spooler", "Stopped", "Disabled"),
                     ("TermService", "Remote Desktop Services", "Running", "Manual"),
                     ("Schedule", "Task Scheduler", "Running", "Automatic"),
                     ("RpcSs", "Remote Procedure Call (RPC)", "Running", "Automatic"),
                     ("MpsSvc", "Windows Defender Firewall", "Running", "Automatic")]


def services(role: str, windows: bool) -> list[Entry]:
    if windows:
        return [{"Name": n, "DisplayName": d, "ServiceType": "Win32OwnProcess", "Status": s, "StartType": t,
                 "DependentServices": "", "ServicesDependedOn": "RpcSs" if n != "RpcSs" else ""}
                for n, d, s, t in _WINDOWS_SERVICES]
    return [{"Name": n, "DisplayName": d, "ServiceType": "", "Status": "Running", "StartType": "Automatic",
             "DependentServices": "", "ServicesDependedOn": ""}
            for n, d in _LINUX_SERVICES + _ROLE_SERVICES.get(role, [])]


def windows_updates() -> list[Entry]:
    base = dt.datetime(2024, 1, 10, tzinfo=dt.UTC)
    return [{"HotFixId": kb, "Description": desc, "InstalledTime": _iso(base + dt.timedelta(days=12 * i)),
             "InstalledBy": "NT AUTHORITY\\SYSTEM"} for i, (kb, desc) in enumerate(_WINDOWS_UPDATES)]


# ----------------------------------------------------------------------------------------------------------
# the machine the sandbox runs on

_local_lock = threading.Lock()
_local_apps: list[Entry] | None = None
_local_net: list[Entry] | None = None
_local_cpu: Entry | None = None


def _run(argv: list[str], timeout: float = 20.0) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                              env={**clean_environment(), "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _epoch_iso(value: str) -> str:
    try:
        return _iso(dt.datetime.fromtimestamp(int(value), dt.UTC))
    except (ValueError, OverflowError, OSError):
        return ""


def _dpkg() -> list[Entry] | None:
    fmt = ("${Package}\\t${Version}\\t${Architecture}\\t${Maintainer}\\t${Section}\\t${Homepage}\\t"
           "${binary:Summary}\\t${db-fsys:Last-Modified}\\t${db:Status-Abbrev}\\n")
    out = _run(["dpkg-query", "-W", "-f", fmt])
    if out is None:
        return None
    rows: list[Entry] = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 9 or not parts[8].startswith("ii"):
            continue
        name, version, arch, maint, section, url, summary, modified, _ = parts[:9]
        rows.append({"Name": name, "Version": version, "Architecture": arch, "Publisher": maint,
                     "ApplicationType": section, "URL": url, "Summary": summary,
                     "PackageId": f"{name}_{version}_{arch}.deb", "InstalledTime": _epoch_iso(modified)})
    return rows


def _rpm() -> list[Entry] | None:
    fmt = ("%{NAME}\\t%{VERSION}\\t%{RELEASE}\\t%{EPOCH}\\t%{ARCH}\\t%{VENDOR}\\t%{GROUP}\\t%{URL}\\t%{SUMMARY}\\t"
           "%{SOURCERPM}\\t%{INSTALLTIME}\\n")
    out = _run(["rpm", "-qa", "--queryformat", fmt])
    if out is None:
        return None
    rows: list[Entry] = []
    for line in out.splitlines():
        parts = [("" if p == "(none)" else p) for p in line.split("\t")]
        if len(parts) < 11:
            continue
        name, version, release, epoch, arch, vendor, group, url, summary, srpm, installed = parts[:11]
        rows.append({"Name": name, "Version": version, "Release": release, "Epoch": epoch, "Architecture": arch,
                     "Publisher": vendor, "ApplicationType": group, "URL": url, "Summary": summary,
                     "PackageId": srpm, "InstalledTime": _epoch_iso(installed)})
    return rows


def _python_distributions() -> list[Entry]:
    rows: list[Entry] = []
    seen: set[str] = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name") or ""
        if not name or name.lower() in seen:
            continue
        seen.add(name.lower())
        rows.append({"Name": name, "Version": dist.version or "", "Architecture": "all",
                     "Publisher": dist.metadata.get("Author") or "", "ApplicationType": "Python package",
                     "URL": dist.metadata.get("Home-page") or "", "Summary": dist.metadata.get("Summary") or "",
                     "PackageId": "", "InstalledTime": ""})
    return rows


def local_platform() -> tuple[str, str]:
    """(PlatformName, PlatformVersion) of the machine the sandbox runs on, as the SSM Agent reads a Linux
    host's: ``NAME`` and ``VERSION_ID`` of ``/etc/os-release`` (e.g. "Debian GNU/Linux", "12"); elsewhere the
    system's name and release. The scenario node that reports this machine's packages claims this platform,
    so its inventory is honest: Debian packages from a node that says Debian, not Amazon Linux 2023."""
    fields: dict[str, str] = {}
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    key, sep, value = line.strip().partition("=")
                    if sep:
                        fields[key] = value.strip().strip('"').strip("'")
            break
        except OSError:
            continue
    if fields.get("NAME"):
        return fields["NAME"], fields.get("VERSION_ID", "")
    return platform.system() or "Linux", platform.release()


def local_applications() -> list[Entry]:
    """The real packages of this machine: dpkg-query, else rpm -qa, else the Python distributions
    (what ``pip list`` shows). Read once per process (~0.1 s for dpkg)."""
    global _local_apps
    with _local_lock:
        if _local_apps is None:
            rows = _dpkg() or _rpm() or _python_distributions()
            rows.sort(key=lambda r: r["Name"])
            _local_apps = rows
        return _local_apps


def local_network() -> list[Entry]:
    """The real interfaces (``ip -j addr``), else just the loopback."""
    global _local_net
    with _local_lock:
        if _local_net is not None:
            return _local_net
        rows: list[Entry] = []
        out = _run(["ip", "-j", "addr"], timeout=5)
        data: list[dict[str, Any]] = []
        if out:
            try:
                data = json.loads(out)
            except json.JSONDecodeError:
                data = []
        for iface in data:
            v4 = [a for a in iface.get("addr_info") or [] if a.get("family") == "inet"]
            v6 = [a for a in iface.get("addr_info") or [] if a.get("family") == "inet6"]
            mask = ""
            if v4:
                bits = int(v4[0].get("prefixlen") or 0)
                value = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
                mask = ".".join(str((value >> s) & 0xFF) for s in (24, 16, 8, 0))
            rows.append({"Name": str(iface.get("ifname") or ""), "SubnetMask": mask, "Gateway": "",
                         "DHCPServer": "", "DNSServer": "", "MacAddress": str(iface.get("address") or ""),
                         "IPV4": ",".join(str(a.get("local")) for a in v4),
                         "IPV6": ",".join(str(a.get("local")) for a in v6)})
        if not rows:
            rows = [{"Name": "lo", "SubnetMask": "255.0.0.0", "Gateway": "", "DHCPServer": "", "DNSServer": "",
                     "MacAddress": "", "IPV4": "127.0.0.1", "IPV6": "::1"}]
        _local_net = rows
        return rows


def local_detailed_information() -> Entry:
    """CPU model/count of this machine (from /proc/cpuinfo when there is one)."""
    global _local_cpu
    if _local_cpu is not None:
        return _local_cpu
    model, mhz = platform.processor() or platform.machine(), ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and value.strip():
                    model = value.strip()
                elif key == "cpu MHz" and not mhz:
                    mhz = str(int(float(value.strip() or 0)))
    except OSError:
        pass
    cpus = os.cpu_count() or 1
    _local_cpu = {"CPUModel": model, "CPUs": str(cpus), "CPUSpeedMHz": mhz, "CPUSockets": "1",
                  "CPUCores": str(cpus), "CPUHyperThreadEnabled": "false", "OSServicePack": ""}
    return _local_cpu
