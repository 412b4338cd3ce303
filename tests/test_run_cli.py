"""`opstui run`: targeting and confirmation like the tab, progress on stderr, grouped output on stdout."""

import io
import json
import os
import subprocess
import sys

import pytest

from opstui.run_cli import main
from tests.helpers import interrupt_when

R1 = "ap-northeast-1"


@pytest.fixture(autouse=True)
def _creds(monkeypatch, sandbox):
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OPSTUI_CONFIG", os.devnull)


def run(sandbox, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--endpoint-url", sandbox.endpoint, "--region", R1, *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_grouped_output_on_stdout_and_exit_zero(sandbox):
    code, out, err = run(sandbox, "--targets", "tag:Role=db", "--yes", "--", "echo", "hello")
    assert code == 0, err
    assert "hello" in out and out.startswith("=== ")
    assert "nodes in ap-northeast-1" in err and "sent ap-northeast-1" in err


def test_a_failing_node_makes_the_exit_code_one_and_json_says_why(sandbox):
    code, out, err = run(sandbox, "--targets", "tag:Role=db", "--yes", "--json", "--", "echo oops >&2; exit 4")
    assert code == 1, err
    doc = json.loads(out)
    assert {n["exit_code"] for n in doc["nodes"] if n["status"] != "Cancelled"} >= {4}
    assert any("oops" in n["stderr"] for n in doc["nodes"])


@pytest.mark.parametrize(("args", "message"), [
    (["--targets", "tag:Role=db", "--yes", "--", " "], "empty command"),
    (["--targets", "", "--yes", "--", "true"], "no targets"),
    (["--targets", "tag:Role=nope", "--yes", "--", "true"], "matches no managed node"),
    (["--targets", "i-0000000000000dead", "--yes", "--", "true"], "unknown instance id i-0000000000000dead"),
    (["--targets", "tag:Role=db", "--max-errors", "lots", "--yes", "--", "true"], "max errors"),
])
def test_bad_input_is_a_clear_message_and_exit_two(sandbox, args, message):
    code, out, err = run(sandbox, *args)
    assert code == 2 and message in err and out == ""


def test_unknown_document_is_refused_by_the_service_with_its_name(sandbox):
    code, _, err = run(sandbox, "--targets", "tag:Role=db", "--document", "No-Such-Doc", "--yes", "--", "true")
    assert code == 3 and "No-Such-Doc" in err


def test_read_only_refuses_and_sends_nothing(sandbox):
    code, out, err = run(sandbox, "--read-only", "--targets", "tag:Role=db", "--yes", "--", "true")
    assert code == 3 and "read-only" in err and out == ""


def test_without_yes_and_without_a_terminal_nothing_is_sent(sandbox):
    code, _, err = run(sandbox, "--targets", "tag:Role=db", "--", "true")
    assert code == 2 and "pass --yes" in err


def test_the_console_script_end_to_end(sandbox):
    env = {**os.environ, **sandbox.env(), "OPSTUI_CONFIG": os.devnull}
    proc = subprocess.run(
        [sys.executable, "-m", "opstui", "run", "--endpoint-url", sandbox.endpoint, "--region", R1,
         "--targets", "tag:Role=db", "--yes", "--", "printf '\\033[31mred\\033[0m\\n'"],
        capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[31mred" in proc.stdout  # a pipe gets the bytes as printed; a terminal would see ␛


class TerminalOut(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_written_to_a_terminal_has_no_c1_or_bidi_controls(sandbox):
    out, err = TerminalOut(), io.StringIO()
    code = main(["--endpoint-url", sandbox.endpoint, "--region", R1, "--targets", "tag:Role=db", "--yes", "--json",
                 "--", r"printf '\302\233 31mred \342\200\256txet\n'"], out=out, err=err)
    assert code == 0, err.getvalue()
    text = out.getvalue()
    assert "\x9b" not in text and "\u202e" not in text
    assert all("red" in n["stdout"] for n in json.loads(text)["nodes"])  # still valid JSON


def test_tag_target_counts_hybrid_nodes_as_send_command_targets_them(sandbox):
    """tag:Role=batch in the primary region has a hybrid mi- node: the blast radius counts it (its tags come
    from ListTagsForResource) and equals the TargetCount SendCommand reports."""
    code, out, err = run(sandbox, "--targets", "tag:Role=batch", "--yes", "--json", "--", "echo hi")
    assert code == 0, err
    doc = json.loads(out)
    ran = {n["instance_id"] for n in doc["nodes"]}
    assert "mi-0123456789abcdef0" in ran
    assert f"{len(ran)} nodes in ap-northeast-1" in err and "onprem-backup-01" in err


def test_a_windows_node_in_a_tag_target_is_left_out_with_the_tabs_line(sandbox):
    """tag:Role=app has prod-win-ad-01: a shell script leaves it out (said before sending, in the words of
    the tab's confirmation), it is never run and it does not make the run fail."""
    from opstui.runs.targets import left_out_line

    code, out, err = run(sandbox, "--targets", "tag:Role=app", "--yes", "--json", "--", "echo hi")
    doc = json.loads(out)
    win = next(n for n in doc["nodes"] if n["name"] == "prod-win-ad-01")
    assert win["status_details"] == "InvalidPlatform"
    others = [n for n in doc["nodes"] if n is not win]
    assert f"{len(others)} nodes in ap-northeast-1" in err
    # exit 1 only for the stopped stg-app-02 (Undeliverable), not for the Windows node left out
    assert code == 1 and {n["name"] for n in others if n["status"] != "Success"} == {"stg-app-02"}
    assert "1 left out (the document does not run on their platform): prod-win-ad-01" in err
    assert left_out_line([type("N", (), {"name": "prod-win-ad-01", "instance_id": "i-x"})()]) in err


def test_waiting_names_the_delayed_node_and_ctrl_c_cancels_and_prints_what_finished(sandbox):
    """tag:Role=web has prod-web-03, whose agent is ConnectionLost: the run says it waits for it and why;
    ctrl+c cancels the command (CancelCommand), prints the outputs that finished, and exits 130."""
    import boto3

    env = {**os.environ, **sandbox.env(), "OPSTUI_CONFIG": os.devnull, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "opstui", "run", "--endpoint-url", sandbox.endpoint, "--region", R1,
         "--targets", "tag:Role=web", "--yes", "--timeout", "3600", "--", "echo finished-$(hostname)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    out, err = interrupt_when(proc, b"Delayed: prod-web-03 (ConnectionLost)", stream="stderr")
    err = err.decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "cancelling the command" in err
    text = out.decode()
    assert text.count("finished-") == 3 and text.count("Success, exit 0") == 3, text  # the three that finished
    assert "=== prod-web-03 (1 node, Cancelled" in text
    command_id = next(line.split()[-1] for line in err.splitlines() if line.startswith("opstui run: sent "))
    ssm = boto3.client("ssm", region_name=R1, endpoint_url=sandbox.endpoint, **sandbox.boto_kwargs())
    assert ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] in ("Cancelled", "Cancelling")


@pytest.mark.parametrize("how", ["argument", "stdin"])
def test_a_command_that_is_not_utf8_is_refused_before_sending_with_exit_two(sandbox, how):
    env = {**os.environ, **sandbox.env(), "OPSTUI_CONFIG": os.devnull}
    command, stdin = (b"echo caf\xe9", b"") if how == "argument" else (b"-", b"echo ok\necho caf\xe9\n")
    proc = subprocess.run(
        [sys.executable.encode(), b"-m", b"opstui", b"run", b"--endpoint-url", sandbox.endpoint.encode(),
         b"--region", R1.encode(), b"--targets", b"tag:Role=db", b"--yes", b"--", command],
        input=stdin, capture_output=True, timeout=60, env=env)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, err
    assert "the command is not UTF-8 text (byte 0xe9 at character" in err
    assert "Traceback" not in err and "doctype" not in err and "sent ap-northeast-1" not in err


def test_every_option_of_run_and_shell_says_what_it_does():
    from opstui.run_cli import build_parser as run_parser
    from opstui.shell_cli import build_parser as shell_parser

    for parser in (run_parser(), shell_parser()):
        bare = [a.option_strings for a in parser._actions if a.option_strings and not a.help]
        assert bare == [], (parser.prog, bare)
    assert "why you open this session" in shell_parser().format_help()


def test_a_comment_longer_than_the_api_takes_is_refused_before_sending(sandbox):
    code, _, err = run(sandbox, "--targets", "tag:Role=db", "--comment", "x" * 101, "--yes", "--", "true")
    assert code == 2 and "up to 100" in err and "sent " not in err
