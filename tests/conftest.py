pytest_plugins = ["metabase_guard.sandbox.pytest_plugin"]
