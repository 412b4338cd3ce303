"""Regenerate the README's screenshots from the demo sandbox: `.venv/bin/python screenshots/make.py`.

Runs the real app headless against a frozen (no churn) default-scenario sandbox and saves Textual SVG
screenshots next to this file.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from opstui.app import OpsApp  # noqa: E402
from opstui.aws.clients import StaticCredentials  # noqa: E402
from opstui.config import Settings  # noqa: E402
from opstui.demo import SandboxProcess  # noqa: E402

SIZE = (170, 44)


async def shoot() -> list[Path]:
    made: list[Path] = []
    with SandboxProcess(live=False) as sandbox:
        settings = Settings(regions=tuple(sandbox.regions), endpoint_url=sandbox.endpoint, refresh=3600, demo=True)
        app = OpsApp(settings, credentials=StaticCredentials("testing", "testing"))
        async with app.run_test(size=SIZE) as pilot:
            view = app.fleet_view
            while view.refreshes < 1:
                await asyncio.sleep(0.05)
            await pilot.pause(0.3)
            made.append(Path(app.save_screenshot("fleet.svg", str(HERE))))
            await pilot.press("down", "down", "space", "down", "space", "enter")
            await pilot.pause(0.3)
            made.append(Path(app.save_screenshot("fleet-detail.svg", str(HERE))))
            await pilot.press("enter", "slash", *"tag:Env=prod !ping:Online")
            await pilot.pause(0.3)
            made.append(Path(app.save_screenshot("fleet-filter.svg", str(HERE))))
            await pilot.press("escape", "question_mark")
            await pilot.pause(0.3)
            made.append(Path(app.save_screenshot("help.svg", str(HERE))))
        app.close_aws()
    return made


if __name__ == "__main__":
    for path in asyncio.run(shoot()):
        print(path)
