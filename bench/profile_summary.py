"""Where a worker's CPU went, from a py-spy profile in collapsed-stack form (``-f raw``).

    .venv/bin/python bench/profile_summary.py worker.txt

Each sample is charged to the innermost frame that belongs to a known part of the worker
(walking from the leaf towards the root), so numpy called by a drift test counts as the
test, and faust calling an agent counts as the agent. Prints a Markdown table of shares.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

#: (part, substrings of a frame's file) — tried per frame, leaf first; the first match wins
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("online detectors", ("drift/detectors.py", "drift/online.py", "river/")),
    ("decoding and validating", ("schemas/", "orjson")),
    ("closing windows: drift tests", ("drift/",)),
    ("database writes", ("storage/", "sqlalchemy/", "psycopg/")),
    ("state codec and tables", ("monitors/state.py", "monitors/buffered.py", "tables/",
                                "faust/tables/", "faust/stores/")),
    ("monitor windows and hygiene", ("monitors/",)),
    ("sharding and sampling", ("agents/shards.py", "agents/reducer.py")),
    ("agents (decode loop, publish, telemetry)", ("agents/", "streams/", "observability/")),
    ("faust and aiokafka", ("faust/", "aiokafka/", "mode/", "kafka/", "asyncio/",
                            "selectors.py")),
)


def part_of(stack: str) -> str:
    for frame in reversed(stack.split(";")):
        for part, needles in PARTS:
            if any(needle in frame for needle in needles):
                return part
    return "other"


def shares(collapsed: str) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[part_of(stack)] += int(count)
    return counts, sum(counts.values())


def summarise(collapsed: str) -> str:
    counts, total = shares(collapsed)
    lines = [f"| where the worker's CPU went ({total:,} samples) | share |", "|---|---|"]
    for part, count in counts.most_common():
        lines.append(f"| {part} | {count / max(total, 1):.1%} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1]).read_text()))
