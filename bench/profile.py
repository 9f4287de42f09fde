"""py-spy against the server process during a measurement window, and what its samples say.

py-spy records collapsed stacks (`--format raw`, one `frame;frame;... count`
line per distinct stack). From them this module writes a text summary (self
and inclusive time per function and per source line, and a breakdown by
layer: event loop idle, psycopg, gRPC, protobuf, SQLAlchemy, asyncio, logging,
the service's own code) and an SVG flame graph, both under bench/results/.
"""

from __future__ import annotations

import html
import re
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.infra import die_with_parent

# py-spy frames look like `function (path/to/file.py:123)`; native ones may lack the line.
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]*)(?::(?P<line>\d+))?\)$")
_IDLE_LEAVES = {"select", "poll", "epoll_wait", "epoll_pwait", "_run_once_idle", "wait", "__wait", "sleep"}

# The first match from the leaf up decides which layer a sample's time belongs to; a pattern is
# matched against "function (file)". Frames of no layer (libc, json, the interpreter) count for
# the first caller that has one.
LAYERS: list[tuple[str, re.Pattern[str]]] = [
    ("psycopg (driver, adaptation, libpq)", re.compile(r"psycopg|libpq")),
    ("protobuf (messages, (de)serialisation)", re.compile(r"google/protobuf|_message\.|upb|protobuf")),
    ("sqlalchemy", re.compile(r"sqlalchemy")),
    # The interceptor's one JSON log line per call (json.dumps has no layer: its caller decides).
    (
        "per-call log line (call_scope._log, logging)",
        re.compile(r"[/(]logging/|^CallScope\._log \(.*server/api/call_scope"),
    ),
    ("grpc (cython aio server, C core)", re.compile(r"grpc")),
    ("wallet service code (server/)", re.compile(r"[/(]server/")),
    ("asyncio event loop (scheduling, tasks, futures)", re.compile(r"asyncio")),
]


@dataclass
class Frame:
    function: str
    file: str
    line: int | None

    @property
    def where(self) -> str:
        short = _shorten(self.file)
        return f"{self.function} ({short}:{self.line})" if self.line else f"{self.function} ({short})"

    @property
    def function_key(self) -> str:
        return f"{self.function} ({_shorten(self.file)})"


