"""Grouping identical outputs, largest first, and the diff against the largest group."""

import hashlib

from opstui.runs.grouping import NodeResult, diff_groups, group_results


def result(name: str, stdout: str, code: int | None = 0, outcome: str = "Success") -> NodeResult:
    return NodeResult(f"r/{name}", name, outcome, code, stdout, hashlib.sha1(stdout.encode()).hexdigest())


def test_998_identical_and_2_odd_outputs_read_as_two_blocks():
    results = [result(f"web-{i:04d}", "ok\n") for i in range(998)]
    results += [result("web-0998", "disk full\n", 1, "Failed"), result("web-0999", "disk full\n", 1, "Failed")]
    groups = group_results(results)
    assert [g.size for g in groups] == [998, 2]
    assert groups[0].label == "web-[0000-0997]"
    assert groups[1].label == "web-[0998-0999]"
    assert groups[1].exit_code == 1


def test_same_output_with_a_different_exit_code_is_a_different_group():
    groups = group_results([result("a-1", "x"), result("a-2", "x", 2, "Failed")])
    assert len(groups) == 2


def test_nodes_that_never_ran_group_apart_from_silent_successes():
    groups = group_results([result("a-1", ""), result("a-2", "", None, "DeliveryTimedOut")])
    assert {g.outcome for g in groups} == {"Success", "DeliveryTimedOut"}


def test_diff_shows_changed_lines_against_the_largest_group():
    base = group_results([result("a-1", "v1\ncommon\n"), result("a-2", "v1\ncommon\n")])[0]
    other = group_results([result("b-1", "v2\ncommon\n")])[0]
    lines = diff_groups(base, other)
    assert "-v1" in lines and "+v2" in lines
    assert lines[0].startswith("--- a-[1-2] (2)")
