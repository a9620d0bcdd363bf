"""A real one-node SLURM cluster for the tests: Debian's `slurm-wlm` and `munge`, started as
root with a `slurm.conf` written for this host, and stopped afterwards.

Everything lives in a temporary folder: the munge key and socket, the controller's state, the
node's spool, pid and log files; the ports are free ones picked now, so the cluster touches no
system configuration and never meets another test session's. Clients (sbatch, squeue, srun,
and the package's executor through them) find it through `SLURM_CONF`, which the fixture sets
for the session. It skips, with the reason, when not root or when the packages are missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "srun")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 4096


def write_conf(folder: Path, host: str) -> Path:
    """slurm.conf for one node (this host): its CPUs, 80% of its memory, no cgroups, no
    accounting, a default partition without a time limit and a 30-minute one."""
    conf = folder / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=initlabtest",
        f"SlurmctldHost={host}",
        f"SlurmctldPort={_free_port()}",
        f"SlurmdPort={_free_port()}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={folder}/munge.sock",
        f"StateSaveLocation={folder}/state",
        f"SlurmdSpoolDir={folder}/spool",
        f"SlurmctldPidFile={folder}/slurmctld.pid",
        f"SlurmdPidFile={folder}/slurmd.pid",
        f"SlurmctldLogFile={folder}/slurmctld.log",
        f"SlurmdLogFile={folder}/slurmd.log",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core",
        "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none",
        "JobCompType=jobcomp/none",
        "MpiDefault=none",
        "ReturnToService=2",
        "KillWait=5",
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1} "
        f"RealMemory={int(_memory_mb() * 0.8)} State=UNKNOWN",
        "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        "PartitionName=short Nodes=ALL MaxTime=30 State=UP",
        "",
    ]))
    return conf


class Cluster:
    """The running daemons of the test cluster (ours, stopped by pid)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.host = socket.gethostname().split(".")[0]
        self.conf = write_conf(folder, self.host)
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        for sub in ("state", "spool"):
            (self.folder / sub).mkdir()
        subprocess.run(["mungekey", "--create", f"--keyfile={self.folder}/munge.key"],
                       check=True, capture_output=True)
        self._daemon(["munged", "--force", "--foreground", f"--socket={self.folder}/munge.sock",
                      f"--key-file={self.folder}/munge.key", f"--pid-file={self.folder}/m.pid",
                      f"--seed-file={self.folder}/munge.seed",
                      f"--log-file={self.folder}/munged.log"], "munged")
        self._wait(lambda: (self.folder / "munge.sock").exists(), "munged's socket", 20)
        self._daemon(["slurmctld", "-D", "-c", "-f", str(self.conf)], "slurmctld")
        self._daemon(["slurmd", "-D", "-f", str(self.conf)], "slurmd")
        self._wait(self.idle, "the node to be idle in sinfo", 60)

    def idle(self) -> bool:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=self.env, capture_output=True,
                             text=True).stdout.split()
        return out == ["idle"]

    def _daemon(self, command: list[str], name: str) -> None:
        log = open(self.folder / f"{name}.out", "w")
        self.processes.append(subprocess.Popen(command, env=self.env, stdout=log,
                                               stderr=subprocess.STDOUT))

    def _wait(self, ready, what: str, seconds: float) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if ready():
                return
            dead = [p.args[0] for p in self.processes if p.poll() is not None]
            if dead:
                break
            time.sleep(0.5)
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}"
                         for p in sorted(self.folder.glob("*.out")))
        raise RuntimeError(f"test SLURM cluster: gave up waiting for {what}\n{logs}")

    def stop(self) -> None:
        """Cancel what still runs, then stop the daemons (newest first)."""
        ids = subprocess.run(["squeue", "-h", "-o", "%i"], env=self.env, capture_output=True,
                             text=True).stdout.split()
        if ids:
            subprocess.run(["scancel", *ids], env=self.env, capture_output=True)
            deadline = time.time() + 30
            while time.time() < deadline and subprocess.run(
                    ["squeue", "-h"], env=self.env, capture_output=True, text=True).stdout:
                time.sleep(0.5)
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A started one-node cluster; `SLURM_CONF` points at it for the whole session."""
    if os.geteuid() != 0:
        pytest.skip("the test SLURM cluster needs root (slurmd runs jobs as any user)")
    missing = [d for d in DAEMONS if shutil.which(d) is None]
    if missing:
        pytest.skip(f"slurm-wlm and munge are not installed (missing {', '.join(missing)}); "
                    "Debian: apt-get install slurm-wlm munge")
    cluster = Cluster(tmp_path_factory.mktemp("slurm"))
    saved = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        if saved is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = saved
