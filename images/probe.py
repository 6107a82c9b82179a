#!/usr/bin/env python3
"""images/probe.py - the client side of images/test-oci and images/test-vm.

  probe.py smtp ADDR PORT RCPT [REFUSED_SOURCE]
      waits up to 20 s for the SMTP listener, says EHLO, sends one message
      to RCPT; prints "ehlo CODE" and "sent". With REFUSED_SOURCE, connects
      again from that address and prints "refused-client mail CODE" (the
      reply to MAIL FROM).
  probe.py socketmap PATH KEY
      asks a socketmap server on the unix socket PATH for "policy KEY"
      (Postfix's socketmap_table(5) netstrings) and prints the reply.
"""
import smtplib
import socket
import sys
import time


def connect(fn, tries=40):
    for _ in range(tries - 1):
        try:
            return fn()
        except OSError:
            time.sleep(0.5)
    return fn()


def smtp(addr, port, rcpt, refused=None):
    port = int(port)
    s = connect(lambda: smtplib.SMTP(addr, port, timeout=60))
    code, _ = s.ehlo("client.images.test")
    print("ehlo", code)
    msg = ("From: a@images.test\r\nTo: %s\r\nSubject: %s\r\n\r\nhello\r\n"
           % (rcpt, sys.argv[0])).encode()
    s.sendmail("a@images.test", [rcpt], msg)
    s.quit()
    print("sent")
    if refused:
        r = smtplib.SMTP(addr, port, timeout=30, source_address=(refused, 0))
        r.ehlo("refused.images.test")
        code, _ = r.mail("a@images.test")
        print("refused-client mail", code)
        r.close()


def socketmap(path, key):
    def conn():
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(30)
        c.connect(path)
        return c
    c = connect(conn)
    q = b"policy " + key.encode()
    c.sendall(b"%d:%s," % (len(q), q))
    buf = b""
    while True:
        d = c.recv(4096)
        if not d:
            break
        buf += d
        head, _, rest = buf.partition(b":")
        if head.isdigit() and len(rest) >= int(head) + 1:
            break
    head, _, rest = buf.partition(b":")
    print(rest[:int(head)].decode(errors="replace") if head.isdigit()
          else buf.decode(errors="replace"))


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "smtp":
        smtp(*sys.argv[2:6])
    elif len(sys.argv) == 4 and sys.argv[1] == "socketmap":
        socketmap(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
