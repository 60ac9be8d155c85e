"""CPU time of process trees and of the whole machine, read from /proc (no psutil)."""

from __future__ import annotations

import os
from dataclasses import dataclass

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(comm, ppid, CPU seconds of the process and of its reaped children)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17.
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return comm, ppid, (utime + stime + cutime + cstime) / TICK


def _all() -> dict[int, tuple[str, int, float]]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None:
                out[int(name)] = st
    return out


def tree_cpu(root: int, table: dict | None = None) -> float:
    """CPU seconds of ``root`` and every live descendant, reaped children included.

    Counting cutime/cstime of every live process in the tree keeps the total consistent
    when a worker exits between two readings: its time moves into its parent's cutime.
    """
    table = table if table is not None else _all()
    children: dict[int, list[int]] = {}
    for pid, (_comm, ppid, _cpu) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            total += table[pid][2]
            todo.extend(children.get(pid, []))
    return total


def find_roots(comm: str, table: dict | None = None) -> list[int]:
    """Processes named ``comm`` whose parent has another name (the postmaster, redis-server)."""
    table = table if table is not None else _all()
    return [pid for pid, (c, ppid, _) in table.items() if c == comm and table.get(ppid, ("",))[0] != comm]


def machine_cpu() -> tuple[float, float]:
    """(busy seconds, total seconds) summed over all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as fh:
        parts = fh.readline().split()[1:]
    values = [int(x) for x in parts[:8]]  # user nice system idle iowait irq softirq steal
    idle = values[3] + values[4]
    total = sum(values)
    return (total - idle) / TICK, total / TICK


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def postgres_cpu(database: str, table: dict) -> dict[int, float]:
    """CPU seconds of the PostgreSQL processes that work for ``database``.

    The server is shared with other jobs (test databases): count the backends connected to
    ``database`` and the server's own background processes (WAL writer, checkpointer, …),
    not the other databases' backends. Only a process's own time: a backend that exits
    between two readings loses what it did since the first one (the app keeps its
    connections, CONN_MAX_AGE, so this is rare).
    """
    out = {}
    for root in find_roots("postgres", table):
        for pid, (comm, ppid, _) in table.items():
            if ppid != root or comm != "postgres":
                continue
            title = _cmdline(pid)
            is_backend = "(" in title or "[local]" in title
            if not is_backend or f" {database} " in title:
                st = _stat_self(pid)
                if st is not None:
                    out[pid] = st
    return out


def _stat_self(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@dataclass
class Snapshot:
    gunicorn: float
    postgres: dict[int, float]
    redis: float
    machine_busy: float
    machine_total: float
    children: float  # this process's reaped children (the load generators)


def snapshot(gunicorn_pid: int, database: str = "idp_bench") -> Snapshot:
    table = _all()
    busy, total = machine_cpu()
    rus = os.times()
    return Snapshot(
        gunicorn=tree_cpu(gunicorn_pid, table),
        postgres=postgres_cpu(database, table),
        redis=sum(tree_cpu(p, table) for p in find_roots("redis-server", table)),
        machine_busy=busy,
        machine_total=total,
        children=rus.children_user + rus.children_system,
    )


def delta(before: Snapshot, after: Snapshot) -> dict[str, float]:
    return {
        "gunicorn": after.gunicorn - before.gunicorn,
        "postgres": sum(cpu - before.postgres.get(pid, 0.0) for pid, cpu in after.postgres.items()),
        "redis": after.redis - before.redis,
        "client": after.children - before.children,
        "machine_busy": after.machine_busy - before.machine_busy,
        "machine_total": after.machine_total - before.machine_total,
    }


def machine_info() -> dict[str, str]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": str(len(os.sched_getaffinity(0))), "cpu": model}
