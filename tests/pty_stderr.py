#!/usr/bin/env python3
"""tests/pty_stderr.py TERM COMMAND: runs `sh -c COMMAND` with its standard
error on a pseudo-terminal (TERM set to TERM, or unset when TERM is empty),
standard output discarded, and prints what the terminal received as a Python
string literal, then "exit N".  The progress display only shows on a
terminal; this lets tests/suite_progress.sh see it."""
import os
import pty
import subprocess
import sys

term, cmd = sys.argv[1], sys.argv[2]
master, slave = pty.openpty()
env = dict(os.environ)
if term:
    env["TERM"] = term
else:
    env.pop("TERM", None)
proc = subprocess.Popen(["sh", "-c", cmd], stderr=slave, stdout=subprocess.DEVNULL, env=env)
os.close(slave)
got = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:  # EIO once the last writer closed the terminal
        break
    if not chunk:
        break
    got += chunk
proc.wait()
print(repr(got.decode("utf-8", "replace")))
print("exit %d" % proc.returncode)
