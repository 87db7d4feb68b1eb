#!/usr/bin/env bash
# Measures the README's run command as a new user meets it: a fresh clone (no .venv, no demo
# cache), `make run` until the page is served, then the same command again (warm).
# Usage: bash scripts/time-first-run.sh [PORT]   (prints cold and warm seconds)
set -euo pipefail
port=${1:-8765}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
git clone -q "$repo" "$work/pretty-meter"
cd "$work/pretty-meter"

serve_once() {
  local label=$1 start end pid
  start=$(date +%s.%N)
  setsid make run PORT="$port" >"$work/$label.log" 2>&1 &
  pid=$!
  until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 \
      && curl -fsS "http://127.0.0.1:$port/" | grep -q '<div id="root"'; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "make run exited early; last lines:" >&2; tail -20 "$work/$label.log" >&2; exit 1
    fi
    sleep 0.5
  done
  end=$(date +%s.%N)
  printf '%s: %.0f s from `make run` to a served page\n' "$label" "$(echo "$end - $start" | bc)"
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  sleep 1
}

serve_once cold
serve_once warm
