#!/usr/bin/env bash
# slurm_down.sh: stop the CI Slurm cluster started by slurm_up.sh.
#
# Cancels the jobs still in the queue, then stops slurmd -> slurmctld -> slurmdbd -> mariadbd -> munged by the
# pids in their pid files under $SLURM_CI_DIR (default /tmp/slurm): SIGTERM, then SIGKILL after
# $SLURM_CI_STOP_TIMEOUT seconds (default 15). Then ends any slurmstepd/slurmscriptd left behind, by pid.
# Safe to run when nothing is running. Keeps $SLURM_CI_DIR (logs) for inspection; slurm_up.sh wipes it.
# Exits non-zero if a daemon or Slurm helper process survives SIGKILL.
set -euo pipefail

S=${SLURM_CI_DIR:-/tmp/slurm}
STOP_TIMEOUT=${SLURM_CI_STOP_TIMEOUT:-15}
export PATH="$PATH:/usr/sbin:/sbin"

now_ms() { date +%s%3N; }
T0=$(now_ms)
say() {
  local t; t=$(now_ms)
  printf '[slurm_down %4d.%01ds] %s\n' $(((t - T0) / 1000)) $(((t - T0) % 1000 / 100)) "$*"
}

stop_pid() {  # stop_pid <name> <pid>: TERM, wait up to STOP_TIMEOUT s, then KILL; returns 1 if it survives
  local name=$1 pid=$2 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { say "stopped $name ($pid)"; return 0; }
    sleep 0.1
  done
  say "$name ($pid) did not stop within ${STOP_TIMEOUT}s: sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || { say "killed $name ($pid)"; return 0; }
    sleep 0.1
  done
  echo "slurm_down: $name ($pid) survived SIGKILL" >&2
  return 1
}

pidfile() {
  case $1 in
    munged) echo "$S/munge/munged.pid" ;;
    *) echo "$S/$1.pid" ;;
  esac
}

rc=0
ctld_pid=$(cat "$(pidfile slurmctld)" 2>/dev/null || true)

# 1. cancel queued and running jobs while the controller is still up, so that no job step outlives slurmd
if [ -n "$ctld_pid" ] && kill -0 "$ctld_pid" 2>/dev/null; then
  jobs=$(timeout 5 squeue -h -o %A 2>/dev/null || true)
  if [ -n "$jobs" ]; then
    say "cancelling $(echo "$jobs" | wc -l) job(s)"
    # shellcheck disable=SC2086  # one job id per word
    timeout 10 scancel $jobs || true
    for ((i = 0; i < (STOP_TIMEOUT + 10) * 5; i++)); do
      [ -z "$(timeout 5 squeue -h -o %A 2>/dev/null || true)" ] && break
      sleep 0.2
    done
  fi
fi

# 2. daemons, in reverse start order
for d in slurmd slurmctld slurmdbd mariadbd munged; do
  p=$(pidfile "$d")
  [ -s "$p" ] || continue
  pid=$(cat "$p")
  stop_pid "$d" "$pid" || rc=1
  rm -f "$p"
done

# 3. Slurm helper processes that would outlive the daemons (job step daemons of killed jobs, script daemon).
# Nothing else on a CI machine runs them, and they cannot work without the daemons stopped above.
for helper in slurmstepd slurmscriptd; do
  for pid in $(pgrep -x "$helper" || true); do
    say "stray $helper ($pid)"
    stop_pid "$helper" "$pid" || rc=1
  done
done
for d in slurmd slurmctld slurmdbd mariadbd munged; do
  if pids=$(pgrep -x "$d"); then
    echo "slurm_down: warning: a $d with no pid file under $S is running (pid $(echo "$pids" | tr '\n' ' ')); not touched" >&2
  fi
done
say "done"
exit "$rc"