def _shorten(path: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/", "/wt-bench/", "/work/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def parse_frame(text: str) -> Frame:
    match = _FRAME.match(text.strip())
    if not match:
        return Frame(text.strip(), "", None)
    line = match.group("line")
    return Frame(match.group("function"), match.group("file") or "", int(line) if line else None)


def read_collapsed(path: Path) -> list[tuple[list[Frame], int]]:
    stacks = []
    for raw in path.read_text(errors="replace").splitlines():
        head, _, count = raw.rpartition(" ")
        if not head or not count.isdigit():
            continue
        stacks.append(([parse_frame(part) for part in head.split(";")], int(count)))
    return stacks


def _is_idle(frames: list[Frame]) -> bool:
    return bool(frames) and (
        frames[-1].function in _IDLE_LEAVES or any(f.function == "select" and "selectors" in f.file for f in frames)
    )


def layer_of(frames: list[Frame]) -> str:
    for frame in reversed(frames):
        text = f"{frame.function} ({frame.file})"
        for name, pattern in LAYERS:
            if pattern.search(text):
                return name
    return "other (interpreter, stdlib)"


def _split_thread(frames: list[Frame]) -> tuple[str, list[Frame]]:
    """py-spy --threads puts `thread (tid): name` first; returns the thread's name and the rest."""
    if frames and frames[0].function.startswith("thread ("):
        return frames[0].function.split(": ", 1)[-1], frames[1:]
    return "all threads", frames


def summarise(path: Path, title: str, top: int = 30) -> str:
    """A plain-text report of one py-spy recording: threads, then the event loop thread's busy time."""
    threads: Counter[str] = Counter()
    idle_by_thread: Counter[str] = Counter()
    main: list[tuple[list[Frame], int]] = []
    for frames, count in read_collapsed(path):
        thread, frames = _split_thread(frames)
        threads[thread] += count
        if _is_idle(frames):
            idle_by_thread[thread] += count
        elif thread in ("MainThread", "all threads"):
            main.append((frames, count))
    if not threads:
        return f"# {title}\n\nno samples\n"
    busy = sum(count for _, count in main)

    def pct(n: int, of: int) -> str:
        return f"{100.0 * n / of:5.1f}%" if of else "  n/a"

    out = [
        f"# {title}",
        "",
        "## Threads (share of each thread's samples spent busy, i.e. not waiting in epoll)",
        "",
    ]
    for thread, count in threads.most_common():
        out.append(f"{pct(count - idle_by_thread[thread], count)} busy  {thread} ({count} samples)")
    out += ["", "Everything below is about the busy samples of the main thread (the asyncio event loop)."]
    if not busy:
        return "\n".join(out) + "\n"

    self_functions: Counter[str] = Counter()
    self_lines: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    inclusive_lines: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    syscalls: Counter[str] = Counter()
    for frames, count in main:
        leaf = frames[-1]
        self_functions[leaf.function_key] += count
        self_lines[leaf.where] += count
        layer = layer_of(frames)
        layers[layer] += count
        if leaf.file.startswith("libc"):
            syscalls[f"{leaf.function} from {layer}"] += count
        for key in {f.function_key for f in frames}:
            inclusive[key] += count
        for key in {f.where for f in frames if "server/" in f.file}:
            inclusive_lines[key] += count

    out += ["", "## Busy time by layer (the innermost frame that belongs to a layer decides)", ""]
    for name, count in layers.most_common():
        out.append(f"{pct(count, busy)}  {name}")
    out += [
        "",
        f"## In libc (system calls, and malloc/free): {pct(sum(syscalls.values()), busy)} of busy time",
        "",
    ]
    for name, count in syscalls.most_common(15):
        out.append(f"{pct(count, busy)}  {name}")
    out += ["", f"## Top {top} functions by inclusive time", ""]
    for key, count in inclusive.most_common(top):
        out.append(f"{pct(count, busy)}  {key}")
    out += ["", f"## Top {top} functions by self time", ""]
    for key, count in self_functions.most_common(top):
        out.append(f"{pct(count, busy)}  {key}")
    out += ["", f"## Top {top} source lines by self time", ""]
    for key, count in self_lines.most_common(top):
        out.append(f"{pct(count, busy)}  {key}")
    out += ["", f"## Lines of server/ by inclusive time (top {top})", ""]
    for key, count in inclusive_lines.most_common(top):
        out.append(f"{pct(count, busy)}  {key}")
    return "\n".join(out) + "\n"


def flamegraph_svg(path: Path, title: str, width: int = 1600, row: int = 16) -> str:
    """A static SVG flame graph of the collapsed stacks (hover a box for its function and share)."""
    # A tree of {frame: [count, children]}.
    tree: dict[str, list[object]] = {}
    total = 0
    for frames, count in read_collapsed(path):
        total += count
        level = tree
        for frame in frames:
            entry = level.setdefault(frame.where, [0, {}])
            entry[0] = int(entry[0]) + count  # type: ignore[call-overload]
            level = entry[1]  # type: ignore[assignment]
    boxes: list[tuple[float, int, float, str, int]] = []

    def layout(level: dict[str, list[object]], x: float, depth: int) -> None:
        for name, (count, children) in sorted(level.items()):
            w = width * int(count) / total  # type: ignore[call-overload]
            if w >= 0.5:
                boxes.append((x, depth, w, name, int(count)))  # type: ignore[call-overload]
                layout(children, x, depth + 1)  # type: ignore[arg-type]
            x += w

    if total:
        layout(tree, 0.0, 0)
    depth_max = max((box[1] for box in boxes), default=0)
    height = (depth_max + 3) * row
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace">',
        f'<text x="4" y="14" font-size="13">{html.escape(title)} ({total} samples; hover for details)</text>',
    ]
    for x, depth, w, name, count in boxes:
        y = height - (depth + 1) * row  # Root at the bottom, as flame graphs are drawn.
        label = html.escape(name)
        hue = 10 + sum(map(ord, name.rsplit(" (", 1)[-1])) % 50
        text = f'<text x="{x + 2:.1f}" y="{y + row - 4}" font-size="11">{label[: int(w / 7)]}</text>' if w > 30 else ""
        parts.append(
            f"<g><title>{label} — {count} samples, {100.0 * count / total:.2f}%</title>"
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 1}" fill="hsl({hue},85%,62%)"/>'
            f"{text}</g>"
        )
    parts.append("</svg>\n")
    return "\n".join(parts)


class PySpy:
    """One `py-spy record` of a process for a fixed duration (raw collapsed stacks)."""

    def __init__(self, pid: int, duration_s: float | None, output: Path, *, native: bool, rate: int = 100) -> None:
        self.output = output
        self.native = native
        command = [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--idle",
            "--threads",
            "--output",
            str(output),
        ]
        # Native stacks (C frames of protobuf, grpc, psycopg) need the target paused while sampled.
        command.append("--native" if native else "--nonblocking")
        if duration_s is not None:  # Otherwise it records until stop().
            command += ["--duration", str(max(1, round(duration_s)))]
        self._timeout = (duration_s or 0) + 60
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )

    def stop(self) -> str:
        """Ends an open-ended recording (py-spy writes its output on SIGINT)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.wait()

    def wait(self) -> str:
        try:
            out, _ = self.proc.communicate(timeout=self._timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        text = out.decode(errors="replace")
        if self.proc.returncode != 0 or not self.output.exists():
            raise RuntimeError(f"py-spy failed ({self.proc.returncode}): {text[-1000:]}")
        return text


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.profile FILE.collapsed.txt...`: rewrites each one's summary and flame graph."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("collapsed", nargs="+", type=Path)
    for path in parser.parse_args(argv).collapsed:
        stem = path.name.removesuffix(".collapsed.txt")
        title = f"wallet server during {stem}"
        path.with_name(f"{stem}.summary.txt").write_text(summarise(path, title))
        path.with_name(f"{stem}.flamegraph.svg").write_text(flamegraph_svg(path, title))
        print(path.with_name(f"{stem}.summary.txt"))


if __name__ == "__main__":
    main()
