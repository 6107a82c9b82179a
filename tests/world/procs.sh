# shellcheck shell=bash
# procs.sh - process helpers shared by the test scripts (sourced, bash):
# world.sh, sender.sh and the benchmarks. Each caller defines log().

# proc_alive PID: true if PID exists and is not a zombie (an exited daemon
# is reparented to PID 1, which may reap it late in a container).
proc_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# is_pid_of PID NAME: true if PID is a live process whose command is NAME.
# NSD renames its processes "nsd: main", "nsd: xfrd", "nsd: server 1", so
# "NAME: ..." matches too.
is_pid_of() {
    local comm
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
    [[ $comm == "$2" || $comm == "$2: "* ]] || return 1
    proc_alive "$1"
}

# stop_postfix_pids PID...: TERM the Postfix master among PIDS (it stops
# its children), wait up to about 5 s for all of them, then KILL the rest.
stop_postfix_pids() {
    local pid i
    local -a alive=()
    (($# > 0)) || return 0
    for pid in "$@"; do
        if is_pid_of "$pid" master; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    for ((i = 0; i < 50; i++)); do
        alive=()
        for pid in "$@"; do
            if proc_alive "$pid"; then alive+=("$pid"); fi
        done
        ((${#alive[@]} > 0)) || return 0
        sleep 0.1
    done
    for pid in "${alive[@]}"; do
        log "killing stuck Postfix process $pid"
        kill -KILL "$pid" 2>/dev/null || true
    done
}

# stop_pid PID: TERM a child of this shell, KILL it after about 5 s, reap
# it. An empty or dead PID is fine.
stop_pid() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}
