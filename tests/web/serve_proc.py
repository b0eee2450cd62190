"""``devtrack serve`` as a real process, its stdout on a terminal (a pty) or a plain file.

Why a pty: the login link holding the access token is printed only to a terminal, the
owner's; redirected output (a log file) gets the token file's path instead.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

URL_RE = re.compile(r"(http://127\.0\.0\.1:\d+)/")
LOGIN_RE = re.compile(r"(http://127\.0\.0\.1:\d+/login\?token=[A-Za-z0-9_.~%-]+)")
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class ServeProcess:
    """``with ServeProcess(env, tmp, tty=True) as s: s.url, s.out``; stopped (SIGTERM) on exit."""

    def __init__(self, env: dict[str, str], workdir: Path, *args: str, tty: bool = True) -> None:
        self.env, self.workdir, self.args, self.tty = env, workdir, args, tty
        self.url = ""
        self._chunks: list[str] = []
        self._err_path = workdir / "serve-err.txt"
        self._out_path = workdir / "serve-out.txt"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def out(self) -> str:
        text = "".join(self._chunks) if self.tty else self._out_path.read_text()
        return ANSI_RE.sub("", text).replace("\r\n", "\n")

    @property
    def err(self) -> str:
        return self._err_path.read_text()

    def __enter__(self) -> ServeProcess:
        argv = [sys.executable, "-m", "devtrack.cli.app", "serve", "--port", "0", *self.args]
        with self._err_path.open("w") as err:
            if self.tty:
                master, slave = pty.openpty()
                self.proc = subprocess.Popen(argv, cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
                                             stdout=slave, stderr=err)
                os.close(slave)
                threading.Thread(target=self._drain, args=(master,), daemon=True).start()
            else:
                with self._out_path.open("w") as out:  # a file: a full pipe would stall the server
                    self.proc = subprocess.Popen(argv, cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
                                                 stdout=out, stderr=err)
        self.url = self.wait_for(URL_RE).group(1)
        self.wait_for(re.compile("Ctrl\\+C"))  # everything about logging in is printed by then
        return self

    def wait_for(self, pattern: re.Pattern[str], limit: float = 90.0) -> re.Match[str]:
        """The first match of ``pattern`` in stdout, once the server printed it."""
        deadline = time.monotonic() + limit
        while not (m := pattern.search(self.out)):
            assert self.proc is not None
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"devtrack serve printed no {pattern.pattern!r}:\n{self.out}\n{self.err}")
            time.sleep(0.05)
        return m

    def _drain(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            self._chunks.append(data.decode("utf-8", "replace"))
        os.close(fd)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
