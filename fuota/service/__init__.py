"""The use cases every front end calls: plan, launch, run, abort, retry; the runner and the daemon loop."""
