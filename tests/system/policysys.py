"""danegate-policy for the system tests: start one against the world
(its trust anchor, root hints and CA), talk socketmap to it, stop it."""
import os
import socket
import subprocess
import time
from pathlib import Path

import dgsys

POLICY = os.environ.get("DANEGATE_POLICY",
                        str(dgsys.REPO / "plugin" / "policy" /
                            "danegate-policy"))


def netstring(data):
    if isinstance(data, str):
        data = data.encode()
    return b"%d:%s," % (len(data), data)


def read_netstring(sock, limit=100000):
    """One netstring from sock: its data as text."""
    buf = b""
    while b":" not in buf:
        c = sock.recv(1)
        if not c:
            raise ConnectionError("closed before a reply (%r)" % buf)
        buf += c
        if len(buf) > 8:
            raise ValueError("bad netstring length %r" % buf)
    n = int(buf[:-1])
    assert n <= limit
    data = dgsys.recv_exact(sock, n + 1)
    assert data[-1:] == b",", data
    return data[:-1].decode()


class Policy:
    """A danegate-policy process (foreground, -d) pointed at world."""

    def __init__(self, world, workdir, listen, resolver=None, extra=()):
        self.world = world
        self.dir = Path(workdir)
        self.listen = list(listen)
        self.resolver = resolver
        self.extra = list(extra)
        self.conf = self.dir / "policy.conf"
        self.logfile = self.dir / "policy.log"
        self.proc = None

    def world_options(self):
        w = self.world
        opts = ["--trust-anchor", str(w.dir / "root.key")]
        if not any(e.startswith("ca-file:") for e in self.extra):
            opts += ["--ca-file", w.env.get("WORLD_CA_FILE",
                                            str(w.dir / "ca" / "root.pem"))]
        if self.resolver:
            opts += ["--resolver", self.resolver]
        else:
            opts += ["--unbound-conf", str(w.dir / "libunbound.conf")]
        return opts

    def write_config(self, text):
        self.conf.write_text(text)

    def start(self, timeout=20):
        if not self.conf.exists():
            extra = list(self.extra)
            # the MTA-STS cache of this test, never the system's
            if not any(e.startswith("sts-cache-dir:") for e in extra):
                extra.append("sts-cache-dir: %s" % (self.dir / "sts"))
            self.conf.write_text("policy:\n" + "".join(
                "    %s\n" % ln for ln in extra))
        cmd = [POLICY, "-d", "-v", "-c", str(self.conf)]
        for spec in self.listen:
            cmd += ["--listen", spec]
        cmd += self.world_options()
        self.log_fh = open(self.logfile, "a")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.log_fh,
                                     stderr=subprocess.STDOUT)
        dgsys._live_procs.add(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("danegate-policy exited %s:\n%s" % (
                    self.proc.returncode, self.log()))
            if "started" in self.log():
                return self
            time.sleep(0.05)
        raise RuntimeError("danegate-policy not started:\n" + self.log())

    def log(self):
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout=15):
        if self.proc is None:
            return None
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        dgsys._live_procs.discard(self.proc)
        self.log_fh.close()
        self.proc = None
        return rc

    def connect(self, timeout=30):
        spec = self.listen[0]
        if spec.startswith("/"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(spec)
        else:
            host, port = spec.rsplit("@", 1)
            s = socket.create_connection((host, int(port)), timeout=timeout)
        return s

    def query(self, key, name="policy", sock=None, timeout=30):
        """The reply to one request, as text ("OK dane-only")."""
        own = sock is None
        s = sock or self.connect(timeout)
        try:
            s.sendall(netstring("%s %s" % (name, key)))
            return read_netstring(s)
        finally:
            if own:
                s.close()

    def explain(self, domain, json_out=False):
        cmd = [POLICY] + self.world_options() + ["--explain", domain]
        if json_out:
            cmd.append("--json")
        return dgsys.run(cmd, timeout=60)
