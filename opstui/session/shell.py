"""`open_shell`: the small API the terminal widget and `opstui shell` share.

    async with open_shell(aws, region, "i-0123…", size=(120, 40)) as s:
        await s.send(b"ls\r")
        s.resize(100, 30)
        async for chunk in s:
            ...
        s.exit_code

StartSession, ResumeSession and TerminateSession go through the aws layer (so --read-only refuses them and
errors arrive as OpsError); the data channel itself is opstui.session.channel.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from opstui.aws import ssm
from opstui.aws.clients import AwsClients
from opstui.session.channel import DataChannel, SessionError


@contextlib.asynccontextmanager
async def open_shell(
    aws: AwsClients,
    region: str,
    target: str,
    *,
    document: str | None = None,
    parameters: dict[str, list[str]] | None = None,
    size: tuple[int, int] | None = None,
    resume_timeout: float = 60.0,
    ready_timeout: float = 30.0,
    on_stderr: Callable[[bytes], None] | None = None,
) -> AsyncIterator[DataChannel]:
    """Start a session on `target` and yield its ready DataChannel; terminate it on the way out.

    `on_stderr` (set before the channel starts, so no early frame misses it) takes a non-interactive
    command's StdErr stream and the service's CustomerMessage apart from the output; see DataChannel."""
    started = await ssm.start_session(aws, region, target, document=document, parameters=parameters)

    async def resume() -> str:
        return await ssm.resume_session(aws, region, started.session_id)

    async def terminate() -> None:
        await ssm.terminate_session(aws, region, started.session_id)

    channel = DataChannel(
        stream_url=started.stream_url,
        token=started.token,
        session_id=started.session_id,
        resume=resume,
        terminate=terminate,
        resume_timeout=resume_timeout,
        ready_timeout=ready_timeout,
    )
    channel.on_stderr = on_stderr
    if size:
        channel.resize(*size)
    try:
        await channel.start()
    except SessionError:
        await channel.close(terminate=False)
        raise
    try:
        yield channel
    finally:
        # cancelled (ctrl+c, the app quitting): still TerminateSession, but no lingering for the reason
        task = asyncio.current_task()
        quitting = task is not None and task.cancelling() > 0
        await channel.close(terminate=channel.state != "closed", linger=0 if quitting else 2.0)


__all__ = ["open_shell", "DataChannel", "SessionError"]
