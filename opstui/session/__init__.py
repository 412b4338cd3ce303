"""Session Manager data channel, spoken natively (no session-manager-plugin): asyncio, no Textual.

`codec` is the wire format (shared with the sandbox's agent), `channel` the reliable stream over a websocket,
`shell` the small API the terminal widget and `opstui shell` use.
"""
