"""Measure the Inventory tab at scale and print the numbers (issue 6, section 4).

    .venv/bin/python bench/inventory.py              # 1,000 nodes x 500 applications; browse of 2,000 entries
    .venv/bin/python bench/inventory.py 300 200 1000 # other sizes: nodes, apps per node, entries to browse

Fleet-wide application search (`openssl`, every version): time to answer (the GetInventory calls of every
region: one aggregated call for the versions, then the nodes per version, 50 a page) and time to render (rows
built and the table repainted), API calls per search. Per-node browse: one node's AWS:Application with N
entries (ListInventoryEntries, 50 a page): time to fetch, time to render, and the app process's RSS growth.
The sandbox runs in a child process (its `apps_per_node` knob sets the applications every node reports); the
app runs headless (Textual's run_test) as in `opstui --demo`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import at_latency  # noqa: E402
from opstui.app import OpsApp  # noqa: E402
from opstui.config import Settings  # noqa: E402
from opstui.demo import SandboxProcess  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def knob(sandbox: SandboxProcess, apps: int) -> None:
    sandbox.control("POST", "inventory", {"apps_per_node": apps}, timeout=600)


async def until(predicate, timeout: float = 600.0) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.01)


async def measure(nodes: int, apps: int, entries: int, latency: str = "0") -> dict[str, object]:
    result: dict[str, object] = {"nodes": nodes, "applications per node": apps, "latency": latency}
    with SandboxProcess(nodes=nodes, live=False, timeout=600, latency=latency) as sandbox:
        result["sandbox ready (s)"] = round(sandbox.ready_seconds, 2)
        knob(sandbox, apps)
        settings = Settings(regions=tuple(sandbox.regions), endpoint_url=sandbox.endpoint, refresh=3600, demo=True,
                            fleet_cache=False)
        app = OpsApp(settings, credentials=sandbox.aws_credentials())
        async with app.run_test(size=(200, 50)) as pilot:
            await until(lambda: app.fleet_view.refreshes >= 1)
            app.show_tab("inventory")
            view = app.inventory_view
            started = time.perf_counter()
            await until(lambda: view.node_loads >= 1 and view.setup_loads >= 1)
            await pilot.pause()
            result["node list (s)"] = round(time.perf_counter() - started, 2)
            result["nodes with inventory"] = len(view.nodes)
            # warm-up search (first GetInventory on each region materialises the sandbox's index)
            view.show_panel("find")
            view.start_search("bash")
            await until(lambda: view.searches >= 1)
            before = app.aws.calls.copy()
            started = time.perf_counter()
            view.start_search("openssl")
            await until(lambda: view.searches >= 2)
            await pilot.pause()  # the repaint
            total = time.perf_counter() - started
            matches = view.table("inv-matches")
            result["search: nodes found"] = len({r.node_key for r in matches.rows})
            result["search: versions"] = len(view.table("inv-versions").rows)
            result["search: answer (s)"] = round(view.last_search_seconds, 3)
            result["search: render (s)"] = round(total - view.last_search_seconds, 3)
            result["search: API calls"] = sum((app.aws.calls - before).values())
            started = time.perf_counter()
            view.start_search("openssl", "LessThan", "3.0.13")
            await until(lambda: view.searches >= 3)
            await pilot.pause()
            result["search version < 3.0.13: total (s)"] = round(time.perf_counter() - started, 3)
        app.close_aws()
    # per-node browse: one node with `entries` applications
    with SandboxProcess(nodes=24, live=False, timeout=600, latency=latency) as sandbox:
        knob(sandbox, entries)
        settings = Settings(regions=tuple(sandbox.regions), endpoint_url=sandbox.endpoint, refresh=3600, demo=True,
                            fleet_cache=False)
        app = OpsApp(settings, credentials=sandbox.aws_credentials())
        async with app.run_test(size=(200, 50)) as pilot:
            await until(lambda: app.fleet_view.refreshes >= 1)
            app.show_tab("inventory")
            view = app.inventory_view
            await until(lambda: view.node_loads >= 1 and view.entry_loads >= 1)
            nodes_table, types = view.table("inv-nodes"), view.table("inv-types")
            target = next(i for i, r in enumerate(nodes_table.rows) if r.name != "prod-web-01"
                          and r.node.platform_type == "Linux")
            nodes_table.move_cursor(nodes_table.order_shown.index(target))
            await until(lambda: view.entries_info is not None and view.entries_info[0].key
                        == nodes_table.rows[target].key)
            row = next(i for i, t in enumerate(types.rows) if t.type_name == "AWS:Application")
            rss_before = rss_mb()
            loads = view.entry_loads
            before = app.aws.calls.copy()
            started = time.perf_counter()
            types.move_cursor(row)
            await until(lambda: view.entry_loads > loads)
            await pilot.pause()
            total = time.perf_counter() - started - 0.1  # the cursor debounce
            result["browse: entries"] = len(view.table("inv-entries").rows)
            result["browse: ListInventoryEntries calls"] = (app.aws.calls - before)["ssm:ListInventoryEntries"]
            result["browse: fetch + render (s)"] = round(total, 3)
            result["browse: render (s)"] = round(view.last_entries_render_seconds, 3)
            started = time.perf_counter()
            await pilot.press("o")
            await pilot.pause()
            result["browse: sort (ms)"] = round((time.perf_counter() - started) * 1000, 1)
            result["browse: RSS growth (MB)"] = round(rss_mb() - rss_before, 1)
            result["app RSS (MB)"] = round(rss_mb(), 0)
        app.close_aws()
    return result


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("nodes", nargs="?", type=int, default=1000, help="fleet size (1000)")
    parser.add_argument("apps", nargs="?", type=int, default=500, help="applications per node (500)")
    parser.add_argument("entries", nargs="?", type=int, default=2000, help="entries of the browsed node (2000)")
    at_latency.add_argument(parser)
    args = parser.parse_args(argv)
    nodes, apps, entries = args.nodes, args.apps, args.entries
    results = {lat: asyncio.run(measure(nodes, apps, entries, lat)) for lat in at_latency.chosen(args)}
    at_latency.print_columns(results, width=60)


if __name__ == "__main__":
    main(sys.argv[1:])
