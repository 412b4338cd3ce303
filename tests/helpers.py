"""Helpers shared by test modules (no test module imports another test module)."""

from __future__ import annotations

from opstui.aws.clients import StaticCredentials

#: for clients whose calls never reach a sandbox (a closed port, an unknown region refused before sending)
UNUSED_CREDS = StaticCredentials("AKIAUNUSEDUNUSED2345", "never-sent-never-sent-never-sent-0000000")
