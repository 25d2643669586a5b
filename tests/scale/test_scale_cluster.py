"""Options -> ScaleSpec -> client: bad scheduler, conflicting options, SLURM job script, CLI decorator."""

import socket
import time

import click
import pytest
from click.testing import CliRunner

from fewlabel.cli.scale_options import scale_options, scale_spec
from fewlabel.errors import InputError
from fewlabel.scale.cluster import ScaleSpec, connect, open_client
from fewlabel.scale.shards import Shard


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_an_input_error_within_the_timeout():
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    t0 = time.time()
    with pytest.raises(InputError, match="no Dask scheduler answered within 2 s") as err:
        connect(address, timeout=2)
    assert time.time() - t0 < 15 and err.value.path == address


def test_open_client_with_bad_scheduler_raises_before_any_work():
    with pytest.raises(InputError, match="no Dask scheduler"):
        with open_client(ScaleSpec(scheduler=f"127.0.0.1:{_free_port()}", connect_timeout=1), log=lambda m: None):
            pytest.fail("must not get a client")


def test_in_process_needs_no_client():
    with open_client(ScaleSpec()) as client:
        assert client is None


@pytest.mark.parametrize("kwargs,match", [
    (dict(workers=2, scheduler="tcp://x:1"), "choose one of"),
    (dict(workers=0), "--workers must be at least 1"),
    (dict(slurm=True, workers=2), "choose one of"),
    (dict(slurm=True, slurm_jobs=0), "--slurm-jobs"),
    (dict(slurm=True, slurm_processes=4, slurm_cores=2), "--slurm-processes 4 is more than"),
    (dict(shard="3/2"), "--shard"),
    (dict(scheduler="tcp://x:1", scheduler_timeout=0), "--scheduler-timeout must be positive"),
])
def test_bad_option_combinations(kwargs, match):
    with pytest.raises(InputError, match=match):
        scale_spec(**kwargs)


def test_slurm_options_reach_the_job_script():
    dask_jobqueue = pytest.importorskip("dask_jobqueue")
    spec = scale_spec(slurm=True, slurm_queue="gpu", slurm_account="cryo", slurm_cores=8, slurm_processes=2,
                      slurm_memory="64GB", slurm_walltime="02:00:00", slurm_jobs=3,
                      slurm_job_extra=("--gres=gpu:2",))
    assert spec.expected_workers == 3 * 8
    # a random dashboard port: tests running at once under -n 2 would both ask for 8787
    cluster = dask_jobqueue.SLURMCluster(**spec.slurm.cluster_kwargs(), scheduler_options={"dashboard_address": ":0"})
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -p gpu", "#SBATCH -A cryo", "#SBATCH -t 02:00:00", "#SBATCH --gres=gpu:2",
                 "--nworkers 2", "--nthreads 4"):
        assert line in script, line


def test_decorator_hands_the_command_one_scale_spec():
    seen = {}

    @click.command()
    @click.option("-o", "--output")
    @scale_options
    def cmd(output, scale):
        seen["scale"], seen["output"] = scale, output

    runner = CliRunner()
    result = runner.invoke(cmd, ["-o", "x.star", "--workers", "3", "--shard", "2/5", "--keep-parts"])
    assert result.exit_code == 0, result.output
    assert seen["output"] == "x.star"
    assert seen["scale"] == ScaleSpec(workers=3, shard=Shard(2, 5), keep_parts=True)
    runner.invoke(cmd, ["-o", "y"])
    assert seen["scale"].in_process and seen["scale"].shard is None
    result = runner.invoke(cmd, ["--shard", "3/2"])
    assert isinstance(result.exception, InputError)
    help_text = runner.invoke(cmd, ["--help"]).output
    for opt in ("--workers", "--scheduler", "--slurm-queue", "--slurm-job-extra", "--shard"):
        assert opt in help_text

