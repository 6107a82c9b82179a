"""Helpers for tlsa-check's system tests (test_tlsa_check*.py): running the
tool against the local world, the world's mail-case table, a non-validating
Unbound forwarder, and independent digests (openssl) and validated lookups
(delv) to compare the tool's output with.

Traffic rule: only the world's mail domains (DIR/mail-cases.tsv, hosts on
NET.3.x) may be connected to. The DNS-only domains (secure.example …) have
MX hosts on 192.0.2.x, which is a real network here: run tlsa-check on them
only with --no-connect (see test_tlsa_check.py's guard).
"""
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import dns.rcode

import dgsys
from dgsys import mkq, udp

TLSA_CHECK = os.environ.get("TLSA_CHECK",
                            str(dgsys.REPO / "tools" / "tlsa-check"))

# Verdict words and their exit class (tlsa-check(1), EXIT STATUS).
FAILING = ("dane-failing", "dane-partial", "dns-failure")
WARNING_VERDICTS = ("no-dane", "encrypt-only")
VERDICTS = ("dane-valid", "dane-partial", "dane-failing", "encrypt-only",
            "no-dane", "dns-failure", "no-mail")
REASONS = (
    # RFC 8460 result types
    "starttls-not-supported", "certificate-host-mismatch",
    "certificate-expired", "certificate-not-trusted", "validation-failure",
    "tlsa-invalid", "dnssec-invalid", "dane-required",
    "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid",
    # outcomes
    "dane-verified", "dane-trusted", "tlsa-unusable", "no-tlsa",
    "insecure-address", "insecure-tlsa", "null-mx", "no-address",
)


def mail_domains_from_world_sh():
    """The mail domains, in order, from world.sh's MAIL_CASES table (the
    source of DIR/mail-cases.tsv): known at collection time, before any
    world runs, so that each case can be its own test."""
    text = dgsys.WORLD_SH.read_text()
    m = re.search(r"^MAIL_CASES=\((.*?)^\)", text, re.S | re.M)
    if m is None:
        return []
    return [q.split()[0] for q in re.findall(r'"([^"]+)"', m.group(1))]


def read_mail_cases(world):
    """DIR/mail-cases.tsv as {domain: {verdict, reason, sts, posture,
    notes}} ('-' kept verbatim)."""
    cases = {}
    path = Path(world.env.get("WORLD_MAIL_CASES",
                              world.dir / "mail-cases.tsv"))
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split("\t")
        f += ["-"] * (6 - len(f))
        cases[f[0]] = dict(verdict=f[1], reason=f[2], sts=f[3], posture=f[4],
                           notes=f[5])
    return cases


def read_mail_hosts(world):
    """DIR/mail-hosts.tsv as {host: {address, port, starttls, key, leaf,
    chain: [files], tlsa, match}}."""
    hosts = {}
    path = Path(world.env.get("WORLD_MAIL_HOSTS",
                              world.dir / "mail-hosts.tsv"))
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split("\t")
        hosts[f[0]] = dict(address=f[1], port=int(f[2]), starttls=f[3],
                           key=f[4], leaf=f[5], chain=f[6].split(","),
                           tlsa=f[7], match=f[8])
    return hosts


def strip_dot(name):
    return name[:-1] if name.endswith(".") else name


class Tool:
    """tlsa-check pointed at one world."""

    def __init__(self, world):
        self.world = world
        self.dir = Path(world.dir)
        self.trust_anchor = str(self.dir / "root.key")
        self.unbound_conf = str(self.dir / "libunbound.conf")
        self.ca_file = world.env.get("WORLD_CA_FILE",
                                     str(self.dir / "ca" / "root.pem"))
        # dgsys already set ASAN_OPTIONS (detect_leaks=0) for sanitizer
        # builds; keep the environment otherwise as it is.
        self.env = dict(os.environ)

    def world_options(self):
        return ["--trust-anchor", self.trust_anchor,
                "--unbound-conf", self.unbound_conf,
                "--ca-file", self.ca_file]

    def run(self, args, world_options=True, stdin=None, timeout=60):
        """CompletedProcess of tlsa-check [world options] ARGS (text)."""
        cmd = [TLSA_CHECK] + (self.world_options() if world_options else [])
        cmd += list(args)
        return subprocess.run(cmd, input=stdin, capture_output=True,
                              text=True, timeout=timeout, env=self.env,
                              stdin=None if stdin is not None
                              else subprocess.DEVNULL)

    def run_json(self, args, world_options=True, stdin=None, timeout=60):
        """(CompletedProcess, parsed JSON document)."""
        r = self.run(["--json"] + list(args), world_options=world_options,
                     stdin=stdin, timeout=timeout)
        try:
            doc = json.loads(r.stdout)
        except ValueError as e:
            raise AssertionError(
                "tlsa-check %s: no JSON (%s), exit %d\nstdout:\n%s\n"
                "stderr:\n%s" % (" ".join(args), e, r.returncode,
                                 r.stdout[-3000:], r.stderr[-3000:]))
        return r, doc

    def gen(self, args, timeout=30):
        return subprocess.run([TLSA_CHECK, "gen"] + list(args),
                              capture_output=True, text=True,
                              timeout=timeout, env=self.env,
                              stdin=subprocess.DEVNULL)


def by_domain(doc):
    return {d["domain"]: d for d in doc["domains"]}


def mx_by_name(domain_doc):
    return {strip_dot(m["name"]): m for m in domain_doc["mx"]}


