"""Read-only mode end to end, the second half of the walk (see test_read_only_sweep.py): every command of
every tab after Monitoring (Backup, Logs, and any tab added later), every confirmation answered
"yes", and not one mutating call reaches the sandbox."""

from __future__ import annotations

import pytest

from tests.read_only_walk import walk_read_only
from tests.sweep import FIRST_HALF, SECOND_HALF, TAB_COMMANDS


def test_the_two_halves_walk_every_tab():
    assert set(FIRST_HALF) | set(SECOND_HALF) == set(TAB_COMMANDS) and not set(FIRST_HALF) & set(SECOND_HALF)


@pytest.mark.timeout(240)
async def test_every_command_of_the_other_tabs_in_read_only_mode_sends_no_mutating_call(sandbox):
    await walk_read_only(sandbox, SECOND_HALF, extras=False)
