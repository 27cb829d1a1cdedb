#!/usr/bin/env bash
# A local two-node Slurm cluster for the tests (internal/slurmtest), with
# every file inside one folder:
#
#   cluster.sh start DIR   creates DIR (new or empty) and starts in it munged,
#                          slurmctld and two slurmd (nodes n1 and n2, one CPU
#                          each, on this host); waits until both nodes are
#                          idle, then prints SLURM_CONF=DIR/slurm.conf
#                          (the only line on stdout; the rest goes to stderr).
#   cluster.sh stop DIR    stops them by the PIDs in DIR's pid files, and
#                          the job steps (slurmstepd) of this cluster with
#                          their processes; safe to repeat, and on a
#                          half-started cluster.
#
# A client needs only SLURM_CONF=DIR/slurm.conf in its environment to use
# sbatch, squeue, scancel, scontrol and sinfo. Nothing here touches the
# system's own Slurm or MUNGE configuration, and nothing is left running
# that stop does not find: every daemon is started with SLURM_CONF set to
# this DIR's slurm.conf and with DIR on its command line, which is how stop
# tells this cluster's processes from any others.
#
# Needs root (slurmd runs jobs as their submitter) and the Debian packages
# that scripts/slurm/install.sh installs. Debug output: DIR/log/*.log and
# DIR/munge/munged.log.
#
# DIR layout: slurm.conf; munge/ (key, socket, pid, log and seed of munged,
# owned by the munge user); run/ (pid files); log/; state/ (slurmctld's
# StateSaveLocation); spool/n1, spool/n2 (SlurmdSpoolDir).
set -euo pipefail

say() { echo "slurm/cluster.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

# How long start waits for the nodes to become idle, in seconds.
START_TIMEOUT=${SLURM_START_TIMEOUT:-30}
NODES=(n1 n2)

# alive PID: whether the process exists and is not a zombie (a zombie whose
# parent does not reap it is as good as gone).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# ours PID: whether the process is one this DIR's start started, by its
# command line (munged, slurmctld and slurmd are given paths inside DIR),
# so that a stale pid file whose PID was reused is never acted on.
ours() {
  local cmdline
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ $cmdline == *"$DIR/"* ]]
}

