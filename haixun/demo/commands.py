"""What the ``haixun`` command line offers right now.

The demo and the compose-file test ask the real parser (``haixun.cli.build_parser``)
whether a subcommand such as ``simulate replay`` exists and which options it
takes, so that a component another package has not delivered yet is reported
instead of crashing the demo.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CommandInfo:
    path: tuple[str, ...]
    options: frozenset[str]  # option strings, e.g. {"--speed", "-s"}
    has_func: bool           # a leaf that runs something (not only a group)


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def list_commands(parser: argparse.ArgumentParser) -> dict[tuple[str, ...], CommandInfo]:
    """Every subcommand path of ``parser`` (e.g. ``("simulate", "replay")``)."""
    out: dict[tuple[str, ...], CommandInfo] = {}

    def walk(p: argparse.ArgumentParser, prefix: tuple[str, ...]) -> None:
        sub = _subparsers(p)
        if sub is None:
            return
        for name, child in sub.choices.items():
            path = (*prefix, name)
            options = frozenset(s for a in child._actions for s in a.option_strings)
            out[path] = CommandInfo(path, options, child.get_default("func") is not None)
            walk(child, path)

    walk(parser, ())
    return out


class CommandCatalog:
    """The ``haixun`` subcommands available in this installation."""

    def __init__(self, parser: argparse.ArgumentParser | None = None) -> None:
        if parser is None:
            from haixun.cli import build_parser

            parser = build_parser()
        self.parser = parser
        self.commands = list_commands(parser)

    def has(self, path: Sequence[str]) -> bool:
        info = self.commands.get(tuple(path))
        return info is not None and info.has_func

    def accepts(self, path: Sequence[str], option: str) -> bool:
        info = self.commands.get(tuple(path))
        return info is not None and option in info.options

    def resolve(self, argv: Sequence[str]) -> tuple[str, ...] | None:
        """The longest known command path at the start of ``argv`` (options skipped), if runnable."""
        words = [w for w in argv if not w.startswith("-")]
        best: tuple[str, ...] | None = None
        for n in range(1, len(words) + 1):
            path = tuple(words[:n])
            if path in self.commands:
                best = path
            else:
                break
        return best if best is not None and self.has(best) else None

    def parses(self, argv: Sequence[str]) -> bool:
        """True if ``haixun <argv>`` parses to a runnable command (no execution)."""
        try:
            args = self.parser.parse_args(list(argv))
        except SystemExit:
            return False
        return getattr(args, "func", None) is not None
