#!/usr/bin/env bash
# The system programs the whole test suite needs beyond the venv: headless Chromium (the
# MLflow UI check), PostgreSQL's server programs, curl and ps (the PostgreSQL tests, through
# scripts/local_cluster.sh), a Java runtime (the Spark tests). Installs the missing ones from
# Debian's packages where apt-get is there and we are root; elsewhere prints one line saying
# how, and the tests that need them skip (or fail, under CI=true). `make test` runs this first.
set -uo pipefail

need=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v ps >/dev/null 2>&1 || need+=(procps)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)  # Spark (predict --engine spark)
[ ${#need[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "installing ${need[*]} from Debian's packages for the browser and PostgreSQL tests (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
    exit 0
  fi
  echo "apt-get could not install ${need[*]}; the tests that need them will skip" >&2
else
  echo "not installed: ${need[*]}; the tests that need them will skip (install with: sudo apt-get install ${need[*]})" >&2
fi
exit 0
