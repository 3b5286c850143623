"""Run one file's analysis in a child process, so that a crash costs that file only.

LibCST's parser is native code: on input it cannot handle it may overflow its stack and
kill the process (SIGSEGV) rather than raise. The screen (:mod:`walint.screen`) sends the
files that come near such input here; everything else is analysed in-process.
"""

from __future__ import annotations

import multiprocessing
import signal
from typing import Any, Callable, Tuple


class Crashed(Exception):
    """The child process died before answering; the message says how."""


def isolated() -> bool:
    """Is this process already a child that analyses files (a pool worker, or one of
    ours)? Then a crash already costs only the file, and a grandchild would add nothing."""
    return multiprocessing.parent_process() is not None


def _child(connection: Any, function: Callable[..., Any], args: Tuple[Any, ...]) -> None:
    try:
        outcome = ("value", function(*args))
    except BaseException as error:  # handed to the parent
        outcome = ("error", error)
    try:
        connection.send(outcome)
    except Exception as error:  # an unpicklable answer
        connection.send(("error", RuntimeError(f"cannot return the result: {error}")))
    connection.close()


def run_isolated(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a fresh child process: its value, or its exception raised
    here; :class:`Crashed` when the child dies without answering.

    ``function`` and ``args`` are pickled: ``function`` must be importable by name.
    """
    # spawn: no inherited state (threads, locks), the same on every platform.
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, function, args), name="walint-isolated", daemon=True)
    child.start()
    sender.close()
    try:
        try:
            kind, payload = receiver.recv()
        except EOFError:
            child.join()
            raise Crashed(_how(child.exitcode)) from None
    finally:
        receiver.close()
    child.join()
    if kind == "error":
        raise payload
    return payload


def _how(exitcode: Any) -> str:
    if isinstance(exitcode, int) and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"killed by {name}"
    return f"exit status {exitcode}"
