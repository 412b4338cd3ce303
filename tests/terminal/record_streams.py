"""Record the raw output of local commands run in a pseudo-terminal, as test fixtures.

    .venv/bin/python tests/terminal/record_streams.py     # rewrites tests/terminal/streams/*.bin

Each command runs with TERM=xterm-256color in an 80x24 pty; the bytes it writes are stored unchanged.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import sys
import termios
from pathlib import Path

HERE = Path(__file__).resolve().parent
STREAMS = HERE / "streams"
COLS, ROWS = 80, 24

CURSES_APP = r"""
import curses, time
def main(scr):
    curses.start_color(); curses.use_default_colors()
    for i, c in enumerate([curses.COLOR_RED, curses.COLOR_GREEN, curses.COLOR_YELLOW, curses.COLOR_BLUE], 1):
        curses.init_pair(i, c, -1)
    curses.init_pair(5, curses.COLOR_WHITE, curses.COLOR_BLUE)
    scr.addstr(0, 0, " opstui curses test ".ljust(80)[:79], curses.color_pair(5) | curses.A_BOLD)
    for i in range(1, 20):
        scr.addstr(i, 2, f"row {i:02d} " + "data " * (i % 7), curses.color_pair(1 + i % 4))
    scr.addstr(21, 5, "bold", curses.A_BOLD); scr.addstr(21, 12, "reverse", curses.A_REVERSE)
    scr.addstr(21, 22, "underline", curses.A_UNDERLINE)
    scr.refresh(); curses.napms(30)
    for i in range(3, 12):
        scr.move(i, 40); scr.clrtoeol(); scr.addstr(i, 40, f"updated {i}", curses.color_pair(2))
    scr.addstr(22, 0, "\u4e2d\u6587\u5b57 wide chars")
    scr.refresh(); curses.napms(30)
    scr.move(5, 0); scr.deleteln(); scr.move(8, 0); scr.insertln(); scr.addstr(8, 0, "inserted line")
    scr.refresh(); curses.napms(30)
curses.wrapper(main)
print("after curses")
"""

PRINTF_MOVES = (
    r"printf 'top left\r\n\tTAB\tTAB2\r\nabc\bX\r\n"
    r"\033[10;20Hat 10,20\033[3Aup3\033[2Bdown2\033[5Cfwd5\033[12Dback12"
    r"\033[5;1Hline five to be cut\033[5;10H\033[K"
    r"\033[6;1Hkeep this\033[1K\033[7;1H"
    r"\033[1;31mred bold\033[0m \033[42mgreen bg\033[0m \033[7mreverse\033[27m \033[4munder\033[24m"
    r"\033[38;5;208m orange256\033[48;2;10;20;30m truecolor bg\033[0m\r\n"
    r"\033[15;5Hpartial\033[15;1H\033[2K\033[16;1Hwill stay\033[J\033[20;1Hbottom\033[22;70H\033[1J'"
)

CJK = (
    "printf '%s\\r\\n' "
    "'中文字符测试 CJK text' "
    "'日本語のテキスト と ひらがな' "
    "'한국어 텍스트' "
    "'mixed ascii 中文 and more ascii 漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字' "
    "'emoji 😀 🎉 done'"
)

COMMANDS = {
    "ls_color": ["ls", "--color=always", "-C", "/usr/bin"],
    "ls_long": ["sh", "-c", "ls -la --color=always /usr/lib | head -120"],
    "seq": ["seq", "1", "3000"],
    "printf_moves": ["sh", "-c", PRINTF_MOVES],
    "cjk": ["sh", "-c", CJK],
    "long_lines": ["sh", "-c", "for i in $(seq 1 40); do printf 'line %03d ' $i; head -c 230 /dev/zero | tr '\\0' x; printf '\\r\\n'; done"],
    "curses": [sys.executable, "-c", CURSES_APP],
}


def record(argv: list[str]) -> bytes:
    pid, fd = pty.fork()
    if pid == 0:  # child: size the terminal, then run the command
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(COLS), LINES=str(ROWS), LANG="C.UTF-8")
        os.execvpe(argv[0], argv, env)
    out = bytearray()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    return bytes(out)


def main() -> None:
    STREAMS.mkdir(exist_ok=True)
    for name, argv in COMMANDS.items():
        data = record(argv)
        (STREAMS / f"{name}.bin").write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
