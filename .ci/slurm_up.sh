#!/usr/bin/env bash
# slurm_up.sh: start a real single-node Slurm cluster on localhost for CI (Debian 12, root, no systemd).
#
# Starts munged -> mariadbd -> slurmdbd -> slurmctld -> slurmd, installing the Debian packages first when
# they are missing. All state (pid files, logs, MariaDB datadir, Slurm state and spool) lives under
# $SLURM_CI_DIR (default /tmp/slurm), which is wiped on every fresh start; the configs are written to
# /etc/slurm, where every Slurm client looks for them. Waits until the node is idle, the cluster is
# registered in slurmdbd, `srun hostname` works and sacct sees that job, and prints timings.
#
# Idempotent: when all five daemons of a previous run are alive and the node answers, it only says so.
# A partly running cluster is stopped with slurm_down.sh and started afresh.
# On failure it exits non-zero and prints the tails of the daemons' logs.
#
# Env: SLURM_CI_DIR (state dir, absolute), SLURM_CI_DBPORT (MariaDB TCP port on 127.0.0.1, default 3306),
#      SLURM_CI_WAIT (seconds to wait for each readiness check, default 60).
# Partition: `debug` (the default); DefMemPerCPU=1024; no GRES/GPUs; cgroups are not used, so CPU and
# memory requests count for scheduling only.
set -Eeuo pipefail

S=${SLURM_CI_DIR:-/tmp/slurm}
DBPORT=${SLURM_CI_DBPORT:-3306}
WAIT=${SLURM_CI_WAIT:-60}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH="$PATH:/usr/sbin:/sbin"

case "$S" in
  /?*) ;;
  *) echo "slurm_up: SLURM_CI_DIR must be an absolute path other than / (got '$S')" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then echo "slurm_up: must run as root" >&2; exit 2; fi

exec 4>&2 # the script's stderr, for messages from inside redirected commands
now_ms() { date +%s%3N; }
T0=$(now_ms)
TSTEP=$T0
say() {  # say <msg>: message with total and per-step elapsed time
  local t; t=$(now_ms)
  printf '[slurm_up %4d.%01ds  +%3d.%01ds] %s\n' $(((t - T0) / 1000)) $(((t - T0) % 1000 / 100)) \
    $(((t - TSTEP) / 1000)) $(((t - TSTEP) % 1000 / 100)) "$*"
  TSTEP=$t
}
log_tails() {
  local f
  for f in "$S"/munge/munged.log "$S"/mysql-run/mariadb.log "$S"/slurmdbd.log "$S"/slurmctld.log "$S"/slurmd.log; do
    [ -s "$f" ] || continue
    echo "----- tail of $f -----"
    tail -n 30 "$f"
  done
}
fail() {
  {
    echo "slurm_up: FAILED: $*"
    log_tails
    echo "slurm_up: daemons that did start are still running; stop them with $HERE/slurm_down.sh"
  } >&4
  exit 1
}
trap 'rc=$?; echo "slurm_up: command failed (rc $rc) at line $LINENO: $BASH_COMMAND" >&2; log_tails >&2; exit $rc' ERR

waitfor() {  # waitfor <desc> <cmd...>: retry cmd every 0.2 s for $WAIT seconds
  local desc=$1; shift
  local end=$(($(date +%s) + WAIT))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$end" ]; then fail "timed out after ${WAIT}s waiting for: $desc"; fi
    sleep 0.2
  done
  say "$desc ok"
}

pidfile() {  # pid file of a daemon started by this script
  case $1 in
    munged) echo "$S/munge/munged.pid" ;;
    *) echo "$S/$1.pid" ;;
  esac
}
alive() {  # alive <daemon>: its pid file names a live process
  local p; p=$(pidfile "$1")
  [ -s "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null
}
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)
exec_clean() {  # exec_clean <cmd...>: exec a daemon holding no inherited fd above 2, so that it never keeps a
  # caller's pipe open (`slurm_up.sh | tee` would not end). Replaces the current shell: call it in a subshell.
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
  exec "$@"
}

# 0. already up? (idempotent) / partly up?
n_alive=0
for d in "${DAEMONS[@]}"; do if alive "$d"; then n_alive=$((n_alive + 1)); fi; done
if [ "$n_alive" -eq "${#DAEMONS[@]}" ] && command -v sinfo >/dev/null \
  && timeout 5 sinfo -h -p debug -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
  say "cluster already up (state in $S); nothing to do"
  exit 0
fi
if [ "$n_alive" -gt 0 ]; then
  say "found $n_alive of ${#DAEMONS[@]} daemons running or the node not answering: stopping them first"
  "$HERE/slurm_down.sh"
  say "stopped the partial cluster"
fi
for d in "${DAEMONS[@]}"; do
  if pids=$(pgrep -x "$d"); then
    fail "a $d not started by this script is running (pid $(echo "$pids" | tr '\n' ' ')); stop it first"
  fi
done

# 1. packages (skipped when present)
need_install=0
for c in slurmctld slurmd slurmdbd srun sinfo sacct sacctmgr munged mungekey mariadbd mariadb-install-db mariadb-admin; do
  command -v "$c" >/dev/null || need_install=1
done
if [ "$need_install" -eq 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  APTLOG=$(mktemp /tmp/slurm_up_apt.XXXXXX.log)
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client slurmdbd munge mariadb-server; } >"$APTLOG" 2>&1; then
    tail -n 40 "$APTLOG" >&2
    fail "apt-get install failed (full log: $APTLOG)"
  fi
  rm -f "$APTLOG"
  say "apt-get update + install done"
