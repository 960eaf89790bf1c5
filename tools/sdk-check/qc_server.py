# Verifies every request with the official QingCloud SDKs' own signing code.
import base64, hashlib, hmac, json, sys, types, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from qingcloud_hpc.request import process_canonical_request
from qingcloud.conn.auth import QuerySignatureAuthHandler
KEY = sys.argv[1]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, obj):
        b = json.dumps(obj).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path, _, raw_q = self.path.partition("?")
        parts = raw_q.split("&")
        sig_raw = [p for p in parts if p.startswith("signature=")][0][len("signature="):]
        rest = "&".join(p for p in parts if not p.startswith("signature="))
        got = urllib.parse.unquote(sig_raw)  # the server decodes the query once
        if path.startswith("/iaas"):
            params = dict(urllib.parse.parse_qsl(rest, keep_blank_values=True))
            h = QuerySignatureAuthHandler("api.qingcloud.com", "x", KEY)
            _, b64 = h._calc_signature(params, self.command, path)
            want = b64.decode() if isinstance(b64, bytes) else b64  # sign_string returns bytes
            ok = got == want  # decoded once, like the server
        else:
            req = types.SimpleNamespace(method=self.command, url="http://h" + path + "?" + rest, data=body.decode() if body else None)
            sts = process_canonical_request(req)
            b64 = base64.b64encode(hmac.new(KEY.encode(), sts.encode(), hashlib.sha256).digest()).decode()
            ok = got == urllib.parse.quote_plus(b64)
        print(("OK  " if ok else "BAD ") + self.command + " " + path, flush=True)
        if not ok:
            return self.reply({"ret_code": 1200, "message": "AuthFailure, signature not matched"})
        q = dict(urllib.parse.parse_qsl(rest))
        if path.endswith("/job/stopJobs"):
            return self.reply({"action": "HpcJobStopJobsResponse", "custom_cmd_result": [], "job_uuid": "j-942yi1ah8hd", "ret_code": 0})
        if path.endswith("/cluster/deleteCluster"):
            return self.reply({"action": "HpcClusterDeleteClusterResponse", "hpc_cluster_id": ["hpc-6o2qc9tl"], "job_id": "j-jxi9h7em8de", "ret_code": 0})
        if path.endswith("/operation"):
            return self.reply({"action": "HpcOperationListOperationResponse", "job_set": [{"job_id": q.get("jobs"), "status": "successful", "error_codes": ""}], "total_count": 1, "ret_code": 0})
        if q.get("action") == "StopInstances":
            return self.reply({"action": "StopInstancesResponse", "job_id": "j-ybnoeitr", "ret_code": 0})
        if q.get("action") == "DescribeJobs":
            return self.reply({"action": "DescribeJobsResponse", "job_set": [{"job_id": "j-ybnoeitr", "status": "successful", "resource_ids": "i-rtyv0968"}], "total_count": 1, "ret_code": 0})
        return self.reply({"ret_code": 1101, "message": "unknown"})
    do_GET = do_POST = handle_any
s = ThreadingHTTPServer(("127.0.0.1", 0), H); print(s.server_address[1], flush=True); s.serve_forever()
