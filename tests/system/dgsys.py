"""Helpers for danegated's system tests: the local world, danegated
instances, network namespaces, and DNS exchanges (dnspython and raw bytes).

Imported by conftest.py and the test modules (pytest puts this folder on
sys.path: there is no __init__.py here).

Everything started here is registered and killed at interpreter exit as a
last resort; the fixtures in conftest.py normally stop it first.
"""
import atexit
import ipaddress
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

# In a sanitizer build, LeakSanitizer's exit check stops the world with
# ptrace, which danegated's seccomp filter forbids: the daemon would die by
# SIGSYS after a clean stop. Leaks are the unit tests' business.
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DANEGATED = os.environ.get("DANEGATED", str(REPO / "daemon" / "danegated"))
CONTROL = os.environ.get("DANEGATE_CONTROL",
                         str(REPO / "tools" / "danegate-control"))
WORLD_SH = REPO / "tests" / "world" / "world.sh"

# The world's first two octets (world.sh's WORLD_NET). danegated listens on
# NET.1.x; the network namespaces use 10.<second octet of NET>.0.0/30, so
# that two suites with different WORLD_NET values never share an address.
NET = os.environ.get("WORLD_NET", "127.53")
NS_NET = "10." + NET.split(".")[1]
MAIN_ADDR = NET + ".1.1"          # the main instance
PROM_PORT = 9167


def addr(suffix):
    """NET + '.' + suffix, e.g. addr('1.2') -> '127.53.1.2'."""
    return "%s.%s" % (NET, suffix)


# ----------------------------------------------------------- last resort --

_live_procs = set()
_live_netns = set()


def _cleanup_at_exit():
    for p in list(_live_procs):
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
    for ns in list(_live_netns):
        ns.cleanup()


atexit.register(_cleanup_at_exit)


def run(cmd, timeout=30, check=False, **kw):
    """subprocess.run with text output captured."""
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout, check=check, **kw)


# ----------------------------------------------------------------- world --

