"""The page's one way to run: `DemoPage.run` admits a batch (one seed for Generate, the API
and MCP; 2–4 for side by side) and runs it, yielding every run's latest update. Stop, a closed
tab, and keeping a finished run's record go through here too.

    handler (studio/ui/…, the API) -> DemoPage.run -> admission.admit -> Runner.together
        -> Runner.run (studio/run.py) -> WiroClient (wiro/)
"""
from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from typing import Any

from wiro import WiroClient, spec

from . import admission, history, results
from .cost import PRICES
from .active_runs import ActiveRuns
from .backend import start_backend
from .config import Config
from .guards import Guard
from .outputs import OutputStore
from .record import RunRecord
from .run import Runner, RunUpdate
from .visitors import Visitors

log = logging.getLogger(__name__)


class DemoPage:
    def __init__(self, config: Config):
        self.config = config
        self.byok = config.bring_your_own_key
        self.backend = start_backend(config)
        self.active_runs = ActiveRuns(simulated=self.backend.is_simulator)
        self.outputs = OutputStore()
        self.guard = Guard.persistent(config)  # ledger in APP_DATA_DIR
        self.visitors = Visitors(config)  # who the caps count
        self.runner = Runner(self.backend, self.active_runs, self.outputs)
        results.open_store(config)
        # Wiro's price list for estimates (the owner's key, or the simulator's; not a
        # visitor's: in bring-your-own-key mode the kept copy or BFL's rates).
        owner = None if self.byok else self.backend.client()
        PRICES.keep_fresh(owner, config.data_dir)

    def run(self, session: str, values: dict[str, Any], request: Any, *,
            seeds: list[int] | None = None, randomize: bool = False,
            api_key: str | None = None, api_secret: str | None = None
            ) -> Iterator[list[RunUpdate | None]]:
        """Admit and run `values` once per seed (the form's seed, or a random one); yields a
        list with every run's latest update (a refusal: the same finished update for all)."""
        if seeds is None:
            seed = values.get(spec.SEED.name)
            seeds = [random.randint(0, spec.SEED.maximum) if randomize else seed]
        visitor = self.visitors.identify(request, session)
        client = self._visitor_client(api_key, api_secret)
        try:
            if client is False:
                jobs: Any = admission.refused(admission.NEEDS_KEY, visitor)
            else:
                jobs = admission.admit(
                    self.guard, visitor, values, seeds, own_key=client is not None,
                    allow_private_urls=self.backend.allow_private_urls)
            if isinstance(jobs, admission.Refusal):
                yield [RunUpdate(jobs.status, finished=True)] * len(seeds)
                return
            yield from self.runner.together(visitor.session, jobs, client or None)
        finally:
            if client:
                client.close()

    def _visitor_client(self, api_key: str | None, api_secret: str | None
                        ) -> WiroClient | None | bool:
        """Bring-your-own-key mode: a client for this run only (the key is never stored);
        False when the visitor gave none. None: the owner's."""
        if not self.byok:
            return None
        if not (api_key or "").strip():
            return False
        return self.backend.visitor_client(api_key.strip(), (api_secret or "").strip() or None)

    def keep(self, session: str, record: RunRecord, entries: list | None) -> list:
        """After the image is on its way: the tab's history and the kept results. A failure
        here costs the visitor that record alone (one log line), never the run."""
        try:
            results.store().keep(session, record)
        except Exception as exc:  # noqa: BLE001 — keeping is a bonus
            log.warning("task %s was not kept (%s: %s)", record.task_id, type(exc).__name__,
                        exc)
        return history.add(entries, record)

    def stop_session(self, session: str) -> list[str] | None:
        """Stop the session's tasks; what happened to each, None if nothing was running."""
        lines = self.active_runs.stop(session)
        # The run's generator may still send an update; answer after it, so Stop's is last.
        self.active_runs.wait_until_ended(session)
        return lines or None

    def stop_slot(self, session: str, slot: int) -> str | None:
        return self.active_runs.stop_slot(session, slot)

    def end_session(self, session: str) -> None:
        """The tab closed or reloaded: stop its tasks and forget its files. (The id is the
        visitor's to choose: it only ever names that session's own tasks and folder.)"""
        self.active_runs.stop(session)
        self.outputs.drop(session)
