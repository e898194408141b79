"""Pure tests: no sockets, no subprocesses, no database server."""
