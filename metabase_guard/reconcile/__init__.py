"""Planning and applying: live snapshot, desired state, diff, plan, apply."""
