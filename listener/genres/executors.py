"""Where work that fans out over files runs: local processes, or a Dask cluster.

Everything that extracts a collection goes through :func:`open_executor`, which gives a
:class:`concurrent.futures.Executor`: a process pool on this machine (the default), or a Dask
distributed cluster's (``Client.get_executor()``), so that one code path serves both. Dask is
an optional extra (``pip install 'listener[dask]'``).

On a cluster, numba's kernels are never shipped (a jitted function pickles as code and is
compiled again on every worker): the tasks name module-level functions, which each worker
imports, and a worker plugin imports and warms the feature kernels once when the worker starts,
with a writable ``NUMBA_CACHE_DIR`` of the worker's own when none is set.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor

from listener.errors import ConfigError

#: Environment variable naming the Dask scheduler (``tcp://HOST:PORT``) for ``--executor dask``.
SCHEDULER_ENV = "LISTENER_DASK_SCHEDULER"
EXECUTORS = ("local", "dask")


def warm_worker() -> str:
    """Import and warm the feature kernels in this process (a Dask worker); say where from.

    Where the installed package's folder cannot be written (numba's cache goes beside the
    code), and no ``NUMBA_CACHE_DIR`` is set, sets one of this process's own before numba
    compiles anything here.
    """
    import listener

    package = os.path.dirname(listener.__file__)
    if not os.environ.get("NUMBA_CACHE_DIR") and not os.access(package, os.W_OK):
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="listener-numba-")
    import listener.features.vector  # noqa: F401 - compiles and warms the kernels at import

    return os.environ.get("NUMBA_CACHE_DIR", package)


def _plugin():
    from distributed.diagnostics.plugin import WorkerPlugin

    class WarmKernels(WorkerPlugin):
        """Warm the feature kernels once, as each worker starts."""

        name = "listener-warm-kernels"

        def setup(self, worker) -> None:
            warm_worker()

    return WarmKernels()


@contextlib.contextmanager
def open_executor(
    kind: str = "local", *, scheduler: str | None = None, workers: int | None = None
) -> Iterator[Executor]:
    """Open an executor for work over files; closed (its workers stopped) on leaving.

    Parameters
    ----------
    kind : str
        ``local`` (processes here) or ``dask``.
    scheduler : str, optional
        With ``dask``: the scheduler's address (``tcp://HOST:8786``), else
        ``$LISTENER_DASK_SCHEDULER``, else a local cluster of ``workers`` processes.
    workers : int, optional
        Local processes (default: one per core).

    Raises
    ------
    ConfigError
        An unknown kind, Dask missing, or a scheduler that cannot be reached.
    """
    if kind not in EXECUTORS:
        raise ConfigError(f"--executor {kind!r}: use {' or '.join(EXECUTORS)}")
    if kind == "local":
        pool = ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1)
        try:
            yield pool
        finally:
            pool.shutdown(cancel_futures=True)
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(
            "--executor dask needs Dask distributed: pip install 'listener[dask]'"
        ) from None
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV)
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout="10s")
        else:
            cluster = LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",
                host="127.0.0.1",
            )
            client = Client(cluster)
    except OSError as exc:
        raise ConfigError(f"Dask scheduler {scheduler}: {exc}") from None
    try:
        client.register_plugin(_plugin())
        if client.dashboard_link:
            print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
