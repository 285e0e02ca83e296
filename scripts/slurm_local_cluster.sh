#!/usr/bin/env bash
# A throw-away single-node SLURM cluster on this machine, for CI and for trying profiles/slurm:
#
#   bash scripts/slurm_local_cluster.sh up       # install (if missing) and start munged, slurmctld, slurmd
#   bash scripts/slurm_local_cluster.sh status   # sinfo/squeue; exit 0 when the node takes jobs
#   bash scripts/slurm_local_cluster.sh down     # stop the daemons, remove their state
#
# `up` exits with 3 when the packages cannot be installed (no apt-get, no network), 1 on any other failure.
#
# Debian/Ubuntu only (apt-get), run as root (or with password-less sudo). No systemd needed: the daemons run
# in the background from this script. The one node, `localhost`, has every CPU of this machine and one fake
# GPU (GRES gpu:fake:1 backed by /dev/null), so jobs that ask for a GPU (`--gpus=1`, `--gres=gpu:1`) are scheduled
# as on a GPU cluster; CUDA itself is not there. No slurmdbd: `sacct` does not work, job status comes from
# `squeue`, which keeps finished jobs for MinJobAge seconds.
#
# Environment: SLURM_LOCAL_CPUS, SLURM_LOCAL_MEM_MB (node size; defaults: nproc, max(MemTotal, 8192) MB),
# SLURM_LOCAL_STATE (state folder, default /var/lib/baler-slurm), SLURM_LOCAL_FORCE=1 (overwrite an
# /etc/slurm/slurm.conf that this script did not write).
set -euo pipefail

MARKER="# written by baler scripts/slurm_local_cluster.sh"
CONF=/etc/slurm/slurm.conf        # must be here: job steps run srun with every SLURM_* variable removed
GRES_CONF=/etc/slurm/gres.conf
STATE=${SLURM_LOCAL_STATE:-/var/lib/baler-slurm}
LOG=$STATE/log
RUN=/run/baler-slurm              # our pid files; survives `down`'s removal of $STATE until the daemons stop
MIN_JOB_AGE=1800                  # >= 3 x the executor's slurm-init-seconds-before-status-checks (squeue status)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
        echo "slurm_local_cluster.sh: needs root (or password-less sudo)" >&2; exit 1
    fi
fi

say() { echo "[slurm-local] $*"; }

have_slurm() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sinfo >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null
}

install_packages() {
    if have_slurm; then
        return 0
    fi
    command -v apt-get >/dev/null || { echo "slurm_local_cluster.sh: apt-get not found (Debian/Ubuntu only)" >&2; return 1; }
    say "installing slurm-wlm and munge (apt-get)"
    # Keep the packages' maintainer scripts from starting services: this script starts its own daemons.
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod 755 "$policy" && added_policy=1
    fi
    local rc=0
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge)
    if ! $SUDO "${apt[@]}" >/tmp/slurm-local-apt.log 2>&1; then
        # a fresh machine may have no package lists yet
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >>/tmp/slurm-local-apt.log 2>&1 || true
        $SUDO "${apt[@]}" >>/tmp/slurm-local-apt.log 2>&1 || rc=$?
    fi
    [ "$added_policy" = 1 ] && $SUDO rm -f "$policy"
    if [ "$rc" -ne 0 ] || ! have_slurm; then
        echo "slurm_local_cluster.sh: apt-get install slurm-wlm munge failed (log: /tmp/slurm-local-apt.log):" >&2
        tail -n 15 /tmp/slurm-local-apt.log >&2
        return 1
    fi
}

node_state() {
    sinfo -h -N -n localhost -o '%t' 2>/dev/null | head -n 1 || true
}

ours_running() {  # the slurmctld this script started is alive (sinfo takes ~10 s to fail without one)
    [ -s "$RUN/slurmctld.bg" ] && kill -0 "$(cat "$RUN/slurmctld.bg")" 2>/dev/null
}

is_up() {
    case "$(node_state)" in
        idle | mix | mix- | alloc | alloc- | comp) return 0 ;;
        *) return 1 ;;
    esac
}

