#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for trying `--slurm` end to end.
#
#   sudo scripts/slurm_local.sh          install (Debian/Ubuntu: slurm-wlm, munge), configure, start
#   sudo scripts/slurm_local.sh stop     stop the daemons this script started
#   scripts/slurm_local.sh status        sinfo / squeue
#
# It writes /etc/slurm/slurm.conf for one node (this hostname, its CPUs and memory, one
# partition `debug`), creates a munge key when there is none, and starts munged,
# slurmctld and slurmd. Process tracking uses /proc (proctrack/linuxproc), no cgroups, so
# it also runs inside containers. Not for production: no accounting, root may submit.
set -euo pipefail

CONF_DIR=/etc/slurm
STATE_DIR=/var/spool/slurmctld
SPOOL_DIR=/var/spool/slurmd
LOG_DIR=/var/log/slurm
HOST=$(hostname -s)

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: $0 $1 needs root (apt-get, /etc/slurm, daemons); run it with sudo" >&2
        exit 1
    fi
}

status() {
    sinfo
    squeue
}

stop() {
    need_root stop
    for daemon in slurmd slurmctld munged; do
        pidfile=""
        case $daemon in
            slurmd) pidfile=/run/slurmd.pid ;;
            slurmctld) pidfile=/run/slurmctld.pid ;;
            munged) pidfile=/run/munge/munged.pid ;;
        esac
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            echo "stopped $daemon (pid $pid)"
        fi
    done
}

install() {
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends slurm-wlm munge
    fi
}

configure() {
    local cpus mem_mb
    cpus=$(nproc)
    # RealMemory a little under what the machine has, so slurmd never reports less.
    mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    mkdir -p "$CONF_DIR" "$STATE_DIR" "$SPOOL_DIR" "$LOG_DIR"
    cat > "$CONF_DIR/slurm.conf" <<CONF
# Written by musclekit scripts/slurm_local.sh: one node, this machine.
ClusterName=musclekit-local
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
KillWait=5
InactiveLimit=0
MinJobAge=300
NodeName=$HOST CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
    echo "wrote $CONF_DIR/slurm.conf (node $HOST, $cpus CPUs, $mem_mb MB)"
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile=/etc/munge/munge.key --force
        else
            dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
        fi
    fi
    chown munge:munge /etc/munge/munge.key 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
}

start() {
    if ! pgrep -x munged >/dev/null; then
        if id munge >/dev/null 2>&1; then
            runuser -u munge -- /usr/sbin/munged
        else
            /usr/sbin/munged --force
        fi
    fi
    munge -n | unmunge >/dev/null || { echo "error: munge does not work" >&2; exit 1; }
    pgrep -x slurmctld >/dev/null || slurmctld
    pgrep -x slurmd >/dev/null || slurmd
    # Wait until the node is up and idle (slurmd registers with slurmctld).
    for _ in $(seq 1 30); do
        if sinfo -h -N -o '%t' 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; then
            sinfo
            return 0
        fi
        sleep 1
    done
    echo "error: the node did not come up; see $LOG_DIR/slurmctld.log and $LOG_DIR/slurmd.log" >&2
    sinfo >&2 || true
    exit 1
}

case "${1:-up}" in
    up) need_root up; install; configure; start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 [up|stop|status]" >&2; exit 2 ;;
esac
