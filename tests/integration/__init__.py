"""Tests over real sockets, a real broker, real databases, a real browser and real subprocesses."""
