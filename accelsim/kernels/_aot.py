"""Kernels also compiled ahead of time, so that a process can run them without importing numba.

`aot(signature)` marks a kernel (an `njit` one otherwise) as an entry point of its module's
extension: numba.pycc compiles a module's entry points into one C extension, stored where numba
caches (`_jit.cache_dir()`) and named after a hash of the kernel sources and of the numba, numpy
and Python versions, so a stale one is never loaded. The first call that finds no extension builds
it in a child process, instead of JIT-compiling (some 20 s, once), then loads it; later processes
load it in milliseconds and never import numba. While another process builds it, a call runs the
JIT kernel. Where the build or the load fails (no C compiler, nothing writable, no numba.pycc) the
kernels run JIT-compiled: one warning line, and a `.failed` note beside the extension so that
later processes do not retry. pycc checks no argument, so an entry point runs only on arguments of
exactly its signature's types; others go to the JIT kernel. NUMBA_DISABLE_JIT=1 keeps plain Python.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import os
import re
import sys
import time
import warnings

import numpy as np

from accelsim.kernels import _jit

DTYPES = {"i4": np.dtype(np.int32), "i8": np.dtype(np.int64), "b1": np.dtype(np.bool_)}
INT64 = (-2**63, 2**63)
BUILD_SECONDS = 1800
BUILD = "import sys; from accelsim.kernels._aot import main; main(sys.argv[1:])"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_modules: dict[str, dict | None] = {}        # kernel module -> its compiled entry points, or None


class AotKernel(_jit.Kernel):
    """A kernel run from its module's ahead-of-time extension on arguments of its signature."""

    def __init__(self, func, signature: str):
        super().__init__(func)
        self.signature = signature
        args = signature[signature.index("(") + 1:signature.rindex(")")]
        self.types = [(DTYPES[code], dims.count(",") + 1 if dims else 0)
                      for code, dims in re.findall(r"(\w+)(\[[:, 1]*\])?", args)]
        if any(ndim == 0 and dtype != DTYPES["i8"] for dtype, ndim in self.types) or \
                args.count("[") != args.count("::1]"):
            raise ValueError(f"{func.__name__}: arguments must be i8 scalars or C-contiguous arrays")

    def __call__(self, *args):
        if self.jitted is None and not _jit_disabled():
            compiled = entry_points(self.func.__globals__)
            if compiled is not None and self.accepts(args):
                return compiled[self.func.__name__](*args)
        return super().__call__(*args)

    def accepts(self, args) -> bool:
        """Whether `args` are exactly of the signature's types (aligned, writable C arrays)."""
        if len(args) != len(self.types):
            return False
        for (dtype, ndim), arg in zip(self.types, args):
            if ndim == 0:
                if type(arg) not in (int, np.int64) or not INT64[0] <= arg < INT64[1]:
                    return False
            elif (type(arg) is not np.ndarray or arg.dtype != dtype or arg.ndim != ndim
                  or not (arg.flags.c_contiguous and arg.flags.aligned and arg.flags.writeable)):
                return False
        return True


def aot(signature: str):
    """njit, plus an ahead-of-time build for arguments of exactly `signature`'s types: i8 scalars
    and C-contiguous arrays ("i8[::1](i4[:, ::1], i8)")."""
    return lambda func: AotKernel(func, signature)


def _jit_disabled() -> bool:
    """Whether NUMBA_DISABLE_JIT asks for plain Python."""
    return os.environ.get("NUMBA_DISABLE_JIT", "0").strip() not in ("", "0")


def extension_name(namespace: dict) -> str | None:
    """The extension's module name: the kernel module's, stamped with a hash of what the build
    depends on (every kernel source, numba, numpy, Python); None where numba is not installed."""
    import hashlib                     # where a kernel runs: not paid by single runs

    spec = importlib.util.find_spec("numba")
    if spec is None or spec.origin is None:
        return None
    here = os.path.dirname(__file__)
    sources = [os.path.join(here, name) for name in sorted(os.listdir(here)) if name.endswith(".py")]
    version = os.path.join(os.path.dirname(spec.origin), "_version.py")
    digest = hashlib.sha256(f"{np.__version__} {sys.version}".encode())
    for path in [*sources, version if os.path.isfile(version) else spec.origin]:
        with open(path, "rb") as handle:
            digest.update(handle.read())
    return f"{namespace['__name__'].rpartition('.')[2]}_aot_{digest.hexdigest()[:16]}"


