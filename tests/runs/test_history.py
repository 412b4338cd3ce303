"""Past commands put together again as runs: one run per request sent at once, whatever the number of regions
and 50-id chunks; two sends of the same request stay two runs. Pure: summaries built as ListCommands returns
them (`command_from_api`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opstui.aws.ssm import command_from_api
from opstui.runs.history import group_runs

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def command(cid: str, region: str, at: float, ids: tuple[str, ...] = (), *, status: str = "Success",
            commands: str = "uptime", comment: str = "", targets: int = 1, errors: int = 0):
    return command_from_api({
        "CommandId": cid, "DocumentName": "AWS-RunShellScript", "Comment": comment, "Status": status,
        "RequestedDateTime": T0 + timedelta(seconds=at), "TargetCount": targets, "CompletedCount": targets,
        "ErrorCount": errors, "InstanceIds": list(ids), "Parameters": {"commands": [commands]},
        "MaxConcurrency": "50", "MaxErrors": "0",
    }, region)


def test_a_run_to_two_regions_and_several_chunks_is_one_row():
    cmds = [command("a", "ap-northeast-1", 0.0, ("i-1",), targets=50),
            command("b", "ap-northeast-1", 0.4, ("i-2",), targets=20, status="Failed", errors=3),
            command("c", "ap-northeast-3", 0.9, ("i-3",), targets=5)]
    runs = group_runs(cmds)
    assert len(runs) == 1
    run = runs[0]
    assert run.command_ids == ("a", "b", "c") and run.regions == ("ap-northeast-1", "ap-northeast-3")
    assert (run.target_count, run.completed_count, run.error_count) == (75, 75, 3)
    assert run.status == "Failed" and run.requested == T0


def test_the_same_request_sent_twice_is_two_runs_and_other_requests_stay_apart():
    cmds = [command("a", "ap-northeast-1", 0.0, ("i-1",)),
            command("b", "ap-northeast-1", 5.0, ("i-1",)),  # the same again: a second run
            command("c", "ap-northeast-3", 1.0, ("i-3",), commands="df -h"),  # another request
            command("d", "ap-northeast-3", 600.0, ("i-3",))]  # ten minutes later
    runs = group_runs(cmds)
    assert [r.command_ids for r in runs] == [("d",), ("b",), ("c",), ("a",)]  # newest first


def test_a_run_still_going_reads_in_progress():
    runs = group_runs([command("a", "ap-northeast-1", 0.0, ("i-1",)),
                       command("b", "ap-northeast-3", 0.5, ("i-2",), status="InProgress")])
    assert len(runs) == 1 and runs[0].status == "InProgress"
