#!/usr/bin/env bash
# A single-node Slurm on this machine, for scripts/test-slurm.sh and for
# trying `supervisor slurm submit` without a cluster.
#
#   scripts/slurm-local.sh up     install if missing, start munged, slurmctld, slurmd
#   scripts/slurm-local.sh down   cancel our jobs, stop the daemons by PID
#   scripts/slurm-local.sh env    print the line that points Slurm's commands here
#
# Everything (config, munge key and socket, state, spool, logs, pid files)
# lives in $PROCMAP_SLURM_DIR (default target/slurm), selected through
# SLURM_CONF: /etc's Slurm and munge configuration are never touched, and
# nothing is started or stopped by name. Needs root (it is on CI and on the
# development VM) because slurmd starts jobs as their user.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${PROCMAP_SLURM_DIR:-$PWD/target/slurm}
CONF=$DIR/slurm.conf
MUNGE_SOCKET=$DIR/munge/munge.socket
# Private ports, so that a real Slurm on the same host is left alone.
CTLD_PORT=${PROCMAP_SLURM_PORT:-16817}
SLURMD_PORT=$((CTLD_PORT + 1))

say() { echo "slurm-local: $*" >&2; }
die() { say "$*"; exit 2; }

# Waits up to $1 seconds for command "${@:3}" to succeed; $2 says what for.
wait_for() {
  local limit=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { say "timed out after ${limit}s waiting for $what"; return 1; }
    sleep 0.2
  done
}

install() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
    && command -v sbatch >/dev/null && command -v munged >/dev/null && return
  [[ $(id -u) == 0 ]] || die "Slurm is not installed: run as root, or apt-get install slurmctld slurmd slurm-client munge"
  say "installing slurmctld slurmd slurm-client munge (about 25 s)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
}

write_config() {
  mkdir -p "$DIR"/{ctld,spool,log,munge}
  # munged refuses keys, sockets and logs that others could write.
  chown munge:munge "$DIR/munge"
  chmod 0700 "$DIR/munge"
  if [[ ! -s $DIR/munge/munge.key ]]; then
    head -c 1024 /dev/urandom >"$DIR/munge/munge.key"
    chown munge:munge "$DIR/munge/munge.key"
    chmod 0400 "$DIR/munge/munge.key"
  fi
  # Accounting, cgroups and task affinity are off: none of them exist in a
  # container without systemd, and the tests need none of them.
  cat >"$CONF" <<EOF
# Written by scripts/slurm-local.sh: a private single-node Slurm for tests.
ClusterName=procmap-local
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
# A cancelled task's supervisor gets SIGTERM, then SIGKILL this much later.
KillWait=10
# Start array tasks as soon as a CPU frees up, not on the next timer.
SchedulerParameters=sched_interval=2
NodeName=localhost CPUs=$(nproc) State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

pid_of() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null && cat "$1"; }

up() {
  install
  if pid_of "$DIR/slurmctld.pid" >/dev/null; then
    say "already running (pid $(cat "$DIR/slurmctld.pid")); 'down' first to restart"
    env_line
    return
  fi
  write_config
  rm -f "$DIR"/*.pid
  runuser -u munge -- munged --socket="$MUNGE_SOCKET" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" \
    --seed-file="$DIR/munge/munged.seed" --force
  wait_for 10 "munged to answer on $MUNGE_SOCKET" bash -c "munge -n -S '$MUNGE_SOCKET' | unmunge -S '$MUNGE_SOCKET'" \
    || die "munged did not start: see $DIR/munge/munged.log"
  export SLURM_CONF=$CONF
  # -i: start afresh even if the state directory holds a previous run's jobs.
  slurmctld -i -f "$CONF" || die "slurmctld did not start: see $DIR/log/slurmctld.log"
  slurmd -N localhost -f "$CONF" || die "slurmd did not start: see $DIR/log/slurmd.log"
  wait_for 30 "sinfo to show the node idle" bash -c "sinfo -h -N -o %t | grep -qx idle" \
    || { sinfo -N >&2 || true; die "the node did not become idle: see $DIR/log/"; }
  say "up: $(nproc) CPUs on node localhost, partition local; logs in $DIR/log"
  env_line
}

# Stops what `up` started, by the PIDs it recorded; SIGKILL after 10 s.
stop_pid() {
  local name=$1 file=$2 pid
  pid=$(pid_of "$file") || return 0
  kill "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      say "$name (pid $pid) still running after 10 s: SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "$file"
}

down() {
  if pid_of "$DIR/slurmctld.pid" >/dev/null; then
    # Jobs outlive slurmd (their slurmstepd is not its child): cancel them
    # first, and give them a bounded time to go.
    export SLURM_CONF=$CONF
    scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    wait_for 20 "our jobs to end" bash -c '[[ -z $(squeue -h -o %i) ]]' || true
  fi
  stop_pid slurmd "$DIR/slurmd.pid"
  stop_pid slurmctld "$DIR/slurmctld.pid"
  stop_pid munged "$DIR/munge/munged.pid"
  say "down"
}

env_line() { echo "export SLURM_CONF=$CONF"; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) env_line ;;
  *) die "usage: $0 up|down|env" ;;
esac