fi

# wipe the previous run's state, but never a folder this script did not create
if [ -d "$S" ] && [ ! -e "$S/.slurm_ci_dir" ] && [ -n "$(ls -A "$S")" ]; then
  fail "refusing to wipe $S: not empty and not made by slurm_up.sh (set SLURM_CI_DIR to a new folder)"
fi
rm -rf "$S"
mkdir -p "$S"/state "$S"/spool
touch "$S/.slurm_ci_dir"

# 2. munge: the key is normally created by the munge postinst; create it if missing
if [ ! -s /etc/munge/munge.key ]; then mungekey -c -f -k /etc/munge/munge.key; fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge "$S/munge"
(exec_clean runuser -u munge -- munged --pid-file="$S/munge/munged.pid" --log-file="$S/munge/munged.log")
waitfor "munge" bash -c 'munge -n | unmunge'

# 3. MariaDB on a private datadir (a fresh database every start), TCP on 127.0.0.1:$DBPORT.
# mariadbd runs as user mysql, so its datadir, socket, pid and log live in mysql-owned directories.
install -d -o mysql -g mysql "$S/mysql" "$S/mysql-run"
mariadb-install-db --user=mysql --datadir="$S/mysql" --auth-root-authentication-method=socket \
  --skip-test-db >"$S/mysql-run/mariadb-install.log" 2>&1 \
  || { tail -n 30 "$S/mysql-run/mariadb-install.log" >&2; fail "mariadb-install-db failed"; }
exec_clean mariadbd --no-defaults --user=mysql --datadir="$S/mysql" --socket="$S/mysql-run/mysqld.sock" \
  --pid-file="$S/mysql-run/mariadbd.pid" --port="$DBPORT" --bind-address=127.0.0.1 \
  --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 --log-error="$S/mysql-run/mariadb.log" \
  </dev/null >>"$S/mysql-run/mariadb.out" 2>&1 &
echo $! >"$S/mariadbd.pid"
mariadb_up() {
  alive mariadbd || fail "mariadbd exited during start-up"
  mariadb-admin --socket="$S/mysql-run/mysqld.sock" ping >/dev/null 2>&1
}
waitfor "mariadb" mariadb_up
mariadb --socket="$S/mysql-run/mysqld.sock" -e "
  CREATE USER 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
  CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw';
  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"

# 4. configs
H=$(hostname -s)
MEM=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
CPUS=$(nproc)
[ -n "$MEM" ] || fail "could not read RealMemory from 'slurmd -C'"
# Job ids start from a clock-derived number, not 1: every start has a fresh state dir and database, and a
# submitit folder ".../%j" left over from an earlier cluster would otherwise hold a result pickle under the
# same job id, which submitit returns silently as the new job's result. 100 ids per second, wraps after ~7 days.
FIRST_JOB_ID=$((($(date +%s) % 600000) * 100 + 1))
mkdir -p /etc/slurm
cat >/etc/slurm/slurmdbd.conf <<EOF
# written by .ci/slurm_up.sh
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
PidFile=$S/slurmdbd.pid
LogFile=$S/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DBPORT
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
EOF
chmod 600 /etc/slurm/slurmdbd.conf # slurmdbd refuses a conf readable by group or others

cat >/etc/slurm/slurm.conf <<EOF
# written by .ci/slurm_up.sh
ClusterName=ci
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
# a requeued job waits cred_expire+1 s before it may run again (default 120)
AuthInfo=cred_expire=10
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
# no cgroups: nothing to set up, but CPU/memory limits are not enforced inside jobs
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
# slurmdbd: submitit reads job states only through sacct
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
JobCompType=jobcomp/none
FirstJobId=$FIRST_JOB_ID
SchedulerType=sched/backfill
# batch_sched_delay=0: start batch jobs at once (default delay 3 s). A requeued job becomes eligible after
# cred_expire but is then only started by the next scheduling pass: backfill every 2 s (default 30 s),
# main loop every 5 s (default 60 s); this brings a requeue from ~40 s down to ~12 s.
SchedulerParameters=batch_sched_delay=0,bf_interval=2,sched_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without it a job with no --mem takes all node memory and blocks every other job
DefMemPerCPU=1024
# reject impossible requests at submit time instead of leaving them PENDING forever
EnforcePartLimits=ALL
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=10
Waittime=0
NodeName=$H NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
say "configs written (node $H: $CPUS CPUs, $MEM MB; first job id $FIRST_JOB_ID)"

# 5. Slurm daemons (each daemonizes and writes its own pid file)
(exec_clean slurmdbd)
waitfor "slurmdbd" sacctmgr -n -P show cluster
(exec_clean slurmctld -c) # -c: start from a clean job and node state
(exec_clean slurmd)
waitfor "node idle" bash -c '[ "$(timeout 3 sinfo -h -p debug -o %t)" = idle ]'
waitfor "cluster registered in slurmdbd" bash -c 'sacctmgr -n -P show cluster format=cluster | grep -qx ci'
waitfor "srun hostname" timeout 20 srun -p debug -t 1 hostname
waitfor "sacct sees the srun job" bash -c '[ -n "$(sacct -a -n -X -P -S now-3600 -o JobID)" ]'
for d in "${DAEMONS[@]}"; do alive "$d" || fail "$d is not running after start-up"; done
say "cluster ready: partition debug (default), node $H, state in $S"