write_config() {
    if [ -e "$CONF" ] && ! grep -qF "$MARKER" "$CONF" && [ "${SLURM_LOCAL_FORCE:-0}" != 1 ]; then
        echo "slurm_local_cluster.sh: $CONF exists and was not written by this script; not touching it" \
            "(set SLURM_LOCAL_FORCE=1 to overwrite)" >&2
        return 1
    fi
    local cpus mem total
    cpus=${SLURM_LOCAL_CPUS:-$(nproc)}
    total=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
    # Memory is not enforced here (no cgroups), so the node may declare more than there is: enough that the
    # profile's default requests (train_model: 4000 MB on the first attempt) can be scheduled on a small CI box.
    mem=${SLURM_LOCAL_MEM_MB:-$(( total > 8192 ? total : 8192 ))}
    $SUDO mkdir -p /etc/slurm
    $SUDO tee "$CONF" >/dev/null <<EOF
$MARKER
# Single-node test cluster: node localhost with $cpus CPUs, $mem MB and one fake GPU. Not for production.
ClusterName=baler-local
SlurmctldHost=localhost
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: plain process tracking, no task binding, no accounting daemon.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
# Without a default memory per CPU each job would be given the whole node's memory and run alone.
DefMemPerCPU=500
GresTypes=gpu
# Finished jobs stay visible to squeue/scontrol this long: the executor's status checks rely on it.
MinJobAge=$MIN_JOB_AGE
ReturnToService=2
# Trust the node description below instead of the hardware probe (which would drain the node).
SlurmdParameters=config_overrides
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:fake:1 State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    $SUDO tee "$GRES_CONF" >/dev/null <<EOF
$MARKER
# A fake GPU of type "fake": File must name a character device; /dev/null is one. No NVML autodetection.
AutoDetect=off
NodeName=localhost Name=gpu Type=fake File=/dev/null
EOF
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        say "munged already running"
        return 0
    fi
    if [ ! -s /etc/munge/munge.key ]; then
        $SUDO mkdir -p /etc/munge
        if command -v mungekey >/dev/null; then
            $SUDO mungekey --create --keyfile /etc/munge/munge.key
        else
            $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        fi
    fi
    $SUDO chown munge:munge /etc/munge/munge.key
    $SUDO chmod 0400 /etc/munge/munge.key
    $SUDO mkdir -p /run/munge /var/lib/munge /var/log/munge
    $SUDO chown munge:munge /run/munge /var/lib/munge /var/log/munge
    $SUDO chmod 0755 /run/munge
    $SUDO runuser -u munge -- /usr/sbin/munged    # daemonizes; pid file /run/munge/munged.pid
    $SUDO touch "$RUN/munged.ours"
    for _ in $(seq 50); do
        if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    echo "slurm_local_cluster.sh: munged did not start" >&2
    return 1
}

start_daemon() {  # name, command...
    local name=$1
    shift
    $SUDO bash -c 'setsid nohup "$@" >"'"$LOG/$name.out"'" 2>&1 </dev/null & echo $! >"'"$RUN/$name.bg"'"' _ "$@"
}

up() {
    install_packages || exit 3
    if ours_running && is_up; then
        say "cluster already up"
        sinfo
        return 0
    fi
    write_config
    $SUDO mkdir -p "$RUN"
    # A fresh cluster: stale state from an earlier run (jobs, node states) would only confuse it.
    stop_daemons quiet
    $SUDO rm -rf "$STATE"
    $SUDO mkdir -p "$STATE/slurmctld" "$STATE/slurmd" "$LOG"
    start_munge
    start_daemon slurmctld slurmctld -D -i
    start_daemon slurmd slurmd -D -N localhost
    local state="" deadline=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$deadline" ]; do
        ours_running || break  # slurmctld exited: its log says why
        state=$(node_state)
        case "$state" in
            idle) break ;;
            down* | drain* | drng*) $SUDO scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true ;;
        esac
        sleep 0.5
    done
    if ! is_up; then
        echo "slurm_local_cluster.sh: node did not become idle (state: '${state:-none}'); logs:" >&2
        tail -n 20 "$LOG"/*.out "$LOG"/*.log >&2 2>/dev/null || true
        return 1
    fi
    say "cluster up: $(sinfo -h -o '%P %D %t %C(A/I/O/T) cpus, %m MB, %G')"
}

stop_daemons() {  # [quiet]
    local name pid
    for name in slurmd slurmctld; do
        pid=""
        [ -s "$RUN/$name.bg" ] && pid=$(cat "$RUN/$name.bg")
        [ -z "$pid" ] && [ -s "$RUN/$name.pid" ] && pid=$(cat "$RUN/$name.pid")
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            [ "${1:-}" = quiet ] || say "stopping $name ($pid)"
            $SUDO kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            if kill -0 "$pid" 2>/dev/null; then $SUDO kill -KILL "$pid" 2>/dev/null || true; fi
        fi
        $SUDO rm -f "$RUN/$name.bg" "$RUN/$name.pid"
    done
}

down() {
    if command -v scancel >/dev/null && ours_running; then
        $SUDO scancel --full --state=PENDING,RUNNING,SUSPENDED >/dev/null 2>&1 || true
        $SUDO scancel --state=PENDING,RUNNING,SUSPENDED >/dev/null 2>&1 || true
    fi
    stop_daemons
    if [ -e "$RUN/munged.ours" ]; then
        local pid=""
        [ -s /run/munge/munged.pid ] && pid=$(cat /run/munge/munged.pid)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            say "stopping munged ($pid)"
            $SUDO kill -TERM "$pid" 2>/dev/null || true
        fi
        $SUDO rm -f "$RUN/munged.ours"
    fi
    # Keep the logs of the last run next to where they were, drop job and node state.
    if [ -d "$STATE" ]; then
        $SUDO rm -rf "$STATE/slurmctld" "$STATE/slurmd"
    fi
    $SUDO rm -rf "$RUN"
    say "cluster down (logs, if any: $LOG)"
}

status() {
    if ! command -v sinfo >/dev/null; then
        echo "SLURM is not installed"
        return 1
    fi
    if ! is_up; then
        echo "cluster is not up (node state: '$(node_state)')"
        return 1
    fi
    sinfo
    squeue
    scontrol show node localhost | grep -E 'State|CfgTRES|AllocTRES|Gres' || true
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
