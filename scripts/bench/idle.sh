#!/usr/bin/env bash
# Server CPU with no traffic: starts switchboard from DIR (default: this checkout) on the services
# in the environment (eval "$(scripts/services.sh env)"), waits for /ready and SETTLE more seconds
# (default 45: V8 runs garbage collections for a while after start-up), then reads the process's
# CPU time (user + system, all threads) over 10 s. Usage: scripts/bench/idle.sh [DIR] [SETTLE]
set -euo pipefail
dir="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
settle="${2:-45}"
cd "$dir"
export KAFKA_TOPIC_PREFIX="idle$RANDOM-" MONGO_DB="idle$RANDOM" REDIS_KEY_PREFIX="idle$RANDOM:" PORT="${PORT:-5801}" WS_PORT="${WS_PORT:-5802}" LOG_LEVEL=warn
node --import tsx server.ts > /dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do curl -sf "localhost:$PORT/ready" > /dev/null && break; sleep 0.5; done
sleep "$settle"
ticks () { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
a=$(ticks); sleep 10; b=$(ticks)
echo "server CPU over 10 s idle: $(( (b - a) * 1000 / hz )) ms ($(( (b - a) * 100 / hz / 10 )).$(( (b - a) * 1000 / hz / 10 % 10 )) % of a core)"