# ------------------------------------------------------------ gen output --

_GEN_RE = re.compile(r"^(\S+)\s+(?:\d+\s+)?(?:IN\s+)?TLSA\s+(\d+)\s+(\d+)\s+"
                     r"(\d+)\s+([0-9A-Fa-f\s]+)$")


def parse_tlsa_lines(text):
    """Zone-file TLSA lines of TEXT (comments ignored) as
    [(owner, usage, selector, mtype, hexdata lower-case)]."""
    out = []
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        if not line:
            continue
        m = _GEN_RE.match(line)
        if m is None:
            raise AssertionError("not a TLSA record line: %r" % line)
        out.append((m.group(1), int(m.group(2)), int(m.group(3)),
                    int(m.group(4)), re.sub(r"\s+", "",
                                            m.group(5)).lower()))
    return out


# ------------------------------------------------- independent digests --

def spki_sha256(pem_file):
    """SHA-256 of the SubjectPublicKeyInfo of the first certificate in
    PEM_FILE, computed with openssl (not with danegate's code)."""
    pub = subprocess.run(["openssl", "x509", "-in", str(pem_file), "-noout",
                          "-pubkey"], capture_output=True, check=True,
                         timeout=20).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pub, capture_output=True, check=True,
                         timeout=20).stdout
    return hashlib.sha256(der).hexdigest()


def make_cert(directory, cn):
    """A fresh self-signed ECDSA certificate for CN with certtool:
    (cert path, key path)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "next.key"
    cert = directory / "next.pem"
    tmpl = directory / "next.tmpl"
    tmpl.write_text('cn = "%s"\ndns_name = "%s"\nexpiration_days = 90\n'
                    "tls_www_server\nsigning_key\n" % (cn, cn))
    subprocess.run(["certtool", "--generate-privkey", "--key-type", "ecdsa",
                    "--outfile", str(key)], capture_output=True, check=True,
                   timeout=30)
    subprocess.run(["certtool", "--generate-self-signed", "--load-privkey",
                    str(key), "--template", str(tmpl), "--outfile",
                    str(cert)], capture_output=True, check=True, timeout=30)
    return cert, key


# ------------------------------------------- a non-validating forwarder --

class PlainUnbound:
    """An Unbound daemon on ADDR@53 that resolves the world from its root
    hints WITHOUT validating (module-config "iterator", no trust anchor):
    it passes bogus data through as if it were fine. Queries are logged
    (log-queries) so a test can see that it was used."""

    def __init__(self, world, workdir, addr):
        self.world = world
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.addr = addr
        self.conf = self.dir / "unbound.conf"
        self.logfile = self.dir / "unbound.log"
        self.proc = None

    def start(self, timeout=10):
        hints = [ln for ln in self.world.fragment
                 if ln.startswith("root-hints")]
        assert hints, "no root-hints line in the world's fragment"
        self.conf.write_text(
            "server:\n"
            "    interface: %s@53\n"
            "    access-control: 127.0.0.0/8 allow\n"
            "    username: \"\"\n    chroot: \"\"\n    directory: \"%s\"\n"
            "    pidfile: \"\"\n    use-syslog: no\n    num-threads: 1\n"
            "    logfile: \"%s\"\n    log-queries: yes\n    verbosity: 1\n"
            "    do-not-query-localhost: no\n"
            "    module-config: \"iterator\"\n"
            "    %s\n" % (self.addr, self.dir, self.logfile, hints[0]))
        unbound = shutil.which("unbound") or "/usr/sbin/unbound"
        self.proc = subprocess.Popen([unbound, "-d", "-c", str(self.conf)],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        dgsys._live_procs.add(self.proc)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("unbound exited with %s; log:\n%s" %
                                   (self.proc.returncode, self.log()))
            try:
                # bogus data answered NOERROR: really not validating
                r = udp(mkq("www.bogus.example", do=True), self.addr,
                        timeout=0.5)
                if r.rcode() == dns.rcode.NOERROR and r.answer:
                    return self
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("plain unbound on %s not up; log:\n%s" %
                                   (self.addr, self.log()))
            time.sleep(0.1)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        dgsys._live_procs.discard(self.proc)
        self.proc = None

    def log(self):
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def delv_tlsa(world, resolver, owner):
    """The TLSA RRset at OWNER, validated by delv itself with the world's
    trust anchor (through RESOLVER, which need not validate):
    (fully validated?, [(usage, selector, mtype, hex lower)], output)."""
    r = dgsys.run(["delv", "-a", world.delv_anchor, "@" + resolver, owner,
                   "TLSA", "+nomultiline"], timeout=30)
    out = r.stdout + r.stderr
    recs = []
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 8 and f[3] == "TLSA" and not line.startswith(";"):
            recs.append((int(f[4]), int(f[5]), int(f[6]),
                         "".join(f[7:]).lower()))
    return "; fully validated" in r.stdout, sorted(recs), out


# ------------------------------------------------- connection detector --

class Listener:
    """A TCP listener on ADDR:PORT that only counts the connections the
    kernel completed (nothing is ever accepted while a test runs): the
    proof that a program did, or did not, connect."""

    def __init__(self, addr, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(16)
        self.sock.setblocking(False)

    def drain(self):
        """Accepts and closes whatever is queued; returns how many."""
        n = 0
        while True:
            try:
                c, _ = self.sock.accept()
            except BlockingIOError:
                return n
            c.close()
            n += 1

    def close(self):
        self.sock.close()
