"""A GPU window's processes and the rules of what it brings back (``$OUT``)."""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from .common import ROOT

#: The rules of ``$OUT``: what the device tool brings back.
MAX_FILES, MAX_DEPTH, MAX_BYTES = 8, 2, 16 * 2**20
NAME_OK = re.compile(r"^[A-Za-z0-9._-]+$")


def _own_group_dying_with_parent():
    """In the child: a process group of its own (so a time limit can stop the step
    with everything it started), killed when the driver dies (a window's hard
    kill must not leave a step running on: Linux's PR_SET_PDEATHSIG)."""
    os.setpgrp()
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_command(command, timeout, env):
    """Run ``command`` in its own process group, streaming its output; kill it at ``timeout``.

    Returns (return code or None when killed, its output lines: the last 5,000).
    """
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        preexec_fn=_own_group_dying_with_parent,
    )
    tail = collections.deque(maxlen=5000)
    deadline = time.time() + timeout
    killed = False
    os.set_blocking(proc.stdout.fileno(), False)
    while True:
        line = proc.stdout.readline()
        if line:
            print(line, end="", flush=True)
            tail.append(line.rstrip())
            continue
        if proc.poll() is not None:
            rest = proc.stdout.read() or ""
            for extra in rest.splitlines():
                print(extra, flush=True)
                tail.append(extra)
            break
        if time.time() > deadline and not killed:
            print(f"[campaign] time limit ({timeout:.0f} s): stopping the step", flush=True)
            for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            killed = True
        time.sleep(0.05)
    return (None if killed else proc.returncode), list(tail)


def check_out_dir(out):
    """Every way ``out`` breaks the rules of what a window brings back (empty: none)."""
    out = Path(out)
    problems, files = [], []
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out)
        if not NAME_OK.match(path.name):
            problems.append(f"{rel}: name has characters other than letters, digits, '.', '_', '-'")
        if path.is_symlink():
            problems.append(f"{rel}: a link")
        elif path.is_file():
            files.append(rel)
            if len(rel.parts) - 1 > MAX_DEPTH:
                problems.append(f"{rel}: more than {MAX_DEPTH} folders deep")
            if path.stat().st_size > MAX_BYTES:
                problems.append(f"{rel}: {path.stat().st_size} bytes, over {MAX_BYTES}")
    if len(files) > MAX_FILES:
        problems.append(f"{len(files)} files, over {MAX_FILES}: {[str(f) for f in files]}")
    return problems
