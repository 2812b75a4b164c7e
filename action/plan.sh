#!/usr/bin/env bash
# The "Validate, test and plan" step of action.yml, kept in a file so it can be run (and tested)
# outside GitHub: it needs only bash, metabase-guard and the MG_* variables of common.sh.
# Writes plan.md (and plan.json) under $RUNNER_TEMP/metabase-guard, appends the Markdown to
# $GITHUB_STEP_SUMMARY and sets the outputs `changes` and `plan-markdown` in $GITHUB_OUTPUT.
# Exits 0 when the plan was made (with or without changes), 1 when anything failed.
set -uo pipefail

. "$(dirname "$0")/common.sh"

fail() {  # $1: what failed, $2: file holding its messages
  {
    echo "### metabase-guard: $1 failed"
    echo
    echo '```'
    cat "$2"
    echo '```'
  } > "$out_dir/plan.md"
  cat "$out_dir/plan.md" >> "$summary"
  echo "changes=false" >> "$outputs"
  echo "plan-markdown=$out_dir/plan.md" >> "$outputs"
  exit 1
}

echo "::group::metabase-guard validate"
"${cli[@]}" validate ${paths[@]+"${paths[@]}"} ${offline[@]+"${offline[@]}"} \
  2> "$out_dir/validate.err"
code=$?
cat "$out_dir/validate.err" >&2
echo "::endgroup::"
[ "$code" = 0 ] || fail validate "$out_dir/validate.err"

echo "::group::metabase-guard test"
"${cli[@]}" test ${paths[@]+"${paths[@]}"} ${offline[@]+"${offline[@]}"} \
  > "$out_dir/test.out" 2>&1
code=$?
cat "$out_dir/test.out"
echo "::endgroup::"
[ "$code" = 0 ] || fail test "$out_dir/test.out"

"${cli[@]}" plan ${paths[@]+"${paths[@]}"} ${online[@]+"${online[@]}"} \
  --format markdown --detailed-exitcode --out "$out_dir/plan.json" \
  > "$out_dir/plan.md" 2> "$out_dir/plan.err"
code=$?
cat "$out_dir/plan.err" >&2
case "$code" in
  0|2)
    cat "$out_dir/plan.md" >> "$summary"
    cat "$out_dir/plan.md"
    if [ "$code" = 2 ]; then echo "changes=true" >> "$outputs"; else echo "changes=false" >> "$outputs"; fi
    echo "plan-markdown=$out_dir/plan.md" >> "$outputs"
    echo "plan-json=$out_dir/plan.json" >> "$outputs"
    exit 0
    ;;
  *) fail plan "$out_dir/plan.err" ;;
esac
