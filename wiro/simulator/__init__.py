"""A local stand-in for Wiro's API serving FLUX.2 [pro], for tests and offline demos.

`SimulatorState` is the simulated service (pure Python); `create_app` puts HTTP in front
of it; `SimulatorServer` runs that app on a local port in a background thread.
"""
from .run_inputs import InputImage, UploadedFile
from .server import SimulatorServer, create_app
from .state import FAULT_ENDPOINTS, FAULT_KINDS, SimulatorState

__all__ = ["FAULT_ENDPOINTS", "FAULT_KINDS", "InputImage", "SimulatorServer",
           "SimulatorState", "UploadedFile", "create_app"]
