#!/usr/bin/env bash
# A single-node Slurm on 127.0.0.1 for the cluster test: starts munged,
# slurmctld and slurmd of its own (own socket, ports, state and spool under
# WORK), runs a 4-share sweep through tools/slurm/submit_sweep.sh (sbatch
# --array + a dependent merge) and a 2-task srun training run
# (tools/slurm/train_ddp.sbatch), then stops the
# daemons it started by their pids. Every wait has a hard timeout, and a trap
# stops the daemons on any exit, so a failure leaves nothing running behind.
#   tests/slurm/cluster.sh TREX WORK SWEEP_SPEC DDP_SPEC
# Leaves WORK/merged.db (the merged sweep) and WORK/ddp.db (the srun run).
set -euo pipefail
trex=$1 work=$2 sweep_spec=$3 ddp_spec=$4
repo=$(cd "$(dirname "$0")/../.." && pwd)
pids=()
stop() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}
trap stop EXIT
fail() { echo "cluster: $*" >&2; for f in "$work"/*.log; do echo "== $f"; tail -20 "$f"; done >&2; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() {  # seconds, description, command...
  local t=$1 what=$2
  shift 2
  for _ in $(seq $((t * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "timed out after ${t}s waiting for $what"
}

chmod 711 "$work"
mkdir -p "$work/munge" "$work/state" "$work/spool" "$work/local"
head -c 1024 /dev/urandom > "$work/munge/munge.key"
chown -R munge:munge "$work/munge"
chmod 700 "$work/munge"
chmod 400 "$work/munge/munge.key"
setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F -f --socket="$work/munge/socket" \
  --key-file="$work/munge/munge.key" --log-file="$work/munge/munged.log" --pid-file="$work/munge/munged.pid" \
  --seed-file="$work/munge/seed" > "$work/munged.log" 2>&1 &
pids+=($!)
wait_for 20 munged test -S "$work/munge/socket"

host=$(hostname)
cpus=$(nproc)
cat > "$work/slurm.conf" <<CONF
ClusterName=trex-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
/usr/sbin/slurmctld -D -i -f "$SLURM_CONF" > "$work/slurmctld.out.log" 2>&1 &
pids+=($!)
/usr/sbin/slurmd -D -f "$SLURM_CONF" -N "$host" > "$work/slurmd.out.log" 2>&1 &
pids+=($!)
wait_for 60 "the node to be idle" sh -c "sinfo -h -o %t | grep -q idle"

job_state() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -1 | cut -d= -f2; }
wait_job() {  # job id, seconds
  for _ in $(seq $(($2 * 2))); do
    case $(job_state "$1") in
      COMPLETED) return 0 ;;
      FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) fail "job $1 ended $(job_state "$1")" ;;
    esac
    sleep 0.5
  done
  fail "job $1 did not finish in $2 s"
}

# The sweep: 4 array tasks, node-local stores, then the dependent merge.
export TREX="$trex" TREX_LOCAL_DIR="$work/local"
read -r array merge < <("$repo/tools/slurm/submit_sweep.sh" "$sweep_spec" 4 "$work/merged.db")
echo "cluster: sweep array job $array, merge job $merge"
for i in 0 1 2 3; do wait_job "${array}_$i" 300; done
wait_job "$merge" 120
echo "cluster: sweep merged into $work/merged.db"

# A 2-rank data-parallel run: tools/slurm/train_ddp.sbatch runs srun -n 2.
ddp=$(sbatch --parsable --ntasks=2 --output="$work/ddp.log" "$repo/tools/slurm/train_ddp.sbatch" "$ddp_spec" "$work/ddp.db" -q)
wait_job "$ddp" 300
echo "cluster: srun -n 2 run (job $ddp) finished"