# find_steps sets STEPS to the PIDs of this cluster's slurmstepd processes
# and JOBPROCS to the PIDs of everything under them (the jobs' processes).
# slurmstepd rewrites its command line ("slurmstepd: [12.batch]"), so it is
# told by its environment, inherited from slurmd:
# SLURM_CONF=DIR/slurm.conf. Only processes named slurmstepd are matched
# that way (a shell with that SLURM_CONF is not ours to kill); their
# descendants are found by parent PID.
find_steps() {
  local pid ppid changed tree
  STEPS=()
  JOBPROCS=()
  for pid in $(pgrep -x slurmstepd || true); do
    if tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qxF "SLURM_CONF=$DIR/slurm.conf"; then
      STEPS+=("$pid")
    fi
  done
  ((${#STEPS[@]} > 0)) || return 0
  tree=$(ps -e -o pid=,ppid=)
  # Descendants: repeat until no new child of a collected process appears.
  changed=1
  while [[ -n $changed ]]; do
    changed=
    while read -r pid ppid; do
      if [[ " ${STEPS[*]} ${JOBPROCS[*]} " == *" $ppid "* && " ${JOBPROCS[*]} " != *" $pid "* ]]; then
        JOBPROCS+=("$pid")
        changed=1
      fi
    done <<<"$tree"
  done
}

# terminate PID...: TERM, up to 5 s for them to exit, then KILL, and wait
# until they are gone.
terminate() {
  (($# > 0)) || return 0
  local pending=("$@") left pid sig
  for sig in TERM KILL; do
    if [[ $sig == KILL ]]; then say "still running 5 s after TERM, sending KILL: ${pending[*]}"; fi
    kill "-$sig" "${pending[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
      left=()
      for pid in "${pending[@]}"; do if alive "$pid"; then left+=("$pid"); fi; done
      pending=("${left[@]}")
      ((${#pending[@]} > 0)) || return 0
      sleep 0.1
    done
  done
  say "error: still running after KILL: ${pending[*]}"
  return 1
}

# stop: the jobs' processes, both slurmd, slurmctld and munged, by PID,
# all at once (there is nothing to save); then the job steps (slurmstepd
# ignores TERM, and would only linger trying to report to slurmd).
stop() {
  local pids=() f pid
  [[ -d $DIR ]] || return 0
  find_steps
  pids=("${JOBPROCS[@]}")
  for f in "$DIR"/run/slurmd-*.pid "$DIR/run/slurmctld.pid" "$DIR/munge/munged.pid"; do
    [[ -f $f ]] || continue
    pid=$(<"$f")
    [[ $pid =~ ^[0-9]+$ ]] || continue
    if alive "$pid" && ours "$pid"; then pids+=("$pid"); fi
  done
  if ((${#pids[@]} > 0)); then
    say "stopping $DIR: PIDs ${pids[*]}"
    terminate "${pids[@]}"
  fi
  # The job steps: those found above, and any that was starting meanwhile.
  local steps=("${STEPS[@]}")
  find_steps
  for pid in "${STEPS[@]}" "${JOBPROCS[@]}"; do
    [[ " ${steps[*]} " == *" $pid "* ]] || steps+=("$pid")
  done
  if ((${#steps[@]} > 0)); then
    say "killing the job steps of $DIR: PIDs ${steps[*]}"
    kill -KILL "${steps[@]}" 2>/dev/null || true
    terminate "${steps[@]}"
  fi
}

# port_free PORT: no TCP socket of this host uses the port.
port_free() { [[ -z $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]]; }

# log_tails: the end of each log, for a start that failed.
log_tails() {
  local f
  for f in "$DIR"/munge/munged.log "$DIR"/log/*.log; do
    [[ -f $f ]] || continue
    echo "--- $f (last 20 lines)" >&2
    tail -n 20 "$f" >&2
  done
}

start_munge() {
  local m=$DIR/munge user=munge
  # munged wants its socket's folder searchable by all (clients connect
  # there) and writable by no one else.
  mkdir -p "$m"
  chmod 755 "$m"
  # The key: 1024 random bytes, readable by munged's user only.
  dd if=/dev/urandom of="$m/munge.key" bs=1024 count=1 status=none
  chmod 600 "$m/munge.key"
  # munged refuses to run as root without --force, and checks that its
  # files are owned by its user: run it as Debian's munge user when there
  # is one, else as root with --force.
  local args=(--key-file="$m/munge.key" --socket="$m/munge.socket"
    --pid-file="$m/munged.pid" --log-file="$m/munged.log" --seed-file="$m/munged.seed")
  if id -u "$user" >/dev/null 2>&1; then
    chown -R "$user:" "$m"
    runuser -u "$user" -- munged "${args[@]}" </dev/null >>"$m/munged.out" 2>&1 ||
      user=
  else
    user=
  fi
  if [[ -z $user ]]; then
    say "munged as the munge user failed (or there is none): running it as root with --force"
    chown -R root: "$m"
    munged --force "${args[@]}" </dev/null >>"$m/munged.out" 2>&1 ||
      die "munged did not start: $(cat "$m/munged.out" "$m/munged.log" 2>/dev/null)"
  fi
  # munged forks once its socket is ready, but check that it answers.
  for _ in $(seq 50); do
    if munge -n -S "$m/munge.socket" 2>/dev/null | unmunge -S "$m/munge.socket" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  die "munged does not answer on $m/munge.socket"
}

# choose_ports: three consecutive free TCP ports (slurmctld, slurmd n1, n2),
# from a random place in 17000-18999 so that concurrent or leftover clusters
# seldom meet; the lock (held by start until the daemons listen) makes
# concurrent starts take turns.
choose_ports() {
  local base
  for _ in $(seq 200); do
    base=$((17000 + (RANDOM % 666) * 3))
    if port_free "$base" && port_free $((base + 1)) && port_free $((base + 2)); then
      echo "$base"
      return 0
    fi
  done
  die "found no three free consecutive TCP ports in 17000-18999"
}

write_conf() {
  local base=$1 host
  # slurmctld checks that SlurmctldHost is this host's short name; the
  # addresses are given as 127.0.0.1 so that nothing depends on the name
  # resolving.
  host=$(hostname -s)
  cat >"$DIR/slurm.conf" <<CONF
# Written by scripts/slurm/cluster.sh for a test cluster in $DIR.
ClusterName=prunebench
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$base
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# Both the authentication and the credential plugin read AuthInfo: this
# cluster's munged, and a short credential lifetime, which is also how long
# a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$DIR/munge/munge.socket,cred_expire=5
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups (containers seldom allow them): processes are tracked by
# parentage, and tasks are not bound to CPUs.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Schedule batch jobs at once (default: up to 3 s later), and look at the
# queue every second (default: a full pass every 60 s, backfill every 30 s;
# a requeued job would otherwise wait that long once it may start again).
SchedulerParameters=batch_sched_delay=0,sched_interval=1,bf_interval=1
# A node that was down comes back by itself when its slurmd registers.
ReturnToService=2
# Finished jobs stay visible to scontrol show job for 5 minutes.
MinJobAge=300
JobRequeue=1
# The product documents arrays of up to 10,000 tasks.
MaxArraySize=10001
MaxJobCount=100000
KillWait=5
SlurmdTimeout=30
SlurmctldTimeout=10
InactiveLimit=0
Waittime=0
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((base + 1)) CPUs=1 State=UNKNOWN
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((base + 2)) CPUs=1 State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
  [[ $(id -u) == 0 ]] || die "needs root (slurmd runs jobs as their submitter, munged's files must be owned by its user)"
  local cmd
  for cmd in munged munge unmunge slurmctld slurmd sinfo ss runuser flock; do
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd is not on PATH (scripts/slurm/install.sh installs Slurm and MUNGE)"
  done
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd -P)
  [[ -z $(ls -A "$DIR") ]] || die "$DIR is not empty"
  # A unix socket's path has at most 107 bytes, and the longest here are
  # slurmstepd's, DIR/spool/n1/n1_JOBID.STEPID (up to DIR + 34 bytes).
  ((${#DIR} <= 64)) || die "$DIR is too long (over 64 bytes) for the unix sockets that munged and slurmstepd make inside it"
  # munged (as the munge user) must reach DIR/munge. The spool folders are
  # made here because slurmd looks for them before it creates them.
  chmod 755 "$DIR"
  mkdir -p "$DIR/run" "$DIR/log" "$DIR/state" "${NODES[@]/#/$DIR/spool/}"
  # From here on, a failure stops whatever was started.
  trap 'rc=$?; if ((rc != 0)); then log_tails; stop || true; fi' EXIT
  export SLURM_CONF=$DIR/slurm.conf

  start_munge

  # Ports: chosen and bound under a lock, so that two starts at once do not
  # both pick the same free ports. The daemons must not inherit the lock's
  # file descriptor (9>&-), or the lock would outlive start.
  local lock=${TMPDIR:-/tmp}/prunebench-slurm-ports.lock base node
  exec 9>"$lock"
  flock -w 60 9 || die "could not lock $lock"
  base=$(choose_ports)
  write_conf "$base"
  slurmctld -f "$SLURM_CONF" </dev/null >>"$DIR/log/slurmctld.out" 2>&1 9>&- ||
    die "slurmctld did not start: $(cat "$DIR/log/slurmctld.out")"
  for node in "${NODES[@]}"; do
    slurmd -f "$SLURM_CONF" -N "$node" </dev/null >>"$DIR/log/slurmd-$node.out" 2>&1 9>&- ||
      die "slurmd -N $node did not start: $(cat "$DIR/log/slurmd-$node.out")"
  done
  for _ in $(seq 100); do
    if port_listening "$base" && port_listening $((base + 1)) && port_listening $((base + 2)); then
      break
    fi
    sleep 0.1
  done
  exec 9>&-

  # Both nodes idle (registered, nothing running) means the cluster is up.
  local deadline=$((SECONDS + START_TIMEOUT)) states=
  while ((SECONDS < deadline)); do
    states=$(sinfo -h -N -o '%N=%t' 2>/dev/null | sort -u | tr '\n' ' ') || true
    if [[ $states == "n1=idle n2=idle " ]]; then
      echo "SLURM_CONF=$SLURM_CONF"
      return 0
    fi
    sleep 0.2
  done
  die "the nodes did not become idle within ${START_TIMEOUT}s (sinfo: ${states:-no answer})"
}

# port_listening PORT: some process listens on the TCP port.
port_listening() { [[ -n $(ss -Htln "( sport = :$1 )" 2>/dev/null) ]]; }

case "${1:-}:${2:-}" in
start:?*)
  DIR=$2
  start
  ;;
stop:?*)
  DIR=$2
  if [[ -d $DIR ]]; then DIR=$(cd "$DIR" && pwd -P); fi
  stop
  ;;
*)
  echo "usage: $0 start DIR | stop DIR" >&2
  exit 2
  ;;
esac
