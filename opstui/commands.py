"""One registry of app commands: it feeds the key bindings, the help screen and the command palette."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppCommand:
    id: str
    title: str
    key: str  # Textual key spec ("" = palette only)
    action: str  # Textual action string, run on the app
    help: str
    show: bool = True


GLOBAL_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("refresh", "Refresh now", "r", "refresh", "Reload the current tab now (auto-refresh keeps running)"),
    AppCommand("help", "Help", "question_mark", "help", "Show every key binding"),
    AppCommand("jump", "Jump to…", "colon", "jump", "Jump to a tab, node or action (the palette)", show=False),
    AppCommand("quit", "Quit", "q", "quit", "Quit opstui"),
)

# Keys that act inside the Fleet tab (bound on FleetView; listed here for the help screen and the palette).
FLEET_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("fleet-filter", "Fleet: filter", "slash", "fleet('filter')",
               "Filter: free text, tag:Key=Value, state:, ping:, region:, platform:, agent:outdated, !negate"),
    AppCommand("fleet-select", "Fleet: toggle selection", "space", "fleet('toggle_select')",
               "Select / unselect the node under the cursor"),
    AppCommand("fleet-select-all", "Fleet: select all visible", "a", "fleet('select_visible')",
               "Select every node the filter shows"),
    AppCommand("fleet-clear", "Fleet: clear selection / filter", "escape", "fleet('escape')",
               "Close the filter box, the detail pane, the selection, then the filter"),
    AppCommand("fleet-detail", "Fleet: details of the node", "enter", "fleet('toggle_detail')",
               "Show every SSM field, EC2 field and tag of the node under the cursor"),
    AppCommand("fleet-shell", "Fleet: open shells", "s", "fleet('shell')",
               "Open a Session Manager shell on each selected node (or the node under the cursor)"),
    AppCommand("fleet-run", "Fleet: run a command", "c", "fleet('run_command')",
               "Open Run Command with the selected nodes (or the node under the cursor) as the target"),
    AppCommand("fleet-sort", "Fleet: sort by next column", "o", "fleet('sort_next')",
               "Order by the next column (or click a header)"),
    AppCommand("fleet-sort-reverse", "Fleet: reverse sort", "O", "fleet('sort_reverse')", "Reverse the sort"),
)

# Keys of the Shells tab (bound on ShellsView / the terminal).
SHELL_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("shell-escape", "Shells: back to the app", "ctrl+right_square_bracket", "",
               "Inside a terminal every key goes to the node; ctrl+] returns focus to the app", show=False),
    AppCommand("shell-close", "Shells: close session", "w", "shells('close_session')",
               "Terminate the session (TerminateSession); on a closed session, close its tab"),
    AppCommand("shell-reconnect", "Shells: reconnect", "R", "shells('reconnect')",
               "Start a new session to the same node"),
    AppCommand("shell-focus", "Shells: type into the terminal", "i", "shells('focus_terminal')",
               "Give the keyboard back to the terminal"),
    AppCommand("shell-scrollback", "Shells: scrollback", "shift+pageup", "",
               "shift+PgUp / shift+PgDn or the mouse wheel scroll back; any key snaps back", show=False),
)

# Keys of the Run Command tab (bound on RunCommandView; the form's fields take letters while typing).
RUN_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("run-send", "Run: send the command", "ctrl+s", "run('send')",
               "Check the form, show the blast radius, send once confirmed (disabled in read-only mode)"),
    AppCommand("run-new", "Run: new command", "n", "run('new')", "Back to the form, as you left it"),
    AppCommand("run-group", "Run: grouped / per-node view", "g", "run('toggle_grouped')",
               "Fold nodes with identical output and exit code into groups, largest first "
               "(in the run tables home/end go to the first/last row)"),
    AppCommand("run-diff", "Run: diff group against the largest", "d", "run('diff')",
               "Unified diff of the group under the cursor against the largest group"),
    AppCommand("run-full", "Run: full output from S3", "f", "run('full_output')",
               "Fetch the whole output of a truncated node (✂) from the run's S3 bucket"),
    AppCommand("run-cancel", "Run: cancel", "x", "run('cancel')", "CancelCommand on the nodes still running (asks first)"),
    AppCommand("run-rerun", "Run: re-run on failed nodes", "R", "run('rerun_failed')",
               "The same command on the failed nodes only (confirmation again)"),
    AppCommand("run-history", "Run: history", "h", "run('history')",
               "Earlier commands of the loaded regions (ListCommands); enter reopens one, esc goes back"),
    AppCommand("run-export", "Run: export", "e", "run('export')",
               "Write the run as JSON and plain text into ~/opstui-runs/"),
)

# Keys of the Inventory tab (bound on InventoryView; the search and schedule fields take letters while typing).
INVENTORY_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("inventory-browse", "Inventory: browse nodes", "b", "inventory('browse')",
               "Nodes with inventory -> their types -> the entries (enter drills down, esc goes back)"),
    AppCommand("inventory-find", "Inventory: find application", "f", "inventory('find')",
               "Which nodes have application X (optionally version =, ≠, <, >, begins with V): counts by version "
               "and the nodes; enter shows a node in the Fleet"),
    AppCommand("inventory-summary", "Inventory: summary", "u", "inventory('summary')",
               "Counts by platform, OS version and agent version (GetInventory aggregators)"),
    AppCommand("inventory-setup", "Inventory: set-up", "a", "inventory('setup')",
               "The inventory association of every region (all managed nodes): status, last executions, schedule"),
    AppCommand("inventory-apply", "Inventory: create / update the association", "ctrl+s", "inventory('apply')",
               "Create the association for all managed nodes, or set its schedule (>= 30 minutes; "
               "disabled in read-only mode)"),
    AppCommand("inventory-filter", "Inventory: filter", "slash", "inventory('filter')",
               "Filter the table in front of you (words that must all appear)"),
    AppCommand("inventory-sort", "Inventory: sort by next column", "o", "inventory('sort_next')",
               "Order the table by the next column (versions sort as versions)"),
    AppCommand("inventory-sort-reverse", "Inventory: reverse sort", "O", "inventory('sort_reverse')",
               "Reverse the sort", show=False),
    AppCommand("inventory-select", "Inventory: toggle selection", "space", "inventory('toggle_select')",
               "Select / unselect the node under the cursor (found nodes, browse nodes)", show=False),
    AppCommand("inventory-run", "Inventory: run a command on these nodes", "c", "inventory('run_command')",
               "Select the found nodes (or the selected ones) in the Fleet and open Run Command with them"),
    AppCommand("inventory-export", "Inventory: export CSV", "e", "inventory('export')",
               "Write the table in front of you (filter and sort applied) as CSV into ~/opstui-exports/"),
)

# Keys of the Monitoring tab (bound on MonitoringView; which ones apply depends on the panel in front of you).
MONITORING_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("monitoring-alarms", "Monitoring: alarms", "1", "monitoring('alarms')",
               "Every alarm, ALARM first; the detail charts the metric with the threshold and lists the history"),
    AppCommand("monitoring-sns", "Monitoring: SNS topics", "2", "monitoring('sns')",
               "Topics and their subscriptions"),
    AppCommand("monitoring-canaries", "Monitoring: canaries", "3", "monitoring('canaries')",
               "Synthetics canaries: last run, success rate and duration over 24 h, run history"),
    AppCommand("monitoring-agent", "Monitoring: CloudWatch agent", "4", "monitoring('agent')",
               "Which nodes publish CWAgent metrics (memory, disk); install the agent through Run Command"),
    AppCommand("monitoring-new", "Monitoring: new alarm / topic / canary", "n", "monitoring('new')",
               "Alarms: an alarm on the Fleet cursor node's CPU, memory or disk; SNS: a topic; canaries: a "
               "heartbeat canary (disabled in read-only mode)"),
    AppCommand("monitoring-edit", "Monitoring: edit alarm", "e", "monitoring('edit')",
               "Threshold, periods, datapoints, statistic, SNS topic of the alarm under the cursor"),
    AppCommand("monitoring-actions", "Monitoring: alarm actions on/off", "d", "monitoring('toggle_actions')",
               "Disable or enable the notifications of the alarm under the cursor (it keeps being evaluated)"),
    AppCommand("monitoring-delete", "Monitoring: delete alarm", "x", "monitoring('delete')",
               "Delete the alarm under the cursor (asks first)"),
    AppCommand("monitoring-subscribe", "Monitoring: subscribe to topic", "s", "monitoring('subscribe')",
               "Subscribe an e-mail address, http(s) URL or phone number (SMS) to the topic under the cursor"),
    AppCommand("monitoring-test", "Monitoring: send a test message", "t", "monitoring('test_message')",
               "Publish a test message to the topic under the cursor"),
    AppCommand("monitoring-start-stop", "Monitoring: start / stop canary", "p", "monitoring('start_stop')",
               "Start the canary under the cursor, or stop it when it runs"),
    AppCommand("monitoring-install", "Monitoring: install the CloudWatch agent", "i", "monitoring('install_agent')",
               "AWS-ConfigureAWSPackage (AmazonCloudWatchAgent) then AmazonCloudWatch-ManageAgent (configure, "
               "start) on the selected nodes (space here, or the Fleet selection), with progress per node"),
    AppCommand("monitoring-filter", "Monitoring: filter", "slash", "monitoring('filter')",
               "Filter the table in front of you: words, state:ALARM, region:…, !negate"),
)

# Keys of the Overview tab (the home screen).
OVERVIEW_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("overview-open", "Overview: explain this line", "enter", "overview('open')",
               "Jump to the tab that explains the line under the cursor, filtered to it"),
    AppCommand("overview-bell", "Overview: bell on/off", "b", "overview('toggle_bell')",
               "Ring the terminal bell when an alarm enters ALARM or a canary starts failing"),
)

# Keys of the Backup tab (bound on BackupView; which ones apply depends on the panel in front of you).
BACKUP_COMMANDS: tuple[AppCommand, ...] = (
    AppCommand("backup-jobs", "Backup: jobs", "1", "backup('jobs')",
               "Backup, copy and restore jobs of every region, failures and completed-with-issues first"),
    AppCommand("backup-plans", "Backup: plans", "2", "backup('plans')",
               "Plans: rules (schedule in words, windows, retention, copies) and selections"),
    AppCommand("backup-points", "Backup: recovery points", "3", "backup('points')",
               "Vaults of every region and the recovery points of the vault under the cursor"),
    AppCommand("backup-files", "Backup: S3 files", "4", "backup('files')",
               "S3 buckets (versioning, lifecycle, newest object); enter lists objects and versions under a prefix"),
    AppCommand("backup-range", "Backup: time range", "t", "backup('cycle_range')",
               "Jobs of the last 24 h -> 7 days -> 30 days (reloads)"),
    AppCommand("backup-state", "Backup: state filter", "s", "backup('cycle_state')",
               "Jobs: all -> problems -> FAILED -> EXPIRED -> ABORTED -> with issues -> running -> completed"),
    AppCommand("backup-filter", "Backup: filter by resource", "slash", "backup('filter')",
               "Jobs: type a resource name, instance id or ARN (kind and vault are in the filter bar)"),
    AppCommand("backup-new-plan", "Backup: new plan", "n", "backup('new_plan')",
               "Create a plan in one form: name, daily time, keep N days, copy to a region, all EC2 instances "
               "(disabled in read-only mode)"),
    AppCommand("backup-now", "Backup: back up the Fleet selection now", "b", "backup('backup_now')",
               "StartBackupJob for each selected EC2 instance of the Fleet, after a confirmation "
               "(disabled in read-only mode)"),
    AppCommand("backup-restore", "Backup: restore recovery point", "R", "backup('restore')",
               "StartRestoreJob of the point under the cursor (a new instance), after a confirmation "
               "(disabled in read-only mode)"),
    AppCommand("backup-upload", "Backup: upload a file to S3", "u", "backup('upload')",
               "Upload a local file under the prefix shown (multipart above 8 MB, with progress; "
               "disabled in read-only mode)"),
    AppCommand("backup-download", "Backup: download from S3", "d", "backup('download')",
               "Download the object version under the cursor to a local path, with progress"),
    AppCommand("backup-sort", "Backup: sort by next column", "o", "backup('sort_next')",
               "Order the table in front of you by the next column"),
)

NAVIGATION_HELP: tuple[tuple[str, str], ...] = (
    ("↑ ↓ / j k", "Move the cursor"),
    ("PgUp PgDn / ctrl+b ctrl+f", "Page"),
    ("home end / g G", "First / last row"),
    ("← → / h l", "Scroll columns"),
    ("ctrl+p", "Command palette (every action, switch profile or region)"),
    ("tab / shift+tab", "Move focus"),
)


def key_label(key: str) -> str:
    return {"question_mark": "?", "colon": ":", "slash": "/", "space": "space", "escape": "esc",
            "ctrl+right_square_bracket": "ctrl+]", "shift+pageup": "shift+PgUp/PgDn"}.get(key, key)
