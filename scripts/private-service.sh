# Shell functions for the scripts that run private engines (private-engine.sh,
# private-podman.sh): sourced, not run.

# wait_until_answers NAME PID LOG COMMAND...: runs COMMAND every 0.1 s until it succeeds, for up
# to 30 s; fails, showing the end of LOG, when PID exits first or time runs out.
wait_until_answers() {
  local name=$1 pid=$2 log=$3
  shift 3
  for _ in $(seq 1 300); do
    "$@" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited; its log:" >&2
      tail -n 30 "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  "$@" && return 0
  echo "$name did not answer within 30 s; see $log" >&2
  return 1
}

# stop_by_pidfile PIDFILE: SIGTERM to the process the file names, SIGKILL after 30 s; removes the
# file. Nothing when there is no file.
stop_by_pidfile() {
  local pidfile=$1 pid
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
}
