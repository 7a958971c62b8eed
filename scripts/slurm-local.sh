#!/usr/bin/env bash
# slurm-local.sh — single-machine, multi-node emulated Slurm 22.05 cluster (Debian 12 bookworm)
#
#   N slurmd daemons on one host (Debian's Slurm is built with MULTIPLE_SLURMD),
#   each a "node" n1..nN with fake GPUs (GRES gpu:h100:G backed by symlinks to /dev/null,
#   so Slurm sets CUDA_VISIBLE_DEVICES per job), optional slurmdbd+MariaDB accounting
#   (sacct, accounts/QoS/GrpTRES quotas), and slurmrestd (JWT auth) on 127.0.0.1.
#
# Origin: the Agora team's shared recipe `slurm/slurm-local.sh` (written for
# this project's engineers; no separate licence stated), copied here so the
# repository needs nothing beside it. Changes for Agora's tests: its own
# directory (/tmp/agora-slurm), 6 nodes in two leaf switches (topology.conf,
# so topology import is exercised), accounting off by default (.ci/run turns it on),
# job comments kept in accounting (AccountingStoreFlags=job_comment),
# a short SlurmdTimeout so that a killed slurmd is seen DOWN in seconds,
# `url`, `revive-node`, `restart-ctld` and `stop-rest` helpers for the
# failure tests.
#
# Usage (as root):
#   slurm-local.sh install        # apt-get the packages (idempotent)
#   slurm-local.sh start          # write config, start every daemon, wait until ready (idempotent)
#   slurm-local.sh status
#   slurm-local.sh token [USER] [LIFESPAN_S]   # print a JWT for slurmrestd
#   slurm-local.sh smoke          # end-to-end checks (gang job, json, cancel, requeue, REST, sacct)
#   slurm-local.sh crash-node n2  # SIGKILL that node's slurmd (emulated node crash); "start" revives it
#   slurm-local.sh stop           # stop ONLY the processes this script started (by recorded PID)
#   slurm-local.sh reset          # stop + delete $SL_DIR
#   source "$SL_DIR/env.sh"       # exports SLURM_CONF, SLURMRESTD_URL for clients
#
# Configuration (environment variables):
SL_DIR=${SL_DIR:-/tmp/agora-slurm}          # all config/state/logs/pids live here
SL_CLUSTER=${SL_CLUSTER:-gigafactory}
SL_NODES=${SL_NODES:-6}                     # emulated nodes n1..nN
SL_GPUS=${SL_GPUS:-8}                       # fake GPUs per node
SL_GPU_TYPE=${SL_GPU_TYPE:-h100}
SL_CPUS=${SL_CPUS:-16}                      # advertised CPUs per node (even number; not checked vs real)
SL_MEM=${SL_MEM:-64000}                     # advertised MB per node (not checked vs real)
SL_CTLD_PORT=${SL_CTLD_PORT:-16817}
SL_SLURMD_PORT_BASE=${SL_SLURMD_PORT_BASE:-17001}   # node i listens on base+i-1
# 1 = slurmdbd + MariaDB (sacct, sacctmgr, quotas, job comments kept); 0 = none.
# Unset: what $SL_DIR was started with (so "start" again never drops accounting).
SL_ACCOUNTING=${SL_ACCOUNTING:-$([ -e "$SL_DIR/etc/slurmdbd.conf" ] && echo 1 || echo 0)}
SL_DBD_PORT=${SL_DBD_PORT:-16819}
SL_MYSQL_PORT=${SL_MYSQL_PORT:-13306}
SL_REST=${SL_REST:-1}                       # 1 = start slurmrestd
SL_REST_PORT=${SL_REST_PORT:-6820}
SL_REST_USER=${SL_REST_USER:-slurmrestd}    # unprivileged user slurmrestd runs as (created if missing)
SL_LEAF=${SL_LEAF:-3}                       # nodes per leaf switch in topology.conf
SL_TIMEOUT=${SL_TIMEOUT:-60}                # seconds to wait for each readiness check
SL_SLURMD_TIMEOUT=${SL_SLURMD_TIMEOUT:-10}  # slurmctld marks a silent node DOWN after this many seconds

