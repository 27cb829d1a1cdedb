#!/usr/bin/env bash
# Installs Slurm and MUNGE from Debian (slurmctld, slurmd, slurm-client,
# munge) for the tests' local two-node cluster (scripts/slurm/cluster.sh,
# internal/slurmtest). scripts/test.sh runs it.
#
# It does nothing when slurmctld, slurmd, sbatch and munged are all on PATH.
# Otherwise it runs apt-get update and apt-get install (as root), and makes
# sure that none of the installed daemons is left running or enabled: the
# tests start their own daemons, with every file inside a temporary folder,
# and stop them by PID; a system-wide munged or slurmd would only get in the
# way (and keep running after the tests).
set -euo pipefail

say() { echo "slurm/install.sh: $*" >&2; }

missing=()
for cmd in slurmctld slurmd sbatch munged; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
if ((${#missing[@]} == 0)); then
  say "Slurm and MUNGE are installed (slurmctld, slurmd, sbatch, munged on PATH): nothing to do"
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  say "error: ${missing[*]} not on PATH, and installing Slurm (apt-get install slurmctld slurmd slurm-client munge) needs root; run this as root, or install those packages yourself"
  exit 1
fi

daemons=(munged slurmctld slurmd)
services=(munge slurmctld slurmd)
# daemon_pids prints the PIDs of the processes named like the daemons.
daemon_pids() { for d in "${daemons[@]}"; do pgrep -x "$d" || true; done; }

# Daemons of these names that were already running are not ours to stop:
# remember them.
before=" $(daemon_pids | tr '\n' ' ') "

# Debian's postinst scripts start their services through invoke-rc.d, which
# asks /usr/sbin/policy-rc.d first; exit status 101 there means "do not
# start". Put one in place for the install when there is none (containers
# often have one already), and take it away again afterwards.
policy=/usr/sbin/policy-rc.d
own_policy=
if [[ ! -e $policy ]]; then
  own_policy=1
  printf '#!/bin/sh\n# Temporary, from prunebench scripts/slurm/install.sh: start no services.\nexit 101\n' >"$policy"
  chmod 755 "$policy"
fi
cleanup() { if [[ -n $own_policy ]]; then rm -f "$policy"; fi; }
trap cleanup EXIT

say "missing from PATH: ${missing[*]}; installing slurmctld slurmd slurm-client munge with apt-get (apt-get update first)"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y slurmctld slurmd slurm-client munge

# Leave nothing enabled: with systemd the units would otherwise start at the
# next boot, without it the SysV links would.
for svc in "${services[@]}"; do
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
  else
    systemctl disable "$svc.service" >/dev/null 2>&1 || true
  fi
  if [[ -e /etc/init.d/$svc ]] && command -v update-rc.d >/dev/null 2>&1; then
    update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
done

# Leave nothing running: stop any of the daemons that the install started
# (those that were not running before it), TERM first, then KILL.
stop=()
for pid in $(daemon_pids); do
  [[ $before == *" $pid "* ]] || stop+=("$pid")
done
if ((${#stop[@]} > 0)); then
  say "stopping daemons the install started: PIDs ${stop[*]}"
  kill -TERM "${stop[@]}" 2>/dev/null || true
  for _ in $(seq 50); do
    alive=()
    for pid in "${stop[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    ((${#alive[@]} == 0)) && break
    sleep 0.1
  done
  if ((${#alive[@]} > 0)); then kill -KILL "${alive[@]}" 2>/dev/null || true; fi
fi

for cmd in slurmctld slurmd sbatch munged; do
  command -v "$cmd" >/dev/null 2>&1 || { say "error: $cmd is still not on PATH after the install"; exit 1; }
done
say "installed: $(slurmctld -V), munge $(dpkg-query -W -f='${Version}' munge); no daemon left running or enabled"
