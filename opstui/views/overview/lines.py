"""The Overview as lines: what is wrong, section by section, and honest about what could not be checked.

Pure (no widgets): the tab, the tests and the bench call :func:`build_lines` with any data.

A section whose data could not be read (a region down, Monitoring denied, ...) never shows a ✓: its heading
says "not checked" in the warning colour and the section names, in place, each region and the reason. Where
some regions answered and others did not, the problems found are listed and the missing regions are named;
"none" is then said only of the regions that were checked. Each ✓ line names what was actually measured
(how many nodes had a CPU value, whether any CloudWatch agent metric existed, how many canaries passed).

Every line has a ``key`` that stays the same from one refresh to the next (``alarm:<region>:<name>``,
``node:<id>`` ...): the tab keeps its cursor on the same item when lines are added or removed above it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from textual.content import Content

from opstui.aws.models import FleetNode
from opstui.health import CPU_HIGH, DISK_HIGH, LOG_FILTERS, MEMORY_HIGH, SLOW_RUN_MS, RegionHealth
from opstui.safe import clean
from opstui.views.common.format import age

NODE_LINES = 6  # node lines per kind before "… and N more"
WARN = "bold yellow"


@dataclass(frozen=True)
class Jump:
    """Where a line leads: a tab, and the filter (or panel) to land on; for ``logs``, the log metric
    (region, namespace, name) whose filters' groups to follow from ``at_ms`` (Monitoring's ``L`` jump)."""

    tab: str  # fleet | monitoring | backup | logs
    filter: str = ""
    panel: str = ""  # monitoring panel
    region: str = ""
    metric: tuple[str, str] = ("", "")  # (namespace, name)
    at_ms: int | None = None


@dataclass
class Line:
    text: Content
    jump: Jump | None = None
    key: str = ""  # stable across refreshes: the cursor follows it


def _line(icon: str, icon_style: str, *parts: tuple[str, str]) -> Content:
    return Content.assemble((f"  {icon} ", icon_style), *((clean(t, 300), s) for t, s in parts))


def _heading(title: str, count: int, unchecked: int) -> Content:
    """``Title ✓`` only when everything was checked and nothing found; a red count when something was
    found; ``not checked`` (warning colour) when nothing was found but part of it could not be read."""
    parts: list[tuple[str, str]] = [(f"{title} ", "bold")]
    if count:
        parts.append((f"{count}", "bold red"))
    if unchecked:
        parts.append(((" + " if count else "") + "not checked" + (f" in {unchecked} region(s)"), WARN))
    if not count and not unchecked:
        parts.append(("✓", "bold green"))
    return Content.assemble(*parts)


def _unchecked_lines(what: str, failures: list[tuple[str, str]], jump: Jump | None) -> list[Line]:
    return [Line(_line("⚠", WARN, (f"could not check {what} in {region}: ", WARN), (reason, "")), jump,
                 key=f"unchecked:{what}:{region}")
            for region, reason in failures]


def _failures(health: list[RegionHealth], *parts: str) -> list[tuple[str, str]]:
    """(region, reason) for each region where one of these parts failed (the first reason per region)."""
    out: list[tuple[str, str]] = []
    for h in health:
        reason = next((h.failed[p] for p in parts if p in h.failed), None)
        if reason is not None:
            out.append((h.region, reason))
    return out


def _checked_regions(health: list[RegionHealth], part: str) -> list[str]:
    return [h.region for h in health if h.checked(part)]


def _scope(health: list[RegionHealth], part: str, failures: list[tuple[str, str]]) -> str:
    """' in ap-northeast-1' when only some regions were checked, else ''."""
    if not failures:
        return ""
    checked = _checked_regions(health, part)
    return f" in {', '.join(checked)}" if checked else ""


def build_lines(nodes: list[FleetNode], health: list[RegionHealth], fleet_errors: list[str]) -> list[Line]:
    """The whole screen as lines."""
    lines: list[Line] = []
    names = {(n.region, n.instance_id): n.name or n.instance_id for n in nodes}

    def name(region: str, iid: str) -> str:
        return names.get((region, iid), iid)

    def gap(key: str) -> None:
        lines.append(Line(Content(""), key=f"gap:{key}"))

    _nodes_down(lines, nodes, health, fleet_errors, name)
    gap("canaries")
    _services_down(lines, health)
    gap("alarms")
    _alarms(lines, health)
    gap("logs")
    _errors_in_logs(lines, health)
    gap("slow")
    _slow(lines, health, name)
    gap("backups")
    _backups(lines, health)

    errors = list(fleet_errors) + [e for h in health for e in h.errors]
    if errors:
        gap("errors")
        lines.append(Line(Content.assemble(("Could not check ", "bold"), (f"{len(errors)}", WARN)), key="h:errors"))
        for i, e in enumerate(errors):
            lines.append(Line(_line("⚠", WARN, (e, "")), key=f"error:{i}:{e[:80]}"))
    return lines


def _nodes_down(lines: list[Line], nodes: list[FleetNode], health: list[RegionHealth], fleet_errors: list[str],
                name: Callable[[str, str], str]) -> None:
    stopped = [n for n in nodes if n.ec2_state == "stopped"]
    # a stopped instance's agent is ConnectionLost too: count it once, as stopped
    lost = [n for n in nodes if n.ping_status == "ConnectionLost" and n.ec2_state != "stopped"]
    failed_checks = [(h.region, iid) for h in health for iid in sorted(h.status_failed)]
    metric_failures = _failures(health, "metrics")
    down = len(stopped) + len(lost) + len(failed_checks)
    unchecked = len(fleet_errors) + len(metric_failures)
    lines.append(Line(_heading("Nodes down", down, unchecked), key="h:nodes"))
    if not down and not unchecked:
        lines.append(Line(_line("✓", "green", (f"all {len(nodes)} nodes running, agents online, status checks "
                                               "passing", "")), Jump("fleet"), key="ok:nodes"))
    elif not down:
        lines.append(Line(_line("–", "dim", (f"none found among the {len(nodes)} nodes listed", "dim")),
                          Jump("fleet"), key="none:nodes"))
    for reason in fleet_errors:
        lines.append(Line(_line("⚠", WARN, ("could not list nodes: ", WARN), (reason, "")), Jump("fleet"),
                          key=f"unchecked:fleet:{reason[:80]}"))
    lines.extend(_unchecked_lines("status checks", metric_failures, None))
    for label, group, filt in (("agent ConnectionLost", lost, "ping:ConnectionLost !state:stopped"),
                               ("instance stopped", stopped, "state:stopped")):
        if not group:
            continue
        lines.append(Line(_line("✗", "bold red", (f"{len(group)} node(s) {label}", "bold")), Jump("fleet", filt),
                          key=f"group:{label}"))
        for n in group[:NODE_LINES]:
            lines.append(Line(_line(" ", "", (f"  {n.name or n.instance_id}", ""), (f"  {n.instance_id} {n.region}",
                                                                                  "dim"),
                                    (f"  last ping {age(n.last_ping)} ago" if n.last_ping else "", "dim")),
                              Jump("fleet", n.instance_id), key=f"node:{label}:{n.region}:{n.instance_id}"))
        if len(group) > NODE_LINES:
            lines.append(Line(_line(" ", "", (f"  … and {len(group) - NODE_LINES} more", "dim")), Jump("fleet", filt),
                              key=f"more:{label}"))
    for region, iid in failed_checks:
        lines.append(Line(_line("✗", "bold red", (f"{name(region, iid)}", "bold"),
                                (f"  {iid} {region}", "dim"), ("  status check failed", "red")),
                          Jump("fleet", iid), key=f"status:{region}:{iid}"))


def _services_down(lines: list[Line], health: list[RegionHealth]) -> None:
    canaries = [c for h in health for c in h.canaries]
    failing = [c for c in canaries if c.failing]
    failures = _failures(health, "canaries")
    lines.append(Line(_heading("Services down (canaries)", len(failing), len(failures)), key="h:canaries"))
    jump = Jump("monitoring", "", "canaries")
    if not canaries and not failures:
        lines.append(Line(_line("–", "dim", ("no canaries in these regions", "dim")), jump, key="none:canaries"))
    elif not failing and canaries:
        mark, style = ("✓", "green") if not failures else ("–", "dim")
        lines.append(Line(_line(mark, style, (f"{len(canaries)} canaries passing"
                                              f"{_scope(health, 'canaries', failures)}", "")), jump,
                          key="ok:canaries"))
    lines.extend(_unchecked_lines("canaries", failures, jump))
    for c in failing:
        run = c.last_run
        when = f"  {age(run.started)} ago" if run and run.started else ""
        lines.append(Line(_line("✗", "bold red", (c.name, "bold"), (f"  {c.region}", "dim"), (when, "dim"),
                                (f"  {run.reason if run else ''}", "red")),
                          Jump("monitoring", "state:failing", "canaries"), key=f"canary:{c.region}:{c.name}"))


def _alarms(lines: list[Line], health: list[RegionHealth]) -> None:
    alarms = sorted((a for h in health for a in h.alarms if a.state == "ALARM"),
                    key=lambda a: a.state_updated or datetime.min.replace(tzinfo=UTC), reverse=True)
    failures = _failures(health, "alarms")
    jump = Jump("monitoring", "", "alarms")
    lines.append(Line(_heading("Alarms in ALARM", len(alarms), len(failures)), key="h:alarms"))
    if not alarms and not failures:
        lines.append(Line(_line("✓", "green", ("no alarm in ALARM", "")), jump, key="ok:alarms"))
    elif not alarms:
        checked = _checked_regions(health, "alarms")
        if checked:
            lines.append(Line(_line("–", "dim", (f"no alarm in ALARM in {', '.join(checked)}", "dim")), jump,
                              key="none:alarms"))
    lines.extend(_unchecked_lines("alarms", failures, jump))
    for a in alarms:
        since = f"  since {age(a.state_updated)}" if a.state_updated else ""
        lines.append(Line(_line("✗", "bold red", (a.name, "bold"), (f"  {a.region}", "dim"), (since, "dim"),
                                (f"  {a.reason}", "")),
                          Jump("monitoring", "state:ALARM", "alarms"), key=f"alarm:{a.region}:{a.name}"))


def _errors_in_logs(lines: list[Line], health: list[RegionHealth]) -> None:
    """Alarms in ALARM fed by a log metric filter. Nothing is said of a region whose alarms or metric filters
    could not be read but "not checked" (a ✓ would claim the logs are clean)."""
    found = sorted((la for h in health for la in h.log_alarms),
                   key=lambda la: la.alarm.state_updated or datetime.min.replace(tzinfo=UTC), reverse=True)
    failures = _failures(health, "alarms", LOG_FILTERS)
    lines.append(Line(_heading("Errors in logs (metric filter alarms)", len(found), len(failures)), key="h:logs"))
    jump = Jump("monitoring", "state:ALARM", "alarms")
    if not found:
        checked = [h for h in health if h.checked("alarms") and h.checked(LOG_FILTERS)]
        firing = sum(1 for h in checked for a in h.alarms if a.state == "ALARM")
        said = (f"none of the {firing} alarm(s) in ALARM is fed by a log metric filter" if firing
                else "no alarm in ALARM, so none fed by a log metric filter")
        if checked:
            mark, style = ("✓", "green") if not failures else ("–", "dim")
            where = f" in {', '.join(h.region for h in checked)}" if failures else ""
            lines.append(Line(_line(mark, style, (said + where, "" if not failures else "dim")), jump,
                              key="ok:logs"))
    lines.extend(_unchecked_lines("metric filters", failures, jump))
    for la in found:
        a = la.alarm
        names = ", ".join(f"{f.name} on {f.group}" for f in la.filters[:2])
        more = f" +{len(la.filters) - 2} more" if len(la.filters) > 2 else ""
        at_ms = int(a.state_updated.timestamp() * 1000) if a.state_updated else None
        metric = (a.metric.namespace, a.metric.name) if a.metric else ("", "")
        lines.append(Line(_line("✗", "bold red", ("errors in logs: ", "red"), (a.name, "bold"),
                                (f"  (metric filter {names}{more})", ""), (f"  {a.region}", "dim"),
                                (f"  since {age(a.state_updated)}" if a.state_updated else "", "dim"),
                                ("  — enter: open the logs", "dim")),
                          Jump("logs", region=a.region, metric=metric, at_ms=at_ms),
                          key=f"logalarm:{a.region}:{a.name}"))


def _slow(lines: list[Line], health: list[RegionHealth], name: Callable[[str, str], str]) -> None:
    slow: list[Line] = []
    for h in health:
        for iid, value in sorted(h.cpu.items(), key=lambda kv: -kv[1]):
            if value >= CPU_HIGH:
                slow.append(Line(_line("▲", "bold yellow", (name(h.region, iid), "bold"),
                                       (f"  {iid} {h.region}", "dim"), (f"  CPU {value:.0f}%", "yellow")),
                                 Jump("monitoring", f"instance:{iid}", "alarms"), key=f"cpu:{h.region}:{iid}"))
        for label, values, limit in (("memory", h.memory, MEMORY_HIGH), ("disk", h.disk, DISK_HIGH)):
            for iid, value in sorted(values.items(), key=lambda kv: -kv[1]):
                if value >= limit:
                    slow.append(Line(_line("▲", "bold yellow", (name(h.region, iid), "bold"),
                                           (f"  {iid} {h.region}", "dim"), (f"  {label} {value:.0f}%", "yellow")),
                                     Jump("monitoring", f"instance:{iid}", "alarms"),
                                     key=f"{label}:{h.region}:{iid}"))
        for c in h.canaries:
            d = c.last_run.duration if c.last_run else None
            if d is not None and d * 1000 >= SLOW_RUN_MS and not c.failing:
                slow.append(Line(_line("▲", "bold yellow", (c.name, "bold"), (f"  {c.region}", "dim"),
                                       (f"  slow: last run took {d:.1f} s", "yellow")),
                                 Jump("monitoring", c.name, "canaries"), key=f"slow:{c.region}:{c.name}"))
    failures = _failures(health, "metrics", "canaries")
    lines.append(Line(_heading("Slow or overloaded", len(slow), len(failures)), key="h:slow"))
    if not slow:
        measured = sum(len(h.cpu) for h in health)
        agent = sum(len(set(h.memory) | set(h.disk)) for h in health)
        timed = [c for h in health for c in h.canaries
                 if not c.failing and c.last_run is not None and c.last_run.duration is not None]
        said = [f"CPU under {CPU_HIGH:.0f}% on {measured} running node(s)"]
        said.append(f"memory and disk under {MEMORY_HIGH:.0f}% on {agent} node(s) with the CloudWatch agent"
                    if agent else "memory and disk not measured (no CloudWatch agent metrics)")
        if timed:
            said.append(f"{len(timed)} passing canar{'y' if len(timed) == 1 else 'ies'} under "
                        f"{SLOW_RUN_MS / 1000:.0f} s")
        mark, style = ("✓", "green") if not failures else ("–", "dim")
        lines.append(Line(_line(mark, style, ("; ".join(said) + _scope(health, "metrics", failures), "")),
                          key="ok:slow"))
    lines.extend(_unchecked_lines("load and latency", failures, None))
    lines.extend(slow)


def _backups(lines: list[Line], health: list[RegionHealth]) -> None:
    failed_jobs = [j for h in health for j in h.backups_failed]
    issue_jobs = [j for h in health for j in h.backups_with_issues]
    total_jobs = sum(h.backup_jobs for h in health)
    failures = _failures(health, "backups")
    jump = Jump("backup")
    lines.append(Line(_heading("Backup jobs failed (24 h)", len(failed_jobs), len(failures)), key="h:backups"))
    scope = _scope(health, "backups", failures)
    if not total_jobs and len(failures) < len(health):
        lines.append(Line(_line("–", "dim", (f"no backup or copy jobs in the last 24 h{scope}: is a backup plan "
                                             "set up?", "dim")), jump, key="none:backups"))
    elif total_jobs and not failed_jobs:
        mark, style = ("✓", "green") if not failures else ("–", "dim")
        lines.append(Line(_line(mark, style, (f"{total_jobs} backup and copy jobs, none failed{scope}", "")), jump,
                          key="ok:backups"))
    lines.extend(_unchecked_lines("backup jobs", failures, jump))
    for j in failed_jobs[:NODE_LINES]:
        lines.append(Line(_line("✗", "bold red", (f"{j.kind} {j.state}", "bold"),
                                (f"  {j.resource_name or j.resource_arn}", ""), (f"  {j.region}", "dim"),
                                (f"  {j.status_message}" if j.status_message else "", "red")), jump,
                          key=f"job:{j.region}:{j.job_id}"))
    if issue_jobs:
        lines.append(Line(_line("▲", "yellow", (f"{len(issue_jobs)} completed with issues", "bold"),
                                ("  " + ", ".join(sorted({j.resource_name or j.resource_arn for j in issue_jobs})),
                                 "")), jump, key="issues:backups"))
