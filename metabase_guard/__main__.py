from metabase_guard.cli import run

run()
