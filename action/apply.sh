#!/usr/bin/env bash
# The "Apply on the default branch" step of action.yml: applies the plan saved by plan.sh in this
# same job, and only if it still holds (apply --plan refuses a plan the live Metabase has moved
# away from). Same MG_* variables as plan.sh.
set -uo pipefail

. "$(dirname "$0")/common.sh"

if "${cli[@]}" apply ${paths[@]+"${paths[@]}"} ${online[@]+"${online[@]}"} --yes \
    --plan "$out_dir/plan.json"; then
  echo "applied=true" >> "$outputs"
else
  echo "applied=false" >> "$outputs"
  exit 1
fi
