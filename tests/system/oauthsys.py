"""The world's OAuth2 submission service (issue 9), for the system tests.

smtp.office.example (NET.3.27 port 587) stands in for Exchange Online's
smtp.office365.com: a real Postfix submission server (STARTTLS required,
a leaf of the world's CA) whose SASL is Dovecot's (`smtpd_sasl_type =
dovecot`): `auth_mechanisms = xoauth2 oauthbearer` and a `passdb` of
driver `oauth2` that introspects every token (RFC 7662, `introspection_mode
= post`) at the world's token endpoint login.office.example (NET.4.101;
tests/world/oauth2_endpoint.py, HTTPS with the world's CA: tokens on port
443, introspection on 8443, one state). A token is
accepted only if the endpoint issued it, for the mailbox named in the
XOAUTH2 `user=`, and it is neither expired nor revoked. AUTH PLAIN and AUTH
LOGIN are not offered and refused (535 5.7.8). Accepted mail lands in one
Maildir, `queue/sink/maildir/new/` (count the files there).

    sub = Submission(world, workdir).start()   # endpoint, Dovecot, Postfix
    tok = sub.token("head@office.example")     # password grant
    ...
    sub.stop()

tests/system/conftest.py's `oauth_submission` fixture starts one per
session. See tests/world/README.md "OAuth2 submission service".

SECURITY: test program; listens on NET.3.27:587 and NET.4.101:443/8443
only.
"""
import base64
import grp
import json
import os
import pwd
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import dgsys

ENDPOINT = dgsys.REPO / "tests" / "world" / "oauth2_endpoint.py"
# the internal services of the world's Postfix instances (world.sh too)
SERVICES = dgsys.REPO / "tests" / "world" / "postfix-services.cf"
HOST = "smtp.office.example"
PORT = 587
ENDPOINT_HOST = "login.office.example"
ENDPOINT_PORT = 443
# Dovecot's introspection service: the same program and state on another
# port, so that the token endpoint can go down without the submission
# server refusing good tokens (see stop_endpoint).
INTROSPECT_PORT = 8443
TENANT = "office.example"

# The endpoint's registrations (tests/world/oauth2_endpoint.py's JSON).
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "world-secret~0123456789"
MAILBOXES = {"head@office.example": "correct horse battery",
             "clerk@office.example": "staple paper clip"}
# client_credentials: each app acts for one mailbox (an Exchange
# application permission scoped to it); "short-app" gets 5-second tokens.
APPS = {CLIENT_ID: {"secret": CLIENT_SECRET,
                    "mailbox": "head@office.example"},
        "short-app": {"secret": CLIENT_SECRET + "-short", "ttl": 5,
                      "mailbox": "clerk@office.example"}}
# AUTH PLAIN / LOGIN: not offered, refused by Postfix (see README).
BASIC_AUTH_REPLY = ("535 5.7.8 Error: authentication failed: Invalid "
                    "authentication mechanism")


def _xoauth2(user, token):
    return base64.b64encode(("user=%s\x01auth=Bearer %s\x01\x01"
                             % (user, token)).encode()).decode()


