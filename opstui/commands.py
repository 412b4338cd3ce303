"""One registry of app commands: it feeds every key binding, the help screen and the command palette.

A command belongs to the app (``tab == ""``: an App action) or to a tab, and within a tab possibly to one
panel. ``action`` is the action's name where it lives (the App, the tab's view, or the panel); the app runs
any command by id (:meth:`OpsApp.action_command`: the palette's path, which also shows the tab and the
panel first). ``mutating`` commands are disabled (shown greyed) in read-only mode. Keys can be remapped in the
config file's ``[keymap]`` table by command id; :func:`effective_key` gives the key in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class AppCommand:
    id: str
    title: str
    key: str  # Textual key spec ("" = palette only)
    action: str  # the action's name on the App, the tab view or the panel
    help: str
    show: bool = True
    tab: str = ""  # "" = global (an App action)
    panel: str = ""  # "" = the whole tab
    mutating: bool = False  # changes something in AWS: disabled in read-only mode

    @property
    def app_action(self) -> str:
        """The action string that runs this command from anywhere (the palette)."""
        return self.action if not self.tab else f"command('{self.id}')"


#: (tab id, title, key): every tab is one key away from anywhere (no printable key: it never types into a
#: field; inside a shell, ctrl+] first gives the keyboard back to the app)
TABS: tuple[tuple[str, str, str], ...] = (
    ("overview", "Overview", "f1"), ("fleet", "Fleet", "f2"), ("shells", "Shells", "f3"),
    ("run", "Run Command", "f4"), ("inventory", "Inventory", "f5"), ("monitoring", "Monitoring", "f6"),
    ("backup", "Backup", "f7"), ("logs", "Logs", "f8"),
)

GLOBAL_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("refresh", "Refresh now", "r", "refresh", "Reload the current tab now (auto-refresh keeps running)"),
    AppCommand("help", "Help", "question_mark", "help", "Show every key binding"),
    AppCommand("jump", "Jump to…", "colon", "jump", "Jump to a tab, node or action (the palette)", show=False),
    AppCommand("quit", "Quit", "q", "quit", "Quit opstui"),
    *(AppCommand(f"tab-{tab}", f"Tab: {title}", key, f"show_tab('{tab}')", f"Go to the {title} tab", show=False)
      for tab, title, key in TABS),
)

# Keys that act inside the Fleet tab (bound on FleetView; listed here for the help screen and the palette).
FLEET_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("fleet-filter", "Fleet: filter", "slash", "filter",
               "Filter: free text, tag:Key=Value, state:, ping:, region:, platform:, agent:outdated, !negate", tab="fleet"),
    AppCommand("fleet-select", "Fleet: toggle selection", "space", "toggle_select",
               "Select / unselect the node under the cursor", tab="fleet"),
    AppCommand("fleet-select-all", "Fleet: select all visible", "a", "select_visible",
               "Select every node the filter shows", tab="fleet"),
    AppCommand("fleet-clear", "Fleet: clear selection / filter", "escape", "escape",
               "Close the filter box, the detail pane, the selection, then the filter", tab="fleet"),
    AppCommand("fleet-detail", "Fleet: details of the node", "enter", "toggle_detail",
               "Show every SSM field, EC2 field and tag of the node under the cursor", tab="fleet"),
    AppCommand("fleet-shell", "Fleet: open shells", "s", "shell",
               "Open a Session Manager shell on each selected node (or the node under the cursor)", tab="fleet"),
    AppCommand("fleet-run", "Fleet: run a command", "c", "run_command",
               "Open Run Command with the selected nodes (or the node under the cursor) as the target", tab="fleet"),
    AppCommand("fleet-logs", "Fleet: logs of the node", "L", "logs",
               "Open the Logs tab following the node's stream in every log group of its region (the selected "
               "nodes, or the node under the cursor)", tab="fleet"),
    AppCommand("fleet-sort", "Fleet: sort by next column", "o", "sort_next",
               "Order by the next column (or click a header)", tab="fleet"),
    AppCommand("fleet-sort-reverse", "Fleet: reverse sort", "O", "sort_reverse", "Reverse the sort", tab="fleet"),
)

# Keys of the Shells tab (bound on ShellsView / the terminal).
SHELL_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("shell-escape", "Shells: back to the app", "ctrl+right_square_bracket", "",
               "Inside a terminal every key goes to the node; ctrl+] returns focus to the app", show=False,
               tab="shells"),
    AppCommand("shell-close", "Shells: close session", "w", "close_session",
               "Terminate the session (TerminateSession); on a closed session, close its tab", tab="shells"),
    AppCommand("shell-reconnect", "Shells: reconnect", "R", "reconnect",
               "Start a new session to the same node", tab="shells"),
    AppCommand("shell-focus", "Shells: type into the terminal", "i", "focus_terminal",
               "Give the keyboard back to the terminal", tab="shells"),
    AppCommand("shell-scrollback", "Shells: scrollback", "shift+pageup", "",
               "shift+PgUp / shift+PgDn or the mouse wheel scroll back; any key snaps back", show=False,
               tab="shells"),
)

# Keys of the Run Command tab: n and h on the tab (its panels: form, run, history), the others on their panel
# (the form's fields take letters while typing).
RUN_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("run-send", "Run: send the command", "ctrl+s", "send",
               "Check the form, show the blast radius, send once confirmed (disabled in read-only mode)",
               tab="run", panel="form", mutating=True),
    AppCommand("run-new", "Run: new command", "n", "new", "Back to the form, as you left it", tab="run"),
    AppCommand("run-group", "Run: grouped / per-node view", "g", "toggle_grouped",
               "Fold nodes with identical output and exit code into groups, largest first "
               "(in the run tables home/end go to the first/last row)", tab="run", panel="run"),
    AppCommand("run-diff", "Run: diff group against the largest", "d", "diff",
               "Unified diff of the group under the cursor against the largest group", tab="run", panel="run"),
    AppCommand("run-full", "Run: full output from S3", "f", "full_output",
               "Fetch the whole output of a truncated node (✂) from the run's S3 bucket", tab="run", panel="run"),
    AppCommand("run-cancel", "Run: cancel", "x", "cancel", "CancelCommand on the nodes still running (asks first)",
               tab="run", panel="run", mutating=True),
    AppCommand("run-rerun", "Run: re-run on failed nodes", "R", "rerun_failed",
               "The same command on the failed nodes only (confirmation again)", tab="run", panel="run",
               mutating=True),
    AppCommand("run-history", "Run: history", "h", "history",
               "Earlier commands of the loaded regions (ListCommands); enter reopens one, esc goes back", tab="run"),
    AppCommand("run-logs", "Run: the node's output stream in Logs", "L", "logs",
               "Follow the output stream of the node under the cursor in the Logs tab (CloudWatch output only)",
               tab="run", panel="run"),
    AppCommand("run-export", "Run: export", "e", "export",
               "Write the run as JSON and plain text into ~/opstui-runs/", tab="run", panel="run"),
)

# Keys of the Inventory tab (bound on InventoryView; the search and schedule fields take letters while typing).
INVENTORY_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("inventory-browse", "Inventory: browse nodes", "b", "browse",
               "Nodes with inventory -> their types -> the entries (enter drills down, esc goes back)", tab="inventory"),
    AppCommand("inventory-find", "Inventory: find application", "f", "find",
               "Which nodes have application X (optionally version =, ≠, <, >, begins with V): counts by version "
               "and the nodes; enter shows a node in the Fleet", tab="inventory"),
    AppCommand("inventory-summary", "Inventory: summary", "u", "summary",
               "Counts by platform, OS version and agent version (GetInventory aggregators)", tab="inventory"),
    AppCommand("inventory-setup", "Inventory: set-up", "a", "setup",
               "The inventory association of every region (all managed nodes): status, last executions, schedule", tab="inventory"),
    AppCommand("inventory-apply", "Inventory: create / update the association", "ctrl+s", "apply",
               "Create the association for all managed nodes, or set its schedule (>= 30 minutes; "
               "disabled in read-only mode)", tab="inventory", panel="setup", mutating=True),
    AppCommand("inventory-filter", "Inventory: filter", "slash", "filter",
               "Filter the table in front of you (words that must all appear)", tab="inventory"),
    AppCommand("inventory-sort", "Inventory: sort by next column", "o", "sort_next",
               "Order the table by the next column (versions sort as versions)", tab="inventory"),
    AppCommand("inventory-sort-reverse", "Inventory: reverse sort", "O", "sort_reverse",
               "Reverse the sort", show=False, tab="inventory"),
    AppCommand("inventory-select", "Inventory: toggle selection", "space", "toggle_select",
               "Select / unselect the node under the cursor (found nodes, browse nodes)", show=False, tab="inventory"),
    AppCommand("inventory-run", "Inventory: run a command on these nodes", "c", "run_command",
               "Select the found nodes (or the selected ones) in the Fleet and open Run Command with them", tab="inventory"),
    AppCommand("inventory-export", "Inventory: export CSV", "e", "export",
               "Write the table in front of you (filter and sort applied) as CSV into ~/opstui-exports/", tab="inventory"),
)

# Keys of the Monitoring tab (bound on MonitoringView; which ones apply depends on the panel in front of you).
MONITORING_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("monitoring-alarms", "Monitoring: alarms", "1", "alarms",
               "Every alarm, ALARM first; the detail charts the metric with the threshold and lists the history", tab="monitoring"),
    AppCommand("monitoring-sns", "Monitoring: SNS topics", "2", "sns",
               "Topics and their subscriptions", tab="monitoring"),
    AppCommand("monitoring-canaries", "Monitoring: canaries", "3", "canaries",
               "Synthetics canaries: last run, success rate and duration over 24 h, run history", tab="monitoring"),
    AppCommand("monitoring-agent", "Monitoring: CloudWatch agent", "4", "agent",
               "Which nodes publish CWAgent metrics (memory, disk); install and set up the agent through Run Command", tab="monitoring"),
    AppCommand("monitoring-new", "Monitoring: new alarm / topic / canary", "n", "new",
               "Alarms: an alarm on the Fleet cursor node's CPU, memory or disk; SNS: a topic; canaries: a "
               "heartbeat canary (disabled in read-only mode)", tab="monitoring", mutating=True),
    AppCommand("monitoring-edit", "Monitoring: edit alarm", "e", "edit",
               "Threshold, periods, datapoints, statistic, SNS topic of the alarm under the cursor", tab="monitoring", panel="alarms", mutating=True),
    AppCommand("monitoring-actions", "Monitoring: alarm actions on/off", "d", "toggle_actions",
               "Disable or enable the notifications of the alarm under the cursor (it keeps being evaluated)", tab="monitoring", panel="alarms", mutating=True),
    AppCommand("monitoring-logs", "Monitoring: logs behind the alarm", "L", "logs",
               "An alarm on a log metric: follow the log groups of its metric filter, shown from a few minutes "
               "before the alarm last changed state", tab="monitoring", panel="alarms"),
    AppCommand("monitoring-delete", "Monitoring: delete alarm", "x", "delete",
               "Delete the alarm under the cursor (asks first)", tab="monitoring", panel="alarms", mutating=True),
    AppCommand("monitoring-subscribe", "Monitoring: subscribe to topic", "s", "subscribe",
               "Subscribe an e-mail address, http(s) URL or phone number (SMS) to the topic under the cursor", tab="monitoring", panel="sns", mutating=True),
    AppCommand("monitoring-test", "Monitoring: send a test message", "t", "test_message",
               "Publish a test message to the topic under the cursor", tab="monitoring", panel="sns", mutating=True),
    AppCommand("monitoring-start-stop", "Monitoring: start / stop canary", "p", "start_stop",
               "Start the canary under the cursor, or stop it when it runs", tab="monitoring", panel="canaries", mutating=True),
    AppCommand("monitoring-install", "Monitoring: install the CloudWatch agent", "i", "install_agent",
               "AWS-ConfigureAWSPackage (AmazonCloudWatchAgent) then AmazonCloudWatch-ManageAgent (configure, "
               "start) on the selected nodes (space here, or the Fleet selection), with progress per node", tab="monitoring", panel="agent", mutating=True),
    AppCommand("monitoring-configure", "Monitoring: set up the CloudWatch agent (presets)", "c", "configure_agent",
               "Build the agent's configuration from presets (system log, nginx, application JSON, Windows event "
               "logs, memory and disk), preview it, store it in Parameter Store (PutParameter) and apply it with "
               "AmazonCloudWatch-ManageAgent (configure from ssm, restart) to the selected nodes", tab="monitoring",
               panel="agent", mutating=True),
    AppCommand("monitoring-filter", "Monitoring: filter", "slash", "filter",
               "Filter the table in front of you: words, state:ALARM, region:…, !negate", tab="monitoring"),
)

# Keys of the Overview tab (the home screen).
OVERVIEW_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("overview-open", "Overview: explain this line", "enter", "open",
               "Jump to the tab that explains the line under the cursor, filtered to it", tab="overview"),
    AppCommand("overview-bell", "Overview: bell on/off", "b", "toggle_bell",
               "Ring the terminal bell when an alarm enters ALARM or a canary starts failing", tab="overview"),
)

# Keys of the Backup tab (tab-wide ones bound on BackupView, a panel's own on that panel: opstui/views/backup/).
BACKUP_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("backup-jobs", "Backup: jobs", "1", "jobs",
               "Backup, copy and restore jobs of every region, failures and completed-with-issues first", tab="backup"),
    AppCommand("backup-plans", "Backup: plans", "2", "plans",
               "Plans: rules (schedule in words, windows, retention, copies) and selections", tab="backup"),
    AppCommand("backup-points", "Backup: recovery points", "3", "points",
               "Vaults of every region and the recovery points of the vault under the cursor", tab="backup"),
    AppCommand("backup-files", "Backup: S3 files", "4", "files",
               "S3 buckets (versioning, lifecycle, newest object); enter lists objects and versions under a prefix", tab="backup"),
    AppCommand("backup-range", "Backup: time range", "t", "cycle_range",
               "Jobs of the last 24 h -> 7 days -> 30 days (reloads)", tab="backup", panel="jobs"),
    AppCommand("backup-state", "Backup: state filter", "s", "cycle_state",
               "Jobs: all -> problems -> FAILED -> EXPIRED -> ABORTED -> with issues -> running -> completed", tab="backup", panel="jobs"),
    AppCommand("backup-filter", "Backup: filter", "slash", "filter",
               "Filter the table in front of you; in the jobs, type a resource name, instance id or ARN (state, kind "
               "and vault are in the filter bar)", tab="backup"),
    AppCommand("backup-new-plan", "Backup: new plan", "n", "new_plan",
               "Create a plan in one form: name, daily time, keep N days, copy to a region, all EC2 instances "
               "(disabled in read-only mode)", tab="backup", panel="plans", mutating=True),
    AppCommand("backup-now", "Backup: back up the Fleet selection now", "b", "backup_now",
               "StartBackupJob for each selected EC2 instance of the Fleet, after a confirmation "
               "(disabled in read-only mode)", tab="backup", mutating=True),
    AppCommand("backup-restore", "Backup: restore recovery point", "R", "restore",
               "StartRestoreJob of the point under the cursor (a new instance), after a confirmation "
               "(disabled in read-only mode)", tab="backup", panel="points", mutating=True),
    AppCommand("backup-upload", "Backup: upload a file to S3", "u", "upload",
               "Upload a local file under the prefix shown (multipart above 8 MB, with progress; "
               "disabled in read-only mode)", tab="backup", panel="files", mutating=True),
    AppCommand("backup-download", "Backup: download from S3", "d", "download",
               "Download the object version under the cursor to a local path, with progress", tab="backup", panel="files"),
    AppCommand("backup-sort", "Backup: sort by next column", "o", "sort_next",
               "Order the table in front of you by the next column", tab="backup"),
)

# Keys of the Logs tab (tab-wide ones bound on LogsView, a panel's own on that panel: opstui/views/logs/).
LOGS_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("logs-groups", "Logs: groups", "1", "groups",
               "Log groups of every region (retention, stored bytes, metric filters) and the streams of the group "
               "under the cursor", tab="logs"),
    AppCommand("logs-viewer", "Logs: viewer", "2", "viewer",
               "The lines being followed, merged by time across groups and streams", tab="logs"),
    AppCommand("logs-insights", "Logs: Insights", "3", "insights",
               "A Logs Insights query over the selected groups (or the group under the cursor), results as a table",
               tab="logs"),
    AppCommand("logs-filters", "Logs: metric filters", "4", "filters",
               "Metric filters of every group: pattern, metric, namespace, value", tab="logs"),
    AppCommand("logs-filter", "Logs: filter", "slash", "filter",
               "Filter the table in front of you; in the viewer, the lines: words, !negate, level=ERROR, "
               "$.status >= 500", tab="logs"),
    AppCommand("logs-follow", "Logs: follow", "f", "follow",
               "Follow the selected groups (space), the group or the stream under the cursor, merged by time",
               tab="logs", panel="groups"),
    AppCommand("logs-pause", "Logs: pause / follow", "p", "toggle_follow",
               "Pause following (lines keep arriving and are counted) or follow again (end also does)",
               tab="logs", panel="viewer"),
    AppCommand("logs-sources", "Logs: source labels on/off", "s", "toggle_sources",
               "Show or hide the group/stream label of each line", tab="logs", panel="viewer"),
    AppCommand("logs-columns", "Logs: JSON fields as columns", "c", "columns",
               "Show JSON events as the fields you name, in columns (e.g. level,msg,latency_ms); empty: whole lines",
               tab="logs", panel="viewer"),
    AppCommand("logs-time", "Logs: jump to a time", "t", "jump_time",
               "Pause and show the lines from a time (HH:MM or HH:MM:SS, UTC, today; or -15m)", tab="logs",
               panel="viewer"),
    AppCommand("logs-search", "Logs: find in the lines", "F", "search",
               "Find a text in the lines without filtering (plain, any case): every match highlighted, the first "
               "one brought into view; esc ends the search", tab="logs", panel="viewer"),
    AppCommand("logs-search-next", "Logs: next match", "n", "search_next",
               "Pause and go to the next line matching the search (round to the first after the last)",
               tab="logs", panel="viewer"),
    AppCommand("logs-search-prev", "Logs: previous match", "N", "search_prev",
               "Pause and go to the previous line matching the search", tab="logs", panel="viewer"),
    AppCommand("logs-wrap", "Logs: wrap on/off", "w", "toggle_wrap",
               "Wrap long lines to the width instead of scrolling sideways", tab="logs", panel="viewer"),
    AppCommand("logs-event", "Logs: the event alone (pretty JSON)", "J", "event",
               "Show the marked line's event (the last match or time jumped to; else the top line, or the newest "
               "while following) alone: JSON pretty-printed, control characters visible (enter does it too)",
               tab="logs", panel="viewer"),
    AppCommand("logs-run-query", "Logs: run the query", "ctrl+r", "run_query",
               "StartQuery over the groups and the time range, then the results (disabled in read-only mode: "
               "the read-only guard refuses StartQuery)", tab="logs", panel="insights", mutating=True),
    AppCommand("logs-open-query", "Logs: open a saved query", "ctrl+o", "open_saved",
               "Pick a query: the account's saved Logs Insights queries of every region (DescribeQueryDefinitions; "
               "brings their log groups too), then the queries run this session (up/down in the box walk those)",
               tab="logs", panel="insights"),
    AppCommand("logs-range", "Logs: query time range", "t", "cycle_range",
               "Insights over the last 15 min -> 1 h -> 6 h -> 24 h -> 7 days", tab="logs", panel="insights"),
    AppCommand("logs-new-filter", "Logs: new metric filter", "n", "new_filter",
               "A metric filter on the group under the cursor: pattern (ERROR, { $.level = \"ERROR\" }), metric, "
               "namespace, value (disabled in read-only mode)", tab="logs", panel="filters", mutating=True),
    AppCommand("logs-delete-filter", "Logs: delete metric filter", "x", "delete_filter",
               "Delete the metric filter under the cursor (asks first)", tab="logs", panel="filters", mutating=True),
    AppCommand("logs-alarms", "Logs: alarms on this metric", "a", "alarms",
               "The Monitoring tab's alarms, filtered to the metric of the filter under the cursor", tab="logs",
               panel="filters"),
)

NAVIGATION_HELP: tuple[tuple[str, str], ...] = (
    ("↑ ↓ / j k", "Move the cursor"),
    ("PgUp PgDn / ctrl+b ctrl+f", "Page"),
    ("home end / g G", "First / last row"),
    ("← → / h l", "Scroll columns"),
    ("ctrl+p", "Command palette (every action, switch profile or region)"),
    ("tab / shift+tab", "Move focus"),
)


TAB_COMMANDS: dict[str, tuple[AppCommand, ...]] = {
    "overview": OVERVIEW_COMMANDS, "fleet": FLEET_COMMANDS, "shells": SHELL_COMMANDS, "run": RUN_COMMANDS,
    "inventory": INVENTORY_COMMANDS, "monitoring": MONITORING_COMMANDS, "backup": BACKUP_COMMANDS,
    "logs": LOGS_COMMANDS,
}
ALL_COMMANDS: tuple[AppCommand, ...] = (*GLOBAL_COMMANDS, *(c for cmds in TAB_COMMANDS.values() for c in cmds))
BY_ID: dict[str, AppCommand] = {c.id: c for c in ALL_COMMANDS}


def commands_of(tab: str, panel: str | None = None) -> tuple[AppCommand, ...]:
    """A tab's commands: with ``panel=None`` the whole tab's; with ``panel=""`` the tab-wide ones only."""
    return tuple(c for c in TAB_COMMANDS.get(tab, ()) if panel is None or c.panel == panel)


def effective_key(cmd: AppCommand, keymap: Mapping[str, str] | None = None) -> str:
    """The key in force for a command: the user's keymap entry, else the registry's default."""
    return (keymap or {}).get(cmd.id, cmd.key)


def key_label(key: str) -> str:
    return {"question_mark": "?", "colon": ":", "slash": "/", "space": "space", "escape": "esc",
            "ctrl+right_square_bracket": "ctrl+]", "shift+pageup": "shift+PgUp/PgDn"}.get(key, key)
