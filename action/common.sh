# Sourced by plan.sh and apply.sh: reads the MG_* variables into argument arrays.
#   MG_PATHS   declaration paths, space-separated (empty: the config's paths)
#   MG_CONFIG  config file;  MG_TARGET  named target;  MG_URL  Metabase URL
#   MG_API_KEY Metabase API key (exported as METABASE_API_KEY, never printed)
#   MG_CLI     the command that runs metabase-guard (default: metabase-guard)
# Sets: out_dir, summary, outputs, cli, paths, offline (validate/test), online (plan/apply).
out_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/metabase-guard"
mkdir -p "$out_dir"
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"
outputs="${GITHUB_OUTPUT:-/dev/null}"
read -r -a cli <<< "${MG_CLI:-metabase-guard}"
read -r -a paths <<< "${MG_PATHS:-}"
offline=()
[ -n "${MG_CONFIG:-}" ] && offline+=(--config "$MG_CONFIG")
online=(${offline[@]+"${offline[@]}"})
[ -n "${MG_TARGET:-}" ] && online+=(--target "$MG_TARGET")
[ -n "${MG_URL:-}" ] && online+=(--url "$MG_URL")
[ -n "${MG_API_KEY:-}" ] && export METABASE_API_KEY="$MG_API_KEY"
unset MG_API_KEY
