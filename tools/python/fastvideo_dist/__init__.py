"""fastvideo_dist: the StatelessProcessGroup of fastvideo.distributed.utils,
over MPI one-sided windows, and its tensor helpers.

    import fastvideo_dist
    group = fastvideo_dist.StatelessProcessGroup.from_comm()   # every rank of the job
    group = fastvideo_dist.StatelessProcessGroup.create(host, port, rank, world_size)

Objects travel through this module's codec (plain data and CPU tensors),
never pickle. This module serves Debian's /usr/bin/python3 (CPython 3.11
with Debian's python3-torch 1.13, whose libtorch the C++ core links).
"""
import os
import sys

_SERVES = ("Debian's /usr/bin/python3 (CPython 3.11 with Debian's python3-torch 1.13, "
           "whose libtorch the module links)")


def _refuse(reason):
    raise ImportError(
        f"fastvideo_dist serves {_SERVES}; this interpreter is {sys.executable} "
        f"(Python {sys.version.split()[0]}): {reason}. Run it with /usr/bin/python3.")


if sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11):
    _refuse("another Python version")
try:
    import torch
except ImportError as error:
    _refuse(f"it cannot import torch ({error})")
if not os.path.realpath(torch.__file__).startswith("/usr/lib/python3/dist-packages/"):
    _refuse(f"its torch {torch.__version__} is not Debian's ({torch.__file__})")

# Open MPI loads its components with dlopen and they need libmpi's symbols
# visible: load libmpi globally before the core links it (as mpi4py does).
import ctypes  # noqa: E402

ctypes.CDLL("libmpi.so.40", mode=ctypes.RTLD_GLOBAL)

from fastvideo_dist import _core  # noqa: E402
from fastvideo_dist._core import (  # noqa: E402,F401
    StatelessProcessGroup,
    Error,
    DeadlineExceededError,
    MessageTypeError,
    InvalidArgumentError,
    UnavailableError,
    NotFoundError,
    DataLossError,
    FailedPreconditionError,
    AlreadyExistsError,
    ResourceExhaustedError,
    InternalError,
    divide,
    ensure_divisibility,
    split_tensor_along_last_dim,
    compute_padding_for_sp,
    pad_sequence_tensor,
    unpad_sequence_tensor,
)

import atexit  # noqa: E402

# Groups still open at exit are closed (collectively, within this many
# seconds), then MPI is finalized if this module initialized it.
EXIT_CLOSE_TIMEOUT_SECONDS = 30.0
atexit.register(_core._shutdown, EXIT_CLOSE_TIMEOUT_SECONDS)

__all__ = [
    "StatelessProcessGroup", "Error", "DeadlineExceededError", "MessageTypeError",
    "InvalidArgumentError", "UnavailableError", "NotFoundError", "DataLossError",
    "FailedPreconditionError", "AlreadyExistsError", "ResourceExhaustedError", "InternalError",
    "divide", "ensure_divisibility", "split_tensor_along_last_dim", "compute_padding_for_sp",
    "pad_sequence_tensor", "unpad_sequence_tensor",
]
