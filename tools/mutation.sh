#!/usr/bin/env bash
# On-demand mutation check of the core (not CI; see docs/testing.md).
#
#   tools/mutation.sh            # full run: every module under [tool.mutmut] only_mutate
#   tools/mutation.sh summary    # the score per module from the last run
#
# mutmut copies the package into ./mutants and imports it from there, so PYTHONPATH must not
# point at the work tree (it would import the unmutated code and every mutant would "survive").
set -euo pipefail
cd "$(dirname "$0")/.."
unset PYTHONPATH
if [[ "${1:-run}" == "run" ]]; then
  rm -rf mutants
  nice mutmut run --max-children "${MUTATION_CHILDREN:-1}" || true
fi
mutmut results --all true | python tools/mutation_summary.py
