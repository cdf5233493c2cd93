"""Which backend worker process holds which connection, read from Linux's /proc (no change to the
app): the TCP sockets on the backend's port that are ESTABLISHED, by the process owning them."""

from __future__ import annotations

import os
from pathlib import Path

_ESTABLISHED = "01"


def _group_pids(process_group: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp ...
        if int(fields[2]) == process_group:
            pids.append(int(entry.name))
    return pids


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def _established_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == _ESTABLISHED:
                inodes.add(fields[9])
    return inodes


def connections_by_worker(process_group: int, port: int) -> dict[int, set[str]]:
    """pid -> inodes of the server-side connections on `port` that this process holds."""
    established = _established_inodes(port)
    held = {pid: _socket_inodes(pid) & established for pid in _group_pids(process_group)}
    return {pid: inodes for pid, inodes in held.items() if inodes}


def new_connection_worker(before: dict[int, set[str]], after: dict[int, set[str]]) -> int | None:
    """The worker that holds a connection present in `after` but not in `before` (one new socket)."""
    for pid, inodes in after.items():
        if inodes - before.get(pid, set()):
            return pid
    return None
