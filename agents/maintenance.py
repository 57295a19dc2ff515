"""Monthly partitions kept ready ahead of time: at start-up and then daily.

The API does the same (whichever runs first wins; an advisory lock keeps them apart), so a
month never starts without its partition even if only one of them is deployed.
"""

from __future__ import annotations

import asyncio
import logging

from faust_app import app, database, settings
from storage.partitions import maintain_partitions

log = logging.getLogger(__name__)
DAY = 24 * 3600.0


async def _maintain() -> None:
    try:
        created = await asyncio.to_thread(
            maintain_partitions, database(), months_ahead=settings.database.partitions_ahead_months)
    except Exception:  # a failed run is retried tomorrow; the DEFAULT partition catches rows
        log.exception("partition maintenance failed")
        return
    if created:
        log.info("created partitions: %s", ", ".join(created))


@app.task
async def partitions_at_start() -> None:
    await _maintain()


@app.timer(interval=DAY)
async def partitions_daily() -> None:
    await _maintain()
