"""Optional py-spy profile of the server during a measured phase (`--profile`).

py-spy samples the server's Python stacks from outside (ptrace; root or CAP_SYS_PTRACE), in
non-blocking mode so the server is not paused. The raw collapsed stacks are kept next to the
JSON, and the functions that were on CPU the most (self samples) are printed, which is what
bench/README.md quotes under "what limits each figure".
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


class Profiler:
    def __init__(self, pid: int, out: Path, seconds: float) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--format", "raw",
             "--rate", "200", "--duration", str(max(1, int(seconds))), "--output", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip

    def finish(self, top: int = 15) -> list[tuple[str, float]]:
        """Wait for py-spy; return the functions with the largest share of self samples."""
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return []
        if not self.out.exists():
            print(f"py-spy failed: {err.decode(errors='replace')[-300:]}", file=sys.stderr)
            return []
        return hot_functions(self.out.read_text(errors="replace"), top)


def hot_functions(collapsed: str, top: int) -> list[tuple[str, float]]:
    own: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        own[leaf] = own.get(leaf, 0) + int(count)
        total += int(count)
    ranked = sorted(own.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return [(name, round(100.0 * n / total, 1)) for name, n in ranked] if total else []
