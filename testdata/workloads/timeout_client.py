#!/usr/bin/env python3
# timeout_client: THREADS threads, each with one keep-alive
# http.client.HTTPConnection(timeout=10), looping GET URL and reading the
# response. Sockets with a timeout poll() before each recv, so every thread
# waits in poll. Exits on SIGINT/SIGTERM or when its parent dies.
# Usage: python3 timeout_client.py URL [THREADS=1]
import ctypes
import http.client
import signal
import sys
import threading
import time
import urllib.parse

PR_SET_PDEATHSIG = 1


def set_pdeathsig():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def worker(host, port, path, first):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    while True:
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            if resp.will_close:
                conn.close()
            if not first.is_set():
                first.set()
        except Exception as e:  # reconnect on the next request
            print("timeout_client:", e, file=sys.stderr, flush=True)
            conn.close()
            time.sleep(0.1)


def main():
    if len(sys.argv) < 2:
        print("usage: python3 timeout_client.py URL [THREADS=1]", file=sys.stderr)
        sys.exit(2)
    set_pdeathsig()
    # Default dispositions: SIGINT and SIGTERM end the process at once, even
    # while every thread is blocked in poll.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    u = urllib.parse.urlsplit(sys.argv[1])
    path = (u.path or "/") + ("?" + u.query if u.query else "")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    first = threading.Event()

    def announce():
        first.wait()
        print("started", flush=True)

    # The main thread is worker 0, so THREADS=1 is one thread in poll; a
    # short-lived thread prints "started".
    threading.Thread(target=announce, daemon=True).start()
    for _ in range(n - 1):
        threading.Thread(target=worker, args=(u.hostname, u.port or 80, path, first), daemon=True).start()
    worker(u.hostname, u.port or 80, path, first)


if __name__ == "__main__":
    main()
