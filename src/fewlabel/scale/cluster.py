"""Where the work runs: in-process, a local Dask cluster, an existing scheduler, or SLURM.

:class:`ScaleSpec` holds what the ``--workers/--scheduler/--slurm*/--shard`` options say and
:func:`open_client` turns it into a ``dask.distributed.Client`` (or None for in-process).
Dask is imported only here and only when asked for, so the default path needs no Dask at all.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fewlabel.errors import InputError
from fewlabel.scale.shards import Shard


@dataclass(frozen=True)
class SlurmOptions:
    """One dask-jobqueue SLURMCluster: ``jobs`` SLURM jobs, each running ``processes`` Dask workers."""

    queue: str | None = None
    account: str | None = None
    cores: int = 4
    processes: int = 1
    memory: str = "16GB"
    walltime: str = "04:00:00"
    jobs: int = 1
    job_extra: tuple[str, ...] = ()
    interface: str | None = None

    def cluster_kwargs(self) -> dict:
        """Keyword arguments for ``dask_jobqueue.SLURMCluster``."""
        kw = {"cores": self.cores, "processes": self.processes, "memory": self.memory, "walltime": self.walltime,
              "job_extra_directives": list(self.job_extra)}
        if self.queue:
            kw["queue"] = self.queue
        if self.account:
            kw["account"] = self.account
        if self.interface:
            kw["interface"] = self.interface
        return kw


@dataclass(frozen=True)
class ScaleSpec:
    """How to run: none of workers/scheduler/slurm = in-process; ``shard`` limits the items."""

    workers: int | None = None
    threads_per_worker: int = 1
    scheduler: str | None = None
    slurm: SlurmOptions | None = None
    shard: Shard | None = None
    keep_parts: bool = False
    connect_timeout: float = 10.0

    def __post_init__(self) -> None:
        chosen = [n for n, v in (("--workers", self.workers), ("--scheduler", self.scheduler),
                                 ("--slurm", self.slurm)) if v is not None]
        if len(chosen) > 1:
            raise InputError(None, f"choose one of {' / '.join(chosen)}, not several")
        if self.workers is not None and self.workers < 1:
            raise InputError(None, f"--workers must be at least 1, got {self.workers}")
        if not self.connect_timeout > 0:
            raise InputError(None, f"--scheduler-timeout must be positive, got {self.connect_timeout:g}")
        if self.threads_per_worker < 1:
            raise InputError(None, f"--threads-per-worker must be at least 1, got {self.threads_per_worker}")
        if self.slurm is not None:
            s = self.slurm
            for name, v in (("cores", s.cores), ("processes", s.processes), ("jobs", s.jobs)):
                if v < 1:
                    raise InputError(None, f"--slurm-{name} must be at least 1, got {v}")
            if s.processes > s.cores:
                raise InputError(None, f"--slurm-processes {s.processes} is more than --slurm-cores {s.cores}")

    @property
    def in_process(self) -> bool:
        return self.workers is None and self.scheduler is None and self.slurm is None

    @property
    def expected_workers(self) -> int:
        """Worker threads we expect to get (used to size the submission window)."""
        if self.workers is not None:
            return self.workers * self.threads_per_worker
        if self.slurm is not None:
            return self.slurm.jobs * self.slurm.cores
        return 1


def connect(address: str, timeout: float):
    """``Client(address)``, or InputError when no scheduler answers within ``timeout`` seconds."""
    from distributed import Client

    try:
        return Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(address, f"no Dask scheduler answered within {timeout:g} s ({reason[:160]}); "
                                  "is it running and reachable from this machine?") from None


def _slurm_cluster(opts: SlurmOptions):
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise InputError(None, "--slurm needs dask-jobqueue: pip install dask-jobqueue") from None
    return SLURMCluster(**opts.cluster_kwargs())


@contextlib.contextmanager
def open_client(spec: ScaleSpec, log: Callable[[str], None] = print) -> Iterator[object | None]:
    """Yield a Dask Client for ``spec`` (None in-process); close what was started on exit."""
    if spec.in_process:
        yield None
        return
    if spec.scheduler is not None:
        client = connect(spec.scheduler, spec.connect_timeout)
        n = sum(client.nthreads().values())
        log(f"connected to the Dask scheduler at {spec.scheduler} ({n} worker threads now)")
        try:
            yield client
        finally:
            client.close()
        return
    from distributed import Client

    if spec.workers is not None:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=spec.threads_per_worker, processes=True,
                               host="127.0.0.1", dashboard_address=":0", scheduler_kwargs={"dashboard": False},
                               silence_logs=logging.ERROR)  # any free port: no clash with another cluster
        log(f"started a local Dask cluster: {spec.workers} worker process(es) x {spec.threads_per_worker} thread(s)")
    else:
        cluster = _slurm_cluster(spec.slurm)
        cluster.scale(jobs=spec.slurm.jobs)
        log(f"submitted {spec.slurm.jobs} SLURM job(s) of {spec.slurm.processes} Dask worker(s) each "
            f"(scheduler {cluster.scheduler_address}); work starts as the jobs start")
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()
