#!/usr/bin/env bash
# Load test of the audited read path with wrk (a real load generator): the audited,
# decrypting GET /v1/parties/{id} next to four baselines served by the same process in
# the same run (bare handler, database work only, database work plus a party index entry,
# one commit per record), on SQLite and,
# when PostgreSQL answers on 127.0.0.1:5432, on PostgreSQL. See benches/read_path.rs.
#
#   scripts/load.sh [SECONDS=10] [CONNECTIONS=64] [PARTIES=1000]
#
# Load generator and server share the machine's cores, as in reference/perf-baseline.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_SECONDS=${1:-10} BENCH_CONNECTIONS=${2:-64} BENCH_PARTIES=${3:-1000}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
if [ -z "${BENCH_POSTGRES_URL:-}" ] && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  export BENCH_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/test"
fi
echo "$(nproc) cores; PostgreSQL: ${BENCH_POSTGRES_URL:-not used}"
cargo bench --bench read_path
