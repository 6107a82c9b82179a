"""The Prometheus listener (prometheus-interface:) on libevent's evhttp:
only clients access-control: allows get the counters, GET and HEAD only,
bounded request headers. (The counters themselves: test_control.py.)"""
import http.client
import socket

import dgsys
from dgsys import addr

METRICS_ADDR = addr("1.56")
ALLOWED = addr("2.10")
OTHER = addr("2.11")
PORT = 9167


def request(method, path, source, headers=None):
    c = http.client.HTTPConnection(METRICS_ADDR, PORT, timeout=5,
                                   source_address=(source, 0))
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        c.close()


def test_metrics_access_methods_and_limits(danegated):
    danegated([METRICS_ADDR], acl=["%s/32 allow" % ALLOWED,
                                   "%s/32 refuse" % OTHER],
              prometheus="%s@%d" % (METRICS_ADDR, PORT),
              ready_source=ALLOWED)
    status, ctype, body = request("GET", "/metrics", ALLOWED)
    assert status == 200
    assert ctype.startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert "# TYPE danegated_queries_total counter" in text
    assert 'danegated_tcp_connections_total{event="evicted"} 0' in text
    # a query string does not change the path
    assert request("GET", "/metrics?x=1", ALLOWED)[0] == 200
    # HEAD: the headers, no body
    status, _, body = request("HEAD", "/metrics", ALLOWED)
    assert status == 200 and body == b""
    assert request("GET", "/nope", ALLOWED)[0] == 404
    assert request("POST", "/metrics", ALLOWED)[0] == 501   # evhttp's
    # outside access-control: no counters
    status, _, body = request("GET", "/metrics", OTHER)
    assert status == 403 and b"danegated_" not in body
    # headers over the limit are refused, not buffered
    status = request("GET", "/metrics", ALLOWED,
                     headers={"X-Big": "a" * 8000})[0]
    assert status in (400, 413, 431), status
    # a client that sends half a request is dropped after the timeout
    with socket.create_connection((METRICS_ADDR, PORT), timeout=10,
                                  source_address=(ALLOWED, 0)) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        s.settimeout(10)
        data = s.recv(4096)
        # evhttp closes (maybe after a 408/400) within its 5 s timeout
        while data:
            data = s.recv(4096)
