"""One run through the app's own path (admission, then Runner.run), without a browser: for
tests that drive the simulator directly and look at every update."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from studio import admission
from studio.active_runs import ActiveRuns
from studio.config import Config
from studio.guards import Guard
from studio.outputs import OutputStore
from studio.run import Runner, RunUpdate
from studio.visitors import Visitor
from wiro import spec

# No caps: these tests are about what happens to a run, not whether it may start.
UNCAPPED = Config(runs_per_session=0, max_concurrent_runs=0, runs_per_client_per_hour=0)


def text_to_image(**overrides: Any) -> dict[str, Any]:
    return {**spec.defaults(), spec.INPUT_IMAGE.name: [], **overrides}


def admit(values: dict[str, Any], guard: Guard | None = None, session: str = "s1",
          seeds: list[int] | None = None, allow_private_urls: bool = True):
    """The Jobs for `values` (one per seed), or the Refusal."""
    return admission.admit(guard or Guard(UNCAPPED), Visitor("127.0.0.1", session), values,
                           seeds or [values.get(spec.SEED.name, spec.SEED.default)],
                           own_key=False, allow_private_urls=allow_private_urls)


def run_page(backend: Any, tmp_path: Path, registry: ActiveRuns | None = None, *,
             guard: Guard | None = None, session: str = "s1", client: Any = None,
             **overrides: Any) -> list[RunUpdate]:
    """Every update of one run of the defaults (text to image) with `overrides`."""
    return run_values(backend, tmp_path, text_to_image(**overrides), registry, guard=guard,
                      session=session, client=client)


def run_values(backend: Any, tmp_path: Path, values: dict[str, Any],
               registry: ActiveRuns | None = None, *, guard: Guard | None = None,
               session: str = "s1", client: Any = None) -> list[RunUpdate]:
    """Every update of one run of `values`, admitted as the page admits it."""
    jobs = admit(values, guard, session, allow_private_urls=backend.allow_private_urls)
    if isinstance(jobs, admission.Refusal):
        return [RunUpdate(jobs.status, finished=True)]
    runner = Runner(backend, registry or ActiveRuns(), OutputStore(tmp_path / "out"))
    return list(runner.run(session, jobs[0], client))
