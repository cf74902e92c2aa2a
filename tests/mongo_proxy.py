"""A tiny loopback TCP proxy to cut and restore the path to a database server in tests.

``TcpProxy(upstream_host, upstream_port).start()`` listens on ``127.0.0.1:<port>`` (a free port
chosen once and kept across restarts) and pipes bytes both ways, one thread per direction.
``stop()`` closes the listener *and every open connection* (the client sees its pooled sockets
die, like a server going away); ``start()`` listens on the same port again. Bounded: every
socket has a timeout and every thread is a daemon joined with a deadline.
"""
from __future__ import annotations

import socket
import threading


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int, *, host: str = "127.0.0.1",
                 port: int = 0, connect_timeout: float = 3.0):
        self.upstream = (upstream_host, int(upstream_port))
        self.host, self.port = host, port
        self.connect_timeout = connect_timeout
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._running = threading.Event()
        self.accepted = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "TcpProxy":
        if self._running.is_set():
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        listener.settimeout(0.2)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._running.set()
        self._accept_thread = threading.Thread(target=self._accept_loop, name="tcp-proxy",
                                               daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
            self._accept_thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = list(self._conns), set()
            threads, self._threads = self._threads, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> "TcpProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals
    def _accept_loop(self) -> None:
        assert self._listener is not None
        listener = self._listener
        while self._running.is_set():
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=self.connect_timeout)
            except OSError:
                client.close()
                continue
            self.accepted += 1
            for sock in (client, upstream):
                sock.settimeout(None)
            with self._lock:
                if not self._running.is_set():
                    client.close()
                    upstream.close()
                    return
                self._conns.update((client, upstream))
                for src, dst in ((client, upstream), (upstream, client)):
                    thread = threading.Thread(target=self._pipe, args=(src, dst), daemon=True)
                    self._threads.append(thread)
                    thread.start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            with self._lock:
                self._conns.discard(src)
                self._conns.discard(dst)
            src.close()
            dst.close()
