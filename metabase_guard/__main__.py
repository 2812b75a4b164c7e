from metabase_guard.cli import main

raise SystemExit(main())
