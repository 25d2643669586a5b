"""Options shared by the commands that scale out (``@scale_options``): Dask, SLURM, shards.

The decorated command receives one ``scale`` argument, a :class:`fewlabel.scale.ScaleSpec`;
with none of these options the command runs in-process without Dask. See docs/scale.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import click

_KEYS = ("workers", "threads_per_worker", "scheduler", "slurm", "slurm_queue", "slurm_account", "slurm_cores",
         "slurm_processes", "slurm_memory", "slurm_walltime", "slurm_jobs", "slurm_job_extra", "slurm_interface",
         "shard", "keep_parts", "scheduler_timeout")

_OPTIONS = [
    click.option("--workers", type=int, default=None,
                 help="Run on a local Dask cluster of N worker processes [default: in-process, no Dask]."),
    click.option("--threads-per-worker", type=int, default=1, show_default=True,
                 help="Threads per Dask worker (local cluster)."),
    click.option("--scheduler", metavar="ADDRESS", default=None,
                 help="Run on an existing Dask scheduler, e.g. tcp://node1:8786 (workers must see the same files)."),
    click.option("--scheduler-timeout", type=float, default=10.0, show_default=True, metavar="SECONDS",
                 help="Give up (exit 2) when the --scheduler does not answer within this time."),
    click.option("--slurm", is_flag=True, help="Submit Dask workers as SLURM jobs (dask-jobqueue); see --slurm-*."),
    click.option("--slurm-queue", default=None, help="SLURM partition (-p) for the worker jobs."),
    click.option("--slurm-account", default=None, help="SLURM account (-A) for the worker jobs."),
    click.option("--slurm-cores", type=int, default=4, show_default=True, help="Cores per SLURM job."),
    click.option("--slurm-processes", type=int, default=1, show_default=True,
                 help="Dask worker processes per SLURM job (one per GPU on GPU nodes)."),
    click.option("--slurm-memory", default="16GB", show_default=True, help="Memory per SLURM job."),
    click.option("--slurm-walltime", default="04:00:00", show_default=True, help="Walltime per SLURM job."),
    click.option("--slurm-jobs", type=int, default=1, show_default=True, help="Number of SLURM worker jobs."),
    click.option("--slurm-job-extra", multiple=True,
                 help="Extra #SBATCH directive for the worker jobs, e.g. '--gres=gpu:1' (repeatable)."),
    click.option("--slurm-interface", default=None, help="Network interface the workers use, e.g. ib0."),
    click.option("--shard", metavar="I/N", default=None,
                 help="Process only shard I of N (1-based, round-robin over the inputs), for sbatch --array; "
                      "rerun without --shard afterwards to merge."),
    click.option("--keep-parts", is_flag=True,
                 help="Keep the per-item results (OUTPUT.parts/) after merging [default: removed on success]."),
]


def scale_spec(workers: int | None = None, threads_per_worker: int = 1, scheduler: str | None = None,
               slurm: bool = False, slurm_queue: str | None = None, slurm_account: str | None = None,
               slurm_cores: int = 4, slurm_processes: int = 1, slurm_memory: str = "16GB",
               slurm_walltime: str = "04:00:00", slurm_jobs: int = 1, slurm_job_extra: tuple[str, ...] = (),
               slurm_interface: str | None = None, shard: str | None = None, keep_parts: bool = False,
               scheduler_timeout: float = 10.0):
    """Build and validate the ScaleSpec from the option values (InputError on bad ones)."""
    from fewlabel.scale.cluster import ScaleSpec, SlurmOptions
    from fewlabel.scale.shards import parse_shard

    slurm_opts = None
    if slurm:
        slurm_opts = SlurmOptions(queue=slurm_queue, account=slurm_account, cores=slurm_cores,
                                  processes=slurm_processes, memory=slurm_memory, walltime=slurm_walltime,
                                  jobs=slurm_jobs, job_extra=tuple(slurm_job_extra), interface=slurm_interface)
    return ScaleSpec(workers=workers, threads_per_worker=threads_per_worker, scheduler=scheduler, slurm=slurm_opts,
                     shard=parse_shard(shard), keep_parts=keep_parts, connect_timeout=scheduler_timeout)


def scale_options(func: Callable) -> Callable:
    """Add the scale-out options to a click command; it gets them as one ``scale`` argument."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        values = {k: kwargs.pop(k) for k in _KEYS if k in kwargs}
        return func(*args, scale=scale_spec(**values), **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
