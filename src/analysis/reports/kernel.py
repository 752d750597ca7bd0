"""Pick a Jupyter kernel that runs THIS interpreter, so papermill sees the same `analysis` as the CLI.

`make` registers a `deliverability` kernelspec inside the virtualenv. When it is missing (a fresh
`pip install`) or points at another interpreter, the `python3` kernelspec is used if jupyter_client will
launch it with this interpreter (a bare `python` in argv is swapped for sys.executable); failing that,
a private kernelspec for this interpreter is written to a temporary directory and put on JUPYTER_PATH.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

KERNEL_NAME = "deliverability"
_BARE_PYTHON = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
_private_dir: tempfile.TemporaryDirectory[str] | None = None


def runs_this_interpreter(argv: list[str]) -> bool:
    """Whether jupyter_client would start this kernel argv with sys.executable."""
    if not argv:
        return False
    if argv[0] in _BARE_PYTHON:
        return True
    return os.path.abspath(argv[0]) == os.path.abspath(sys.executable)


def _private_kernel() -> str:
    global _private_dir
    from ipykernel.kernelspec import install

    if _private_dir is None:
        _private_dir = tempfile.TemporaryDirectory(prefix="deliverability-kernel-")
        install(kernel_name=KERNEL_NAME, prefix=_private_dir.name, display_name="Deliverability workbench")
        share = str(Path(_private_dir.name) / "share" / "jupyter")
        # First on the path, so this spec wins over a stale one of the same name.
        os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (share, os.environ.get("JUPYTER_PATH")) if p)
    return KERNEL_NAME


def kernel_name() -> str:
    """The name of a kernelspec that launches this interpreter (registering one privately if needed)."""
    ksm = KernelSpecManager()
    for name in (KERNEL_NAME, "python3"):
        try:
            spec = ksm.get_kernel_spec(name)
        except NoSuchKernel:
            continue
        if runs_this_interpreter(list(spec.argv)):
            return name
    return _private_kernel()