class Submission:
    """Token endpoint + Dovecot auth + Postfix submission server in DIR."""

    def __init__(self, world, directory, debug=False):
        self.world = world
        self.debug = debug      # Dovecot's auth_debug and oauth2 debug
        self.dir = Path(directory)
        env = world.env
        net = dgsys.NET
        self.addr = env.get("WORLD_SUBMISSION", net + ".3.27")
        self.endpoint_addr = env.get("WORLD_OAUTH2_ENDPOINT",
                                     net + ".4.101")
        self.cafile = env.get("WORLD_CA_FILE",
                              str(world.dir / "ca" / "root.pem"))
        cadir = Path(env.get("WORLD_CA_DIR", str(world.dir / "ca")))
        self.chain = cadir / (HOST + ".chain.pem")
        self.key = cadir / (HOST + ".key")
        self.ep_chain = cadir / (ENDPOINT_HOST + ".chain.pem")
        self.ep_key = cadir / (ENDPOINT_HOST + ".key")
        self.token_url = "https://%s/%s/oauth2/v2.0/token" % (
            self.endpoint_addr, TENANT)
        self.pf_conf = self.dir / "postfix"
        self.queue = self.dir / "queue"
        self.maildir = self.queue / "sink" / "maildir"
        self.maillog = self.pf_conf / "maillog"
        self.dovecot_conf = self.dir / "dovecot" / "dovecot.conf"
        self.dovecot_log = self.dir / "dovecot" / "dovecot.log"
        self.endpoint_cfg = self.dir / "endpoint" / "config.json"
        self.base = None        # Dovecot's base_dir (outside DIR, see below)
        self.procs = {}         # "token", "introspect": endpoint processes

    # ----------------------------------------------------------- set-up --

    def _write_endpoint(self):
        d = self.endpoint_cfg.parent
        d.mkdir(parents=True, exist_ok=True)
        self.endpoint_cfg.write_text(json.dumps(
            {"clients": APPS, "users": MAILBOXES, "ttl": 3600}, indent=1))
        self.endpoint_cfg.chmod(0o600)

    def _write_dovecot(self):
        # Dovecot's processes run as dovecot/dovenull and open base_dir
        # (and the CA file, lazily) by absolute path: pytest's tmp tree is
        # 0700, so base_dir is a 0755 directory of its own in /tmp.
        self.base = Path(tempfile.mkdtemp(prefix="dg-dovecot."))
        self.base.chmod(0o755)
        d = self.dovecot_conf.parent
        d.mkdir(parents=True, exist_ok=True)
        (d / "base_dir").write_text(str(self.base) + "\n")
        shutil.copy(self.cafile, self.base / "world-ca.pem")
        (self.base / "world-ca.pem").chmod(0o644)
        d = self.dovecot_conf.parent
        d.mkdir(parents=True, exist_ok=True)
        oauth2 = d / "dovecot-oauth2.conf.ext"
        oauth2.write_text(
            "# Generated by oauthsys.py: every token is checked at the\n"
            "# world's token endpoint (RFC 7662 introspection, POST).\n"
            "introspection_mode = post\n"
            "introspection_url = https://%s:%d/introspect\n"
            "force_introspection = yes\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
            "tls_ca_cert_file = %s\n"
            "timeout_msecs = 5000\n"
            "debug = %s\n" % (self.endpoint_addr, INTROSPECT_PORT,
                               self.base / "world-ca.pem",
                               "yes" if self.debug else "no"))
        self.dovecot_conf.write_text("""\
# Generated by oauthsys.py: Dovecot as SASL server only (no IMAP/POP3),
# for the submission Postfix of the world (smtpd_sasl_type = dovecot).
base_dir = {base}
state_dir = {base}/state
instance_name = dg-oauth-{net}
protocols = none
ssl = no
log_path = {log}
auth_verbose = yes
auth_debug = {debug}
auth_mechanisms = xoauth2 oauthbearer
auth_cache_size = 0
# A refused token is answered at once, and the next AUTH from the same
# address is not delayed (Dovecot's penalty would hold it 2..15 s, past
# Postfix's 10 s wait for the auth server): no anvil-auth-penalty socket.
auth_failure_delay = 0
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {oauth2}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent allow_all_users=yes
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  unix_listener {queue}/private/auth {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
""".format(base=self.base, net=dgsys.NET,
           debug="yes" if self.debug else "no", log=self.dovecot_log,
           oauth2=oauth2, queue=self.queue))

    def _write_postfix(self):
        conf, queue = self.pf_conf, self.queue
        conf.mkdir(parents=True, exist_ok=True)
        queue.mkdir(parents=True, exist_ok=True)
        # Dovecot puts its auth socket here before Postfix starts.
        pw = pwd.getpwnam("postfix")
        (queue / "private").mkdir(exist_ok=True)
        os.chown(queue / "private", pw.pw_uid, pw.pw_gid)
        (queue / "private").chmod(0o700)
        uid = pwd.getpwnam("nobody").pw_uid
        gid = grp.getgrnam("nogroup").gr_gid
        (queue / "sink").mkdir(exist_ok=True)
        os.chown(queue / "sink", uid, gid)
        # A mailbox may send only as itself.
        (conf / "sender_login").write_text("/^(.+)$/ ${1}\n")
        (conf / "main.cf").write_text("""\
# Generated by oauthsys.py: smtp.office.example, the submission server of
# the world (issue 9). SASL by Dovecot (XOAUTH2/OAUTHBEARER checked at the
# token endpoint); every accepted message goes to one Maildir,
# {queue}/sink/maildir/.
compatibility_level = 3.6
config_directory = {conf}
queue_directory = {queue}
data_directory = /proc/self/cwd/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {conf}/maillog
maillog_file_prefixes = {conf}
inet_interfaces = all
inet_protocols = ipv4
myhostname = {host}
mydomain = office.example
myorigin = $myhostname
mydestination =
relay_domains =
mynetworks =
alias_maps =
alias_database =
local_recipient_maps =
biff = no
append_dot_mydomain = no
smtpd_peername_lookup = no
smtpd_tls_chain_files = {key}, {chain}
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_authenticated_header = yes
smtpd_sender_login_maps = regexp:{conf}/sender_login
smtpd_sender_restrictions = reject_sender_login_mismatch
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions =
virtual_mailbox_domains = static:all
virtual_mailbox_base = /proc/self/cwd/sink
virtual_mailbox_maps = static:maildir/
virtual_mailbox_limit = 0
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
""".format(conf=conf, queue=queue, addr=self.addr, host=HOST, key=self.key,
           chain=self.chain, uid=uid, gid=gid))
        (conf / "master.cf").write_text("""\
# Generated by oauthsys.py: the submission service of smtp.office.example.
{addr}:{port} inet n - n - - smtpd
  -o syslog_name=postfix/submission
""".format(addr=self.addr, port=PORT) + "".join(
            ln for ln in SERVICES.read_text().splitlines(True)
            if not ln.startswith("#")))

    # -------------------------------------------------------- lifecycle --

    def start(self):
        """Start the endpoint, Dovecot and Postfix (in parallel) and wait
        until the endpoint answers, the auth socket exists and 587
        listens. Raises RuntimeError with the logs on failure."""
        self.stop()
        for sub in ("postfix", "queue", "dovecot", "endpoint"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)
        self._write_endpoint()
        self._write_dovecot()
        self._write_postfix()
        try:
            self._spawn("token", ENDPOINT_PORT)
            self._spawn("introspect", INTROSPECT_PORT)
            # Both daemonize: their output goes to files (a pipe would stay
            # open in the daemon).
            with open(self.dir / "dovecot" / "start.log", "w") as dlog, \
                    open(self.pf_conf / "start.log", "w") as plog:
                dv = subprocess.Popen(["dovecot", "-c",
                                       str(self.dovecot_conf)],
                                      stdout=dlog, stderr=dlog)
                pf = subprocess.Popen(["postfix", "-c", str(self.pf_conf),
                                       "start"], stdout=plog, stderr=plog)
                for p, what in ((dv, "dovecot"), (pf, "postfix start")):
                    if p.wait(timeout=30) != 0:
                        raise RuntimeError("%s failed (%d)%s"
                                           % (what, p.returncode,
                                              self.logs()))
            self._ready("token")
            self._ready("introspect")
            self._wait(lambda: (self.queue / "private" / "auth").exists(),
                       "Dovecot's auth socket")
            self._wait(lambda: _listens(self.addr, PORT), "%s:%d"
                       % (self.addr, PORT))
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, role, port):
        log = open(self.endpoint_cfg.parent / (role + ".log"), "a")
        p = subprocess.Popen(
            ["/usr/bin/python3", str(ENDPOINT), "--listen",
             "%s:%d" % (self.endpoint_addr, port),
             "--cert", str(self.ep_chain), "--key", str(self.ep_key),
             "--config", str(self.endpoint_cfg),
             "--state", str(self.endpoint_cfg.parent / "state.json")],
            stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        (self.endpoint_cfg.parent / (role + ".pid")).write_text(str(p.pid))
        self.procs[role] = p

    def _ready(self, role):
        p = self.procs[role]
        if p.stdout.readline().strip() != "ready":
            self._halt(role)
            raise RuntimeError("%s endpoint failed: %s" % (
                role, (self.endpoint_cfg.parent / (role + ".log"))
                .read_text()))

    def _halt(self, role):
        p = self.procs.pop(role, None)
        if p is not None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        pidfile = self.endpoint_cfg.parent / (role + ".pid")
        if pidfile.exists():
            _terminate(int(pidfile.read_text()), "python3")
            pidfile.unlink()

    def start_endpoint(self):
        """(Re)start the token endpoint after stop_endpoint()."""
        if "token" not in self.procs:
            self._spawn("token", ENDPOINT_PORT)
            self._ready("token")

    def stop_endpoint(self):
        """Stop the token endpoint (login.office.example:443 refuses
        connections) until start_endpoint(). Tokens already issued stay
        valid and are still accepted by the submission server: its
        introspection service is a second process on the same state, as
        Exchange Online validates tokens without login.microsoftonline.com."""
        self._halt("token")

    def stop(self):
        if self.pf_conf.exists():
            subprocess.run(["postfix", "-c", str(self.pf_conf), "stop"],
                           capture_output=True, timeout=30)
        # Dovecot and the endpoint also when another Submission object (or
        # a killed test run) started them: from DIR's records.
        note = self.dovecot_conf.parent / "base_dir"
        if self.base is None and note.exists():
            self.base = Path(note.read_text().strip())
        if self.base is not None:
            pidfile = self.base / "master.pid"
            if pidfile.exists():
                _terminate(int(pidfile.read_text().split()[0]), "dovecot")
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
        for role in ("token", "introspect"):
            self._halt(role)

    @staticmethod
    def _wait(cond, what, timeout=10):
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise RuntimeError("timed out waiting for %s" % what)
            time.sleep(0.05)

    def logs(self):
        out = ""
        for f in (self.pf_conf / "start.log", self.maillog,
                  self.dir / "dovecot" / "start.log", self.dovecot_log,
                  self.endpoint_cfg.parent / "token.log",
                  self.endpoint_cfg.parent / "introspect.log"):
            if f.exists():
                out += "\n--- %s\n%s" % (f, f.read_text()[-4000:])
        return out

    # ---------------------------------------------------------- helpers --

    def token_response(self, mailbox=None, grant="password",
                       client_id=CLIENT_ID, secret=None, password=None):
        """The endpoint's whole answer to a token request: password grant
        for mailbox (its registered password unless given), or
        client_credentials for client_id (its secret unless given)."""
        app = APPS.get(client_id, {})
        form = {"client_id": client_id, "grant_type": grant,
                "client_secret": secret or app.get("secret", ""),
                "scope": "https://outlook.office365.com/.default"}
        if grant == "password":
            form["username"] = mailbox
            form["password"] = password or MAILBOXES[mailbox]
        status, body = self.https("/%s/oauth2/v2.0/token" % TENANT, form)
        if status != 200:
            raise RuntimeError("token request refused: %d %s"
                               % (status, body))
        return body

    def set_client(self, client_id, **fields):
        """Register or change an app at the endpoint (its configuration is
        read for each request): secret=, cert= (PEM path of the
        certificate for the JWT assertion grant), ttl=, mailbox= (what its
        client_credentials tokens act for); a None value removes the
        field."""
        cfg = json.loads(self.endpoint_cfg.read_text())
        app = cfg["clients"].setdefault(client_id, {})
        for k, v in fields.items():
            if v is None:
                app.pop(k, None)
            else:
                app[k] = v
        tmp = self.endpoint_cfg.with_suffix(".tmp")
        tmp.write_text(json.dumps(cfg, indent=1))
        tmp.chmod(0o600)
        tmp.replace(self.endpoint_cfg)

    def token(self, mailbox=None, grant="password", client_id=CLIENT_ID):
        """An access token from the endpoint (see token_response)."""
        return self.token_response(mailbox, grant, client_id)["access_token"]

    def revoke(self, token):
        assert self.https("/revoke", {"token": token})[0] == 200

    def https(self, path, form=None, port=ENDPOINT_PORT):
        """GET (form None) or POST a form to the endpoint; (status, JSON)."""
        ctx = ssl.create_default_context(cafile=self.cafile)
        ctx.check_hostname = False      # reached by address; IP SAN too
        data = urllib.parse.urlencode(form).encode() if form else None
        req = urllib.request.Request("https://%s:%d%s" % (
            self.endpoint_addr, port, path), data=data)
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def stats(self):
        """The token endpoint's /stats (tokens per grant, errors) with the
        introspection service's "introspect" and "introspect_active"."""
        st = self.https("/stats")[1]
        ins = self.https("/stats", port=INTROSPECT_PORT)[1]
        st["introspect"] = ins["introspect"]
        st["introspect_active"] = ins["introspect_active"]
        return st

    def delivered(self):
        """The messages in the Maildir (paths of new/ and cur/)."""
        return sorted(p for sub in ("new", "cur")
                      for p in (self.maildir / sub).glob("*")) \
            if self.maildir.exists() else []

    def connect(self, timeout=15):
        """An smtplib.SMTP after EHLO + STARTTLS (world CA, host name
        checked) + EHLO."""
        s = smtplib.SMTP(self.addr, PORT, timeout=timeout,
                         local_hostname="client.example")
        s.ehlo()
        ctx = ssl.create_default_context(cafile=self.cafile)
        # reached by address: the name to check (and send as SNI) is
        # smtplib's _host, the only way to give it one
        s._host = HOST      # pylint: disable=protected-access
        s.starttls(context=ctx)
        s.ehlo()
        return s

    @staticmethod
    def auth_xoauth2(smtp, user, token):
        """AUTH XOAUTH2 with an initial response; on a 334 challenge (the
        server's JSON error) sends the empty line. The final (code,
        text)."""
        code, text = smtp.docmd("AUTH", "XOAUTH2 " + _xoauth2(user, token))
        if code == 334:
            code, text = smtp.docmd("")
        return code, text.decode(errors="replace")

    def send(self, user, token, rcpt="someone@dane-ee.example",
             sender=None, subject="oauth submission test"):
        """One submission: AUTH XOAUTH2 as user, MAIL FROM sender (user),
        one message. (auth code, auth text, final code or None)."""
        with self.connect() as s:
            code, text = self.auth_xoauth2(s, user, token)
            if code != 235:
                return code, text, None
            mid = "<%d.%d@client.example>" % (time.time_ns(), os.getpid())
            msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n"
                   "\r\nbody\r\n" % (sender or user, rcpt, subject, mid))
            try:
                s.sendmail(sender or user, [rcpt], msg)
                return code, text, 250
            except smtplib.SMTPRecipientsRefused as e:
                return code, text, list(e.recipients.values())[0][0]
            except smtplib.SMTPResponseException as e:
                return code, text, e.smtp_code


def _listens(addr, port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((addr, port)) == 0


def _terminate(pid, comm, timeout=5):
    """SIGTERM pid if it is still a comm process, SIGKILL after timeout."""
    try:
        with open("/proc/%d/comm" % pid) as f:
            if f.read().strip() != comm:
                return
    except OSError:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
