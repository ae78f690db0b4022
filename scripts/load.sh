#!/usr/bin/env bash
# Load test: audited, decrypting GET /v1/parties/{id} against a bare handler of the same
# router (/healthz), in the same run, with wrk. Reports req/s, p50, p99 and the ratio.
#
#   scripts/load.sh [DURATION=10s] [CONNECTIONS=64] [DEBTORS=1000]
#
# Load generator and server share the machine's cores, as in reference/perf-baseline.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}; CONNECTIONS=${2:-64}; DEBTORS=${3:-1000}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq; }
cargo build --release --quiet

work=$(mktemp -d)
trap 'kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
start_demo() {
  ./target/release/custodia demo --dir "$work/demo" --port 0 --debtors "$DEBTORS" >>"$work/demo.log" 2>&1 &
  echo $! >"$work/pid"
  for _ in $(seq 1 600); do
    base=$(jq -r '.base_url // empty' "$work/demo/credentials.json" 2>/dev/null || true)
    [ -n "$base" ] && [ "$base" != "${1:-}" ] && curl -sf "$base/readyz" >/dev/null 2>&1 && break
    sleep 0.2
  done
}
# First run seeds the portfolio; the load run lifts the per-client rate limit, which
# would otherwise answer 429 to a single client this busy.
start_demo
kill "$(cat "$work/pid")"; wait "$(cat "$work/pid")" 2>/dev/null || true
printf 'rate_limit_per_second = 1000000\nrate_limit_burst = 1000000\n' >>"$work/demo/custodia.toml"
start_demo "$base"
token=$(jq -r .keys.agent "$work/demo/credentials.json")
compliance=$(jq -r .keys.compliance "$work/demo/credentials.json")

# Party ids of the demo portfolio, looked up the way a client would.
for n in $(seq 1 $(( DEBTORS < 200 ? DEBTORS : 200 ))); do
  ref=$(printf 'DEMO-%07d' "$n")
  curl -s "$base/v1/parties:search" -H "Authorization: Bearer $compliance" -H 'X-Purpose: compliance_review' \
    -H 'Content-Type: application/json' -d "{\"external_ref\": \"$ref\"}" | jq -r '.results[0].id'
done >"$work/ids.txt"

run() { # key, label, extra wrk args...
  local key=$1 label=$2; shift 2
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@" >"$work/$key.txt"
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/$key.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$work/$key.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$key.txt")
  errors=$(awk '/Non-2xx/ {print $5}' "$work/$key.txt")
  printf '%-34s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$label" "$rps" "$p50" "$p99" "${errors:-0}"
  echo "$rps" >"$work/$key.rps"
}

echo "wrk -t2 -c$CONNECTIONS -d$DURATION, $DEBTORS demo debtors, $(nproc) cores"
run bare "bare handler (/healthz)" "$base/healthz"
IDS_FILE="$work/ids.txt" TOKEN="$token" run audited "audited GET /v1/parties/{id}" -s scripts/get_party.lua "$base"
ratio=$(awk -v a="$(cat "$work/audited.rps")" -v b="$(cat "$work/bare.rps")" 'BEGIN {printf "%.3f", a / b}')
echo "ratio audited/bare = $ratio"
