"""Progress for the backup commands: a bar per stage on a terminal, one line per stage in a
log (cron mails whatever is printed, so no bars there)."""

from __future__ import annotations

import sys

import click


class StageProgress:
    def __init__(self, command: str):
        self.command = command
        self.tty = sys.stdout.isatty()
        self.stage: str | None = None
        self.bar = None
        self.done = 0
        self.total = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage, self.total = stage, total
            if self.tty:
                self.bar = click.progressbar(length=max(total, 1), label=f"{self.command}: {stage}")
                self.bar.__enter__()
        if self.bar is not None:
            self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
        elif self.stage is not None:
            click.echo(f"{self.command}: {self.stage} {self.done}/{self.total}")
        self.stage, self.done = None, 0