set -euo pipefail
CONF=$SL_DIR/etc/slurm.conf
PIDS=$SL_DIR/pids
MUNGE_SOCK=/run/munge/munge.socket.2        # Slurm's dbd persistent connections ignore AuthInfo=socket=, so use the default path
export SLURM_CONF=$CONF

log() { printf '[slurm-local %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2fs", b-a}'; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

# wait_for DESC CMD... : poll CMD every 0.2s up to SL_TIMEOUT
wait_for() {
  local desc=$1; shift; local t0; t0=$(now); local deadline=$(( $(date +%s) + SL_TIMEOUT ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || die "timeout waiting for $desc (see $SL_DIR/log)"
    sleep 0.2
  done
  log "$desc ready after $(since "$t0")"
}

# pid bookkeeping: $PIDS/<name>.pid holds the PID of a process WE started; <name>.exe its binary
alive() { # alive NAME -> 0 if our recorded process is still running (and is the same binary)
  local f=$PIDS/$1.pid p exe
  [ -f "$f" ] || return 1
  p=$(cat "$f"); exe=$(cat "$PIDS/$1.exe" 2>/dev/null || true)
  kill -0 "$p" 2>/dev/null || return 1
  [ -z "$exe" ] || tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- "$exe"
}
# spawn NAME EXE ARGS... : start in its own session, in the foreground mode of the daemon, record PID
spawn() {
  local name=$1 exe=$2; shift 2
  if alive "$name"; then log "$name already running (pid $(cat "$PIDS/$name.pid"))"; return 0; fi
  setsid "$@" >"$SL_DIR/log/$name.stdout" 2>&1 </dev/null &
  echo $! > "$PIDS/$name.pid"; echo "$exe" > "$PIDS/$name.exe"
  log "started $name pid $!"
}
# stop_many NAME... : SIGTERM all of our recorded processes at once, wait <=10s, then SIGKILL leftovers
stop_many() {
  local n p i live=()
  for n in "$@"; do
    if alive "$n"; then p=$(cat "$PIDS/$n.pid"); kill -TERM "$p" 2>/dev/null || true; live+=("$n:$p"); fi
  done
  for i in $(seq 1 50); do
    local any=0; for n in "${live[@]}"; do kill -0 "${n#*:}" 2>/dev/null && any=1; done
    [ "$any" = 0 ] && break; sleep 0.2
  done
  for n in "${live[@]}"; do
    if kill -0 "${n#*:}" 2>/dev/null; then log "${n%%:*} pid ${n#*:} ignored SIGTERM for 10s -> SIGKILL"; kill -KILL "${n#*:}" 2>/dev/null || true; fi
    log "stopped ${n%%:*} pid ${n#*:}"
  done
  for n in "$@"; do rm -f "$PIDS/$n.pid" "$PIDS/$n.exe"; done
}
# slurmstepd processes forked by OUR slurmds (they outlive slurmd by design); identified by an open fd into $SL_DIR
our_stepds() {
  local p
  for p in $(pgrep -x slurmstepd 2>/dev/null; pgrep -f '^slurmstepd:' 2>/dev/null); do
    ls -l "/proc/$p/fd" 2>/dev/null | grep -q -- "$SL_DIR/" && echo "$p"
  done | sort -u
}

cmd_install() {
  need_root; local t0; t0=$(now)
  local pkgs="slurm-wlm slurmrestd munge slurm-wlm-jwt-plugin curl jq"
  [ "$SL_ACCOUNTING" = 1 ] && pkgs="$pkgs slurmdbd slurm-wlm-mysql-plugin mariadb-server"
  local n_ok n_want
  # shellcheck disable=SC2086
  n_ok=$(dpkg-query -W -f='${db:Status-Status}\n' $pkgs 2>/dev/null | grep -cx installed || true)
  n_want=$(echo $pkgs | wc -w)
  if [ "$n_ok" -ne "$n_want" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # On this image /usr/sbin/policy-rc.d exits 101, so postinst does not start system daemons.
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  fi
  id "$SL_REST_USER" >/dev/null 2>&1 || useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$SL_REST_USER"
  log "install done in $(since "$t0")"
}

write_config() {
  mkdir -p "$SL_DIR"/{etc,log,spool/ctld,dev,jobs} "$PIDS"
  local i g last=$((SL_SLURMD_PORT_BASE + SL_NODES - 1))
  for i in $(seq 1 "$SL_NODES"); do
    mkdir -p "$SL_DIR/spool/slurmd-n$i"
    # fake GPU device files: must stat() as char/block devices -> symlink to /dev/null
    for g in $(seq 0 $((SL_GPUS - 1))); do ln -sfn /dev/null "$SL_DIR/dev/n$i-gpu$g"; done
  done
  # HS256 key shared by slurmctld/slurmdbd (AuthAltTypes=auth/jwt); a control plane may mint tokens with it
  [ -s "$SL_DIR/etc/jwt.key" ] || { head -c 32 /dev/urandom > "$SL_DIR/etc/jwt.key"; chmod 600 "$SL_DIR/etc/jwt.key"; }
  local acct
  if [ "$SL_ACCOUNTING" = 1 ]; then
    acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$SL_DBD_PORT
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
AccountingStorageEnforce=associations,limits,qos
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30"
  else
    acct="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
  fi
  cat > "$CONF" <<EOF
# generated by slurm-local.sh
ClusterName=$SL_CLUSTER
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$SL_CTLD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$SL_DIR/etc/jwt.key
StateSaveLocation=$SL_DIR/spool/ctld
SlurmdSpoolDir=$SL_DIR/spool/slurmd-%n
SlurmctldPidFile=$SL_DIR/spool/slurmctld.pid
SlurmdPidFile=$SL_DIR/spool/slurmd-%n.pid
SlurmctldLogFile=$SL_DIR/log/slurmctld.log
SlurmdLogFile=$SL_DIR/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/pgid
TaskPlugin=task/none
MpiDefault=none
$acct
JobCompType=jobcomp/filetxt
JobCompLoc=$SL_DIR/log/jobcomp.txt
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
GresTypes=gpu
SlurmdParameters=config_overrides
ReturnToService=1
SlurmdTimeout=$SL_SLURMD_TIMEOUT
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
JobRequeue=1
NodeName=n[1-$SL_NODES] NodeHostname=localhost NodeAddr=127.0.0.1 Port=[$SL_SLURMD_PORT_BASE-$last] CPUs=$SL_CPUS Boards=1 SocketsPerBoard=2 CoresPerSocket=$((SL_CPUS / 2)) ThreadsPerCore=1 RealMemory=$SL_MEM Gres=gpu:$SL_GPU_TYPE:$SL_GPUS State=UNKNOWN
PartitionName=gpu Nodes=n[1-$SL_NODES] Default=YES MaxTime=INFINITE State=UP
TopologyPlugin=topology/tree
EOF
  # leaf switches s1..sK of SL_LEAF nodes each under one spine s0
  { local k=0 first
    for first in $(seq 1 "$SL_LEAF" "$SL_NODES"); do
      k=$((k + 1)); last=$((first + SL_LEAF - 1)); [ "$last" -le "$SL_NODES" ] || last=$SL_NODES
      echo "SwitchName=s$k Nodes=n[$first-$last]"
    done
    echo "SwitchName=s0 Switches=s[1-$k]"; } > "$SL_DIR/etc/topology.conf"
  { echo "AutoDetect=off"
    for i in $(seq 1 "$SL_NODES"); do
      echo "NodeName=n$i Name=gpu Type=$SL_GPU_TYPE File=$SL_DIR/dev/n$i-gpu[0-$((SL_GPUS - 1))]"
    done; } > "$SL_DIR/etc/gres.conf"
  if [ "$SL_ACCOUNTING" = 1 ]; then
    cat > "$SL_DIR/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$SL_DIR/etc/jwt.key
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$SL_DBD_PORT
SlurmUser=root
LogFile=$SL_DIR/log/slurmdbd.log
PidFile=$SL_DIR/spool/slurmdbd.pid
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$SL_MYSQL_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$SL_DIR/etc/slurmdbd.conf"   # slurmdbd refuses a conf readable by others
  fi
  cat > "$SL_DIR/env.sh" <<EOF
export SLURM_CONF=$CONF
export SLURMRESTD_URL=http://127.0.0.1:$SL_REST_PORT
export SLURM_LOCAL_DIR=$SL_DIR
EOF
}

munge_ok() { munge -S "$MUNGE_SOCK" -n 2>/dev/null | unmunge -S "$MUNGE_SOCK" >/dev/null 2>&1; }
start_munge() {
  if munge_ok; then log "munged already answering on $MUNGE_SOCK (reused; not ours unless pid recorded)"; return 0; fi
  [ -s /etc/munge/munge.key ] || { mungekey --create --keyfile=/etc/munge/munge.key; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0711 "$SL_DIR/munge"     # munged insists on strict dir perms
  spawn munged /usr/sbin/munged setpriv --reuid=munge --regid=munge --init-groups \
    /usr/sbin/munged --foreground --socket="$MUNGE_SOCK" --key-file=/etc/munge/munge.key \
    --log-file="$SL_DIR/munge/munged.log" --pid-file="$SL_DIR/munge/munged.pid" --seed-file="$SL_DIR/munge/munged.seed"
  wait_for munged munge_ok
}

start_mariadb() {
  local sock=$SL_DIR/mysql/mysqld.sock
  if [ ! -d "$SL_DIR/mysql/data/mysql" ]; then
    install -d -o mysql -g mysql "$SL_DIR/mysql"
    local t0; t0=$(now)
    mariadb-install-db --no-defaults --datadir="$SL_DIR/mysql/data" --user=mysql \
      --auth-root-authentication-method=socket --skip-test-db >"$SL_DIR/log/mariadb-install.log" 2>&1
    log "mariadb-install-db done in $(since "$t0")"
  fi
  spawn mariadb /usr/sbin/mariadbd /usr/sbin/mariadbd --no-defaults --datadir="$SL_DIR/mysql/data" \
    --socket="$sock" --port="$SL_MYSQL_PORT" --bind-address=127.0.0.1 --user=mysql \
    --pid-file="$SL_DIR/mysql/mysqld.pid" --log-error="$SL_DIR/log/mariadb.err" --skip-name-resolve \
    --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 --innodb-log-file-size=64M
  wait_for mariadb mariadb-admin --socket="$sock" -uroot ping
  mariadb --socket="$sock" -uroot -e "
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
}

dbd_ok() { sacctmgr -n -P show cluster format=cluster; }
nodes_ready() { [ "$(sinfo -h -N -o '%N %t' 2>/dev/null | grep -cE ' (idle|mix|alloc)$')" -ge "$SL_NODES" ]; }
rest_ok() { curl -sf -o /dev/null -H "X-SLURM-USER-NAME: root" -H "X-SLURM-USER-TOKEN: $(scontrol token username=root lifespan=60 | sed 's/^SLURM_JWT=//')" "http://127.0.0.1:$SL_REST_PORT/slurm/v0.0.38/ping"; }

cmd_start() {
  need_root
  command -v slurmctld >/dev/null && { [ "$SL_ACCOUNTING" != 1 ] || { command -v slurmdbd && command -v mariadbd; } >/dev/null; } || cmd_install
  local T0 t0; T0=$(now)
  write_config
  start_munge
  if [ "$SL_ACCOUNTING" = 1 ]; then
    start_mariadb
    t0=$(now)
    spawn slurmdbd /usr/sbin/slurmdbd /usr/sbin/slurmdbd -D
    wait_for slurmdbd dbd_ok
    # the cluster must exist in slurmdbd before slurmctld registers; adding it also creates account root + user root
    sacctmgr -n -P show cluster format=cluster | grep -qx "$SL_CLUSTER" || sacctmgr -i add cluster "$SL_CLUSTER" >/dev/null
  fi
  spawn slurmctld /usr/sbin/slurmctld /usr/sbin/slurmctld -D -i -f "$CONF"
  wait_for slurmctld sh -c 'scontrol ping | grep -q UP'
  local i
  for i in $(seq 1 "$SL_NODES"); do
    spawn "slurmd-n$i" /usr/sbin/slurmd /usr/sbin/slurmd -D -N "n$i" -f "$CONF"
  done
  wait_for "$SL_NODES slurmd nodes" nodes_ready
  if [ "$SL_REST" = 1 ]; then
    id "$SL_REST_USER" >/dev/null 2>&1 || useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$SL_REST_USER"
    local plugins=openapi/v0.0.38
    [ "$SL_ACCOUNTING" = 1 ] && plugins=$plugins,openapi/dbv0.0.38   # dbv* is fatal without slurmdbd
    # slurmrestd refuses to run as root/SlurmUser; SLURM_JWT=daemon makes it use auth/jwt towards slurmctld
    spawn slurmrestd /usr/sbin/slurmrestd env SLURM_JWT=daemon SLURM_CONF="$CONF" \
      setpriv --reuid="$SL_REST_USER" --regid="$SL_REST_USER" --init-groups \
      /usr/sbin/slurmrestd -a rest_auth/jwt -s "$plugins" "127.0.0.1:$SL_REST_PORT"
    wait_for slurmrestd rest_ok
  fi
  log "cluster up in $(since "$T0"): $(sinfo -h -o '%D nodes %G %t' | tr '\n' ' ')  (source $SL_DIR/env.sh)"
}

cmd_stop() {
  local f p names=() i
  [ -d "$PIDS" ] || { log "nothing to stop"; return 0; }
  # 1. cancel every job on this (private) cluster while the daemons are still up, so no slurmstepd lingers
  if alive slurmctld && [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
    squeue -h -o %i | xargs -r scancel 2>/dev/null || true
    for i in $(seq 1 75); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
  fi
  # 2. daemons, reverse dependency order; all slurmds in parallel
  stop_many slurmrestd
  for f in "$PIDS"/slurmd-n*.pid; do [ -e "$f" ] && names+=("$(basename "$f" .pid)"); done
  [ ${#names[@]} -gt 0 ] && stop_many "${names[@]}"
  # 3. leftover slurmstepd children of our slurmds (they ignore SIGTERM)
  for p in $(our_stepds); do log "killing leftover slurmstepd pid $p"; kill -KILL "$p" 2>/dev/null || true; done
  stop_many slurmctld
  stop_many slurmdbd
  stop_many mariadb
  stop_many munged
}

cmd_status() {
  local f n
  for f in "$PIDS"/*.pid; do [ -e "$f" ] || continue; n=$(basename "$f" .pid)
    if alive "$n"; then echo "$n: running pid $(cat "$f")"; else echo "$n: DEAD (pid $(cat "$f"))"; fi; done
  sinfo -N -o '%N %t %c %m %G' 2>/dev/null || true
}

cmd_token() { scontrol token username="${1:-root}" lifespan="${2:-3600}" | sed 's/^SLURM_JWT=//'; }

cmd_smoke() {
  local J R TOK URL=http://127.0.0.1:$SL_REST_PORT
  cd "$SL_DIR/jobs"
  log "smoke: gang job across 2 nodes x $SL_GPUS GPUs via sbatch"
  J=$(sbatch --parsable -N2 --ntasks-per-node=1 --gpus-per-node="$SL_GPUS" -o "$SL_DIR/jobs/%j.out" \
      --wrap 'srun bash -c "echo rank \$SLURM_PROCID node \$SLURMD_NODENAME gpus \$CUDA_VISIBLE_DEVICES"')
  wait_for "job $J done" sh -c "! squeue -h -j $J | grep -q ."
  cat "$SL_DIR/jobs/$J.out"
  grep -q "rank 1 node n" "$SL_DIR/jobs/$J.out" || die "gang job output wrong"
  log "smoke: squeue/sinfo --json"
  squeue --json | jq -e '.jobs|type=="array"' >/dev/null
  sinfo --json | jq -r '.nodes[] | "\(.name) \(.state) \(.gres)"'
  log "smoke: cancel + requeue"
  J=$(sbatch --parsable -N2 --gpus-per-node="$SL_GPUS" -o /dev/null --wrap 'sleep 300')
  wait_for "job $J running" sh -c "squeue -h -j $J -o %T | grep -q RUNNING"
  scontrol requeue "$J"                      # -> PENDING, Reason=BeginTime (EligibleTime = now+~120s)
  wait_for "job $J requeued" sh -c "squeue -h -j $J -o %T | grep -q PENDING"
  scontrol update jobid="$J" StartTime=now   # skip the requeue hold
  wait_for "job $J running again" sh -c "scontrol show job $J | grep -q 'JobState=RUNNING.*' && scontrol show job $J | grep -q Restarts=1"
  scancel "$J"
  wait_for "job $J cancelled" sh -c "scontrol show job $J | grep -q JobState=CANCELLED"
  if [ "$SL_REST" = 1 ]; then
    log "smoke: slurmrestd submit/query/cancel"
    TOK=$(cmd_token root 600)
    R=$(curl -sf -H "X-SLURM-USER-NAME: root" -H "X-SLURM-USER-TOKEN: $TOK" -H 'Content-Type: application/json' \
      -X POST "$URL/slurm/v0.0.38/job/submit" --data @- <<EOF
{"script": "#!/bin/bash\nsrun hostname\nsleep 2\n",
 "job": {"name": "rest-smoke", "partition": "gpu", "nodes": "2", "tasks": 2, "tasks_per_node": 1,
         "gpus_per_node": "4", "memory_per_node": 2048, "time_limit": 5, "comment": "tenant=acme",
         "current_working_directory": "$SL_DIR/jobs", "standard_output": "$SL_DIR/jobs/rest-%j.out",
         "environment": {"PATH": "/usr/bin:/bin"}}}
EOF
)
    J=$(echo "$R" | jq -e '.job_id')
    curl -sf -H "X-SLURM-USER-NAME: root" -H "X-SLURM-USER-TOKEN: $TOK" "$URL/slurm/v0.0.38/job/$J" | jq -c '.jobs[0] | {job_id, job_state, nodes, tres_per_node, node_count}'
    wait_for "REST job $J done" sh -c "! squeue -h -j $J | grep -q ."
    R=$(curl -sf -H "X-SLURM-USER-NAME: root" -H "X-SLURM-USER-TOKEN: $TOK" -H 'Content-Type: application/json' \
      -X POST "$URL/slurm/v0.0.38/job/submit" \
      --data "{\"script\":\"#!/bin/bash\\nsleep 300\\n\",\"job\":{\"name\":\"rest-cancel\",\"nodes\":\"1\",\"current_working_directory\":\"$SL_DIR/jobs\",\"environment\":{\"PATH\":\"/usr/bin:/bin\"}}}")
    local JC; JC=$(echo "$R" | jq -e '.job_id')
    wait_for "REST job $JC running" sh -c "squeue -h -j $JC -o %T | grep -q RUNNING"
    curl -sf -H "X-SLURM-USER-NAME: root" -H "X-SLURM-USER-TOKEN: $TOK" -X DELETE "$URL/slurm/v0.0.38/job/$JC" | jq -e '.errors == []' >/dev/null
    wait_for "REST job $JC cancelled" sh -c "scontrol show job $JC | grep -q JobState=CANCELLED"
  fi
  if [ "$SL_ACCOUNTING" = 1 ]; then
    log "smoke: sacct (accounting is asynchronous: records reach slurmdbd a few seconds after job end)"
    wait_for "sacct record of job $J" sh -c "sacct -n -X -j $J -o State | grep -qE 'COMPLETED|CANCELLED'"
    sacct -X -P -o JobID,JobName,Account,State,NNodes,AllocTRES -S now-1hour | tail -5
  fi
  log "smoke: OK"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  token) shift; cmd_token "$@" ;;
  url) echo "http://127.0.0.1:$SL_REST_PORT" ;;
  smoke) cmd_smoke ;;
  crash-node) [ -n "${2:-}" ] && alive "slurmd-$2" || die "usage: crash-node nX (must be running)"
              kill -KILL "$(cat "$PIDS/slurmd-$2.pid")"; log "killed slurmd-$2" ;;
  revive-node) [ -n "${2:-}" ] || die "usage: revive-node nX"
              spawn "slurmd-$2" /usr/sbin/slurmd /usr/sbin/slurmd -D -N "$2" -f "$CONF" ;;
  stop-rest) stop_many slurmrestd ;;            # "start" brings it back
  restart-ctld) stop_many slurmctld; spawn slurmctld /usr/sbin/slurmctld /usr/sbin/slurmctld -D -i -f "$CONF"
              wait_for slurmctld sh -c 'scontrol ping | grep -q UP' ;;
  reset) cmd_stop; rm -rf "$SL_DIR"; log "removed $SL_DIR" ;;
  *) sed -n '2,/^# Configuration/p' "$0"; exit 2 ;;
esac
