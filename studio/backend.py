"""Which Wiro the page talks to: the real one when keys are set, else the built-in simulator."""
from __future__ import annotations

import atexit
import logging
import secrets
import threading
from dataclasses import dataclass, field, replace

from wiro import WiroClient
from wiro.settings import Settings

from .config import Config
from .datadir import open_database
from .journal import Journal

log = logging.getLogger(__name__)

SIMULATOR_NOTICE = ("Simulator mode — images are placeholders; set WIRO_API_KEY and "
                    "WIRO_API_SECRET to use the real model.")


@dataclass
class Backend:
    settings: Settings = field(repr=False)
    simulator: object | None = None
    # The crash journal of paid tasks (None: not kept, as in most tests).
    journal: Journal | None = None
    push_updates: bool = True
    _client: WiroClient | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def is_simulator(self) -> bool:
        return self.simulator is not None

    @property
    def allow_private_urls(self) -> bool:
        # The real Wiro cannot fetch from this machine's network; the simulator can.
        return self.is_simulator

    def client(self) -> WiroClient:
        """The shared client, built on first use so secrets are read on the server at call time."""
        with self._lock:
            if self._client is None:
                self._client = WiroClient.from_settings(self.settings)
            return self._client

    def visitor_client(self, api_key: str, api_secret: str | None) -> WiroClient:
        """A client for one visitor's own key, with every other setting the owner's."""
        return WiroClient.from_settings(self.settings, api_key=api_key,
                                        api_secret=api_secret or None)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self.simulator is not None:
            self.simulator.stop()


def recover_orphans(backend: Backend) -> list[str]:
    """Before the page serves: stop (or settle) the paid tasks a crashed run left behind.

    Never stops the app from starting: whatever fails is logged and tried next start."""
    if backend.journal is None:
        return []
    owner = backend.client() if backend.settings.has_key and not backend.is_simulator else None
    try:
        return backend.journal.recover(owner, backend.settings.base_url)
    except Exception as exc:  # a start must not fail on a journal or network problem
        log.warning("startup recovery failed (%s); tasks stay in the journal", exc)
        return []


def start_backend(config: Config) -> Backend:
    """Live with a key (or when visitors bring theirs), else a simulator on a free port.

    Opens the crash journal in APP_DATA_DIR and settles what a crash left running first."""
    backend = _start(config)
    backend.journal = Journal(open_database(config.data_dir))
    backend.push_updates = config.push_updates
    recover_orphans(backend)
    return backend


def _start(config: Config) -> Backend:
    settings = config.wiro
    if settings.has_key or config.bring_your_own_key:
        return Backend(settings)
    from wiro.simulator import SimulatorServer, SimulatorState

    # A fresh random key pair per start: the signing path is exercised even offline.
    key, secret = secrets.token_hex(16), secrets.token_hex(24)
    server = SimulatorServer(SimulatorState(key, secret, pace=config.simulator_pace))
    server.start()
    atexit.register(server.stop)
    simulated = replace(settings, api_key=key, api_secret=secret, base_url=server.base_url,
                        socket_url=server.socket_url,
                        poll_interval=min(settings.poll_interval, 0.25))
    return Backend(simulated, simulator=server)
