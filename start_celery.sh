#!/usr/bin/env bash
# Start a Celery worker and the beat scheduler together (the seed's "Option 1").
# Both run as separate processes; Ctrl-C or SIGTERM stops both.
#
#   ./start_celery.sh [-q QUEUES] [-c CONCURRENCY] [-l LOGLEVEL]
#     -q  comma-separated queues (default: ml_queue,blockchain_queue,policy_queue,default)
#     -c  worker processes (default: number of CPUs)
#     -l  log level (default: info)
set -euo pipefail

cd "$(dirname "$0")"
queues="ml_queue,blockchain_queue,policy_queue,default"
concurrency=""
loglevel="info"
while getopts "q:c:l:h" opt; do
  case "$opt" in
    q) queues="$OPTARG" ;;
    c) concurrency="$OPTARG" ;;
    l) loglevel="$OPTARG" ;;
    h) sed -n '2,8p' "$0"; exit 0 ;;
    *) sed -n '2,8p' "$0" >&2; exit 2 ;;
  esac
done

celery_bin="celery"
if [ -x .venv/bin/celery ]; then celery_bin=".venv/bin/celery"; fi

worker_args=(-A celery_config.celery_app worker -Q "$queues" -l "$loglevel" -E)
if [ -n "$concurrency" ]; then worker_args+=(-c "$concurrency"); fi

"$celery_bin" "${worker_args[@]}" &
worker_pid=$!
"$celery_bin" -A celery_config.celery_app beat -l "$loglevel" \
  --schedule "${CELERY_BEAT_SCHEDULE_FILE:-instance/celerybeat-schedule}" &
beat_pid=$!

stop() {
  trap - INT TERM
  kill -TERM "$worker_pid" "$beat_pid" 2>/dev/null || true
  wait "$worker_pid" "$beat_pid" 2>/dev/null || true
}
trap stop INT TERM

# When either process exits, stop the other and exit with its status.
set +e
wait -n "$worker_pid" "$beat_pid"
status=$?
stop
exit "$status"