class World:
    """A running tests/world in DIR (world.sh up)."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.env = {}
        self.up = False

    def start(self):
        env = dict(os.environ, WORLD_NET=NET)
        # key generation and signing: 120 s unless a loaded machine
        # needs more (WORLD_UP_TIMEOUT)
        r = run(["bash", str(WORLD_SH), "up", str(self.dir)],
                timeout=int(os.environ.get("WORLD_UP_TIMEOUT", "120")),
                env=env)
        self.up = True      # even a failed `up` may leave something to stop
        if r.returncode != 0:
            raise RuntimeError("world.sh up failed (%d):\n%s%s" %
                               (r.returncode, r.stdout, r.stderr))
        for line in (self.dir / "world.env").read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                # values are shell-quoted with backslashes
                self.env[k] = re.sub(r"\\(.)", r"\1", v)
        return self

    def stop(self):
        if not self.up:
            return
        env = dict(os.environ, WORLD_NET=NET)
        run(["bash", str(WORLD_SH), "down", str(self.dir)], timeout=60,
            env=env)
        self.up = False

    @property
    def fragment(self):
        """The world's lines for danegated's server: clause."""
        return [ln.strip() for ln in
                (self.dir / "unbound.conf.fragment").read_text().splitlines()
                if ln.strip() and not ln.strip().startswith("#")]

    @property
    def delv_anchor(self):
        return str(self.dir / "root.delv")


# ------------------------------------------------------------- danegated --

class Danegated:
    """One danegated process with a generated configuration.

    listen:  addresses (port 53) for interface: lines; the first one is
             where readiness is probed.
    acl:     access-control: values ("127.0.0.0/8 allow").
    extra:   more server: lines, verbatim.
    """

    def __init__(self, world, workdir, listen, acl=("127.0.0.0/8 allow",),
                 extra=(), username="", prometheus=None, verbosity=1,
                 ready_source=None):
        self.world = world
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.listen = list(listen)
        self.acl = list(acl)
        self.extra = list(extra)
        self.username = username
        self.prometheus = prometheus
        self.verbosity = verbosity
        self.ready_source = ready_source
        self.conf = self.dir / "danegated.conf"
        self.ctl_sock = self.dir / "ctl.sock"
        self.logfile = self.dir / "danegated.log"
        self.proc = None
        self.returncode = None

    @property
    def addr(self):
        return self.listen[0]

    def config_text(self, acl=None, extra=None, broken_lines=()):
        acl = self.acl if acl is None else acl
        extra = self.extra if extra is None else extra
        lines = ["server:"]
        lines += ["    interface: %s@53" % a for a in self.listen]
        lines += ["    access-control: %s" % a for a in acl]
        lines += ['    username: "%s"' % self.username,
                  '    chroot: ""',
                  '    pidfile: ""',
                  "    verbosity: %d" % self.verbosity,
                  "    edns-buffer-size: 1232"]
        lines += ["    " + ln for ln in extra]
        lines += ["    " + ln for ln in self.world.fragment]
        lines += ["    " + ln for ln in broken_lines]
        lines += ["remote-control:",
                  "    control-enable: yes",
                  "    control-interface: %s" % self.ctl_sock]
        if self.prometheus:
            lines.append("    prometheus-interface: %s" % self.prometheus)
        return "\n".join(lines) + "\n"

    def write_config(self, text=None):
        self.conf.write_text(text if text is not None else self.config_text())

    def start(self, timeout=20):
        self.write_config()
        log = open(self.logfile, "ab")
        try:
            self.proc = subprocess.Popen(
                [DANEGATED, "-d", "-c", str(self.conf)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        finally:
            log.close()
        _live_procs.add(self.proc)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=20):
        """Until a DO query for '. SOA' comes back NOERROR with AD."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("danegated exited with %s during start-up;"
                                   " log:\n%s" % (self.proc.returncode,
                                                  self.log()))
            try:
                r = udp(mkq(".", "SOA", do=True), self.addr, timeout=0.5,
                        source=self.ready_source)
                last = r
                if (r.rcode() == dns.rcode.NOERROR and
                        r.flags & dns.flags.AD):
                    return
            except (dns.exception.Timeout, OSError) as e:
                last = e
            time.sleep(0.1)
        raise RuntimeError("danegated on %s not ready after %s s (last: %r);"
                           " log:\n%s" % (self.addr, timeout, last,
                                          self.log()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15):
        """SIGTERM; returns the exit status (SIGKILL after timeout: None)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self.returncode = None
                _live_procs.discard(self.proc)
                self.proc = None
                return None
        self.returncode = self.proc.returncode
        _live_procs.discard(self.proc)
        self.proc = None
        return self.returncode

    @property
    def pid(self):
        return self.proc.pid

    def sighup(self):
        self.proc.send_signal(signal.SIGHUP)

    def log(self):
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10, since=0):
        """Waits until the log (from byte offset since) matches pattern."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            text = self.log()[since:]
            m = rx.search(text)
            if m:
                return m
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    def log_size(self):
        return len(self.log())

    def ctl(self, *args, check=True):
        r = run([CONTROL, "-s", str(self.ctl_sock)] + [str(a) for a in args],
                timeout=10)
        if check and r.returncode != 0:
            raise RuntimeError("danegate-control %s: exit %d: %s%s" %
                               (" ".join(args), r.returncode, r.stdout,
                                r.stderr))
        return r

    def stats(self):
        out = self.ctl("stats").stdout
        stats = {}
        for line in out.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                try:
                    stats[k.strip()] = int(v.strip())
                except ValueError:
                    stats[k.strip()] = v.strip()
        return stats


# ------------------------------------------------------ network namespaces --

class Netns:
    """A network namespace joined to the host by a veth pair:
    host_addr/30 on the host side, ns_addr/30 inside. With resolv_conf,
    /etc/netns/NAME/resolv.conf is written (ip netns exec bind-mounts it
    over /etc/resolv.conf)."""

    def __init__(self, tag, host_addr, ns_addr, resolv_conf=None):
        uniq = "%d%s" % (os.getpid() % 100000, tag)
        self.name = "dgsys" + uniq
        self.host_if = ("dgh" + uniq)[:15]
        self.ns_if = ("dgn" + uniq)[:15]
        self.host_addr = host_addr
        self.ns_addr = ns_addr
        self.resolv_conf = resolv_conf
        self.etc = Path("/etc/netns") / self.name
        self.created = False

    def _ip(self, *args):
        r = run(["ip"] + list(args), timeout=20)
        if r.returncode != 0:
            raise RuntimeError("ip %s: %s" % (" ".join(args), r.stderr))

    def setup(self):
        _live_netns.add(self)
        self.created = True
        self._ip("netns", "add", self.name)
        self._ip("link", "add", self.host_if, "type", "veth", "peer", "name",
                 self.ns_if, "netns", self.name)
        self._ip("addr", "add", self.host_addr + "/30", "dev", self.host_if)
        self._ip("link", "set", self.host_if, "up")
        self._ip("-n", self.name, "addr", "add", self.ns_addr + "/30", "dev",
                 self.ns_if)
        self._ip("-n", self.name, "link", "set", self.ns_if, "up")
        self._ip("-n", self.name, "link", "set", "lo", "up")
        if self.resolv_conf is not None:
            self.etc.mkdir(parents=True, exist_ok=True)
            (self.etc / "resolv.conf").write_text(self.resolv_conf)
        # wait for the link to be usable both ways
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            r = run(["ip", "-n", self.name, "-br", "link", "show",
                     self.ns_if])
            h = run(["ip", "-br", "link", "show", self.host_if])
            if "UP" in r.stdout and "UP" in h.stdout:
                break
            time.sleep(0.05)
        return self

    def exec(self, cmd, timeout=30, **kw):
        return run(["ip", "netns", "exec", self.name] + list(cmd),
                   timeout=timeout, **kw)

    def cleanup(self):
        if not self.created:
            return
        run(["ip", "link", "del", self.host_if])
        run(["ip", "netns", "del", self.name])
        if self.etc.exists():
            shutil.rmtree(self.etc, ignore_errors=True)
        self.created = False
        _live_netns.discard(self)


def ns_pair(index):
    """Host and namespace addresses of /30 number index."""
    base = int(ipaddress.IPv4Address(NS_NET + ".0.0")) + 4 * index
    return (str(ipaddress.IPv4Address(base + 1)),
            str(ipaddress.IPv4Address(base + 2)))


# ------------------------------------------------------------------- DNS --

def mkq(name, rdtype="A", do=False, edns=True, ad=False, cd=False,
        payload=1232, rd=True, options=None, version=0, qid=None):
    """A query message. edns=False: no OPT record at all."""
    q = dns.message.make_query(
        name, rdtype, use_edns=(version if edns else None),
        want_dnssec=bool(do and edns), payload=payload, options=options)
    if not edns:
        q.use_edns(None)
    elif version != 0:
        # make_query() ignores a use_edns other than 0 in dnspython 2.3
        q.use_edns(version, q.ednsflags, payload, options=options)
    q.flags = dns.flags.RD if rd else 0
    if ad:
        q.flags |= dns.flags.AD
    if cd:
        q.flags |= dns.flags.CD
    if qid is not None:
        q.id = qid
    return q


def udp(q, where, timeout=3, source=None, ignore_trunc=True):
    """One UDP exchange; a truncated answer (TC=1) is returned as is
    unless ignore_trunc is False (then dns.message.Truncated)."""
    return dns.query.udp(q, where, timeout=timeout, source=source,
                         raise_on_truncation=not ignore_trunc)


def tcp(q, where, timeout=5, source=None):
    return dns.query.tcp(q, where, timeout=timeout, source=source)


def udp_socket(source=None, timeout=3):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    return s


def raw_udp(wire, where, timeout=2, source=None):
    """Sends bytes, returns the first datagram back or None on timeout."""
    with udp_socket(source, timeout) as s:
        s.sendto(wire, (where, 53))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" %
                           (len(buf), n))
        buf += chunk
    return buf


def tcp_read_msg(sock):
    (n,) = struct.unpack("!H", recv_exact(sock, 2))
    return recv_exact(sock, n)


def header(wire):
    """(id, flags, qdcount, ancount, nscount, arcount) of a packet."""
    return struct.unpack("!HHHHHH", wire[:12])


def rrsets_of_type(section, rdtype):
    t = dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) else rdtype
    return [rr for rr in section if rr.rdtype == t]


def rrsig_covering(section, covered):
    t = dns.rdatatype.from_text(covered)
    return [rr for rr in section
            if rr.rdtype == dns.rdatatype.RRSIG and rr.covers == t]


def ede_options(msg):
    return [o for o in (msg.options or [])
            if o.otype == dns.edns.OptionType.EDE]