def _path(name: str) -> str | None:
    """Where the extension is (or would be built): the numba cache folder; None: nowhere."""
    filename = name + importlib.machinery.EXTENSION_SUFFIXES[0]
    quick = os.path.join(os.environ.get("NUMBA_CACHE_DIR") or _jit.IN_TREE, filename)
    if os.path.isfile(quick):
        return quick
    folder = _jit.cache_dir()
    return None if folder is None else os.path.join(folder, filename)


def entry_points(namespace: dict) -> dict | None:
    """The module's compiled entry points, built first where missing; None where unavailable."""
    module = namespace["__name__"]
    if module not in _modules:
        _modules[module] = _entry_points(namespace)
    return _modules[module]


def _entry_points(namespace: dict) -> dict | None:
    """Load (or build, then load) the extension of a kernel module; None where that fails."""
    try:
        name = extension_name(namespace)
        path = None if name is None else _path(name)
    except OSError:
        return None
    if path is None or os.path.exists(path + ".failed"):
        return None
    compiled = _load(name, path) if os.path.isfile(path) else None
    if compiled is not None or not _lock(path + ".lock"):
        return compiled                           # another process is building it: JIT this time
    try:
        problem = _build(namespace["__name__"], name, path)
    finally:
        with contextlib.suppress(OSError):
            os.remove(path + ".lock")
    compiled = None if problem else _load(name, path)
    if compiled is None:
        problem = problem or "it does not load"
        warnings.warn(f"kernels of {namespace['__name__']} not compiled ahead of time ({problem}); "
                      "using numba's JIT", RuntimeWarning, stacklevel=2)
        with contextlib.suppress(OSError), open(path + ".failed", "w") as note:
            note.write(problem + "\n")
    return compiled


def _load(name: str, path: str) -> dict | None:
    """The entry points of the extension at `path`; None where it does not load."""
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except (ImportError, OSError):
        return None
    return vars(module)


def _lock(path: str) -> bool:
    """Create the build's lock file; False while another build holds it (unless it is stale)."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        with contextlib.suppress(OSError):
            if time.time() - os.path.getmtime(path) > BUILD_SECONDS:
                return True
        return False
    except OSError:
        return False


def _build(module: str, name: str, path: str) -> str | None:
    """Build the extension in a child process; None, else why it failed (one line)."""
    import subprocess

    env = {key: value for key, value in os.environ.items() if key != "NUMBA_DISABLE_JIT"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    try:
        done = subprocess.run([sys.executable, "-c", BUILD, module, name, path], env=env,
                              capture_output=True, text=True, timeout=BUILD_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc).splitlines()[0]
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        return lines[-1] if lines else f"exit status {done.returncode}"
    return None


def build(module: str, name: str, path: str) -> None:
    """Compile a kernel module's entry points with numba.pycc into the extension `path`."""
    import importlib
    import tempfile

    from numba.pycc import CC

    source = importlib.import_module(module)
    namespace = vars(source)
    exported = {key: value for key, value in namespace.items()
                if isinstance(value, AotKernel) and value.func.__globals__ is namespace}
    _jit._compile_module(namespace)               # callees as numba dispatchers
    folder = os.path.dirname(path)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        cc = CC(name, source)
        cc.output_dir, cc.output_file = scratch, os.path.basename(path)
        for key, kernel in exported.items():
            cc.export(key, kernel.signature)(kernel.func)
        cc.compile()
        os.replace(os.path.join(scratch, cc.output_file), path)
    stale = name.rpartition("_aot_")[0] + "_aot_"
    for other in os.listdir(folder):
        if other.startswith(stale) and not other.startswith(name):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, other))       # older sources' builds and notes


def main(argv: list[str]) -> None:
    """`build` in a child process: a failure exits with one line naming it."""
    try:
        build(*argv)
    except Exception as exc:         # whatever pycc or the C compiler raises
        sys.exit(f"{type(exc).__name__}: {(str(exc).strip() or 'failed').splitlines()[0]}")
