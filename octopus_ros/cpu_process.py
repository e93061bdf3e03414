"""Set-up of a process that runs the model on the CPU, done by our entry points before torch is imported.

Kept out of the package's import path on purpose: a user's own process that imports octopus_ros as a library
keeps its environment as it is.
"""
from __future__ import annotations

import sys


def leave_out_triton() -> None:
    """Mark Triton, the GPU kernel compiler that the CUDA wheels of torch bring along, as not installed.

    Nothing here compiles kernels, but open_clip imports torchvision, whose ops import torch._dynamo, which
    loads Triton's shared library when it is installed: 75 MiB resident for nothing on a CPU (default model
    after load: 1,482 -> 1,407 MiB; docs/model/evaluation.md, Session 15). A CPU-only torch wheel has no Triton,
    so this is the state such installs run in anyway. No effect once Triton is imported."""
    sys.modules.setdefault("triton", None)
