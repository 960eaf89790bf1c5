#!/usr/bin/env python3
"""Loopback mock of the APIs cloudstop calls, for bench/run. Answers like the real
APIs' success shapes; it does not verify signatures (that is the tests' job).

  POST /            Tencent API 3.0 (X-TC-Action header)
  POST /v1/<p>/cloudservers/action   Huawei BatchStopServers
  GET  /v3/projects Huawei IAM project lookup (`?name=` or all of the account's)
  GET  /v1/<p>/cloudservers/detail   Huawei ListServersDetails: LIST_TOTAL servers in pages of
                    `limit`, `offset` = page number; every `bench_every`th of `list_total`
                    carries tag env=bench; answered (like BatchStopServers) after `latency_ms`
  GET  /__stats     request log: [[t, action, throttled], ...]
  POST /__config    {"throttle_per_second": N or null, "latency_ms", "list_total", "bench_every"};
                    also resets the log
"""
import json, sys, threading, time, uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
LOG = []
WINDOW = deque()
CONFIG = {"throttle_per_second": None, "latency_ms": 0, "list_total": 10000, "bench_every": 2000, "id_base": 0}
PAGES = {}
# The regions the mock account has a project in.
REGIONS = ["MOS", "cn-north-4", "cn-east-3", "cn-south-1", "ap-southeast-1", "cn-north-4_dev"]


def servers_page(page, limit):
    """One ListServersDetails page, built once and kept (the mock's own cost stays out of
    the measurement)."""
    total, every, base = CONFIG["list_total"], CONFIG["bench_every"], CONFIG["id_base"]
    key = (page, limit, total, every, base)
    if key not in PAGES:
        start = (page - 1) * limit
        servers = []
        for i in range(start, min(start + limit, total)):
            tags = ["env=bench" if i % every == every - 1 else "env=other", f"owner=team{i % 7}"]
            servers.append({"id": f"616fb98f-46ca-475e-917e-{base + i:012x}", "name": f"bench-{i}", "status": "ACTIVE",
                            "OS-EXT-STS:task_state": None, "tags": tags})
        PAGES[key] = json.dumps({"count": total, "servers": servers}).encode()
    return PAGES[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        if self.path.startswith("/__stats"):
            with LOCK:
                return self.reply(200, {"log": LOG})
        if "/cloudservers/detail" in self.path:
            from urllib.parse import parse_qs, urlparse
            q = parse_qs(urlparse(self.path).query)
            page = max(int(q.get("offset", ["1"])[0]), 1)
            limit = int(q.get("limit", ["25"])[0])
            body = servers_page(page, limit)
            time.sleep((CONFIG.get("latency_ms") or 0) / 1000)
            with LOCK:
                LOG.append([time.time(), "ListServersDetails", False])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path.startswith("/v3/projects"):
            # Like IAM: `?name=` filters; without it, every project of the account.
            from urllib.parse import parse_qs, urlparse
            names = parse_qs(urlparse(self.path).query).get("name") or REGIONS
            with LOCK:
                LOG.append([time.time(), "KeystoneListProjects", False])
            return self.reply(200, {"projects": [{"id": f"{i:02x}" + "1b2c3d4e5f60718293a4b5c6d7e8f9", "name": n}
                                                 for i, n in enumerate(names)]})
        self.reply(404, {"error_code": "APIGW.0101", "error_msg": "not found"})

    def do_POST(self):
        raw = self.body()
        if self.path.startswith("/__config"):
            with LOCK:
                CONFIG.update(json.loads(raw or b"{}"))
                LOG.clear()
                WINDOW.clear()
            return self.reply(200, CONFIG)
        if self.path.endswith("/cloudservers/action"):
            time.sleep((CONFIG.get("latency_ms") or 0) / 1000)
            with LOCK:
                LOG.append([time.time(), "BatchStopServers", False])
            return self.reply(200, {"job_id": uuid.uuid4().hex})
        action = self.headers.get("X-TC-Action", "")
        now = time.time()
        throttled = False
        with LOCK:
            limit = CONFIG.get("throttle_per_second")
            while WINDOW and WINDOW[0] <= now - 1.0:
                WINDOW.popleft()
            if limit is not None and len(WINDOW) >= limit:
                throttled = True
            else:
                WINDOW.append(now)
            LOG.append([now, action, throttled])
        rid = str(uuid.uuid4())
        if throttled:
            return self.reply(200, {"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "throttled"}, "RequestId": rid}})
        self.reply(200, {"Response": {"RequestId": rid}})


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
