# Verifies every request with the official Tencent SDK's TC3 signing code.
import hashlib, json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from tencentcloud.common.sign import Sign
SID, KEY = sys.argv[1], sys.argv[2]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, obj):
        b = json.dumps({"Response": obj}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        h = self.headers
        ts = int(h["X-TC-Timestamp"]); action = h["X-TC-Action"]
        service = "cvm" if action in ("StopInstances", "DescribeInstancesStatus", "DescribeInstances") else "batch"
        date = time.strftime("%Y-%m-%d", time.gmtime(ts))
        canon = "POST\n/\n\ncontent-type:%s\nhost:%s\n\ncontent-type;host\n%s" % (h["Content-Type"], h["Host"], hashlib.sha256(body).hexdigest())
        sts = "TC3-HMAC-SHA256\n%d\n%s/%s/tc3_request\n%s" % (ts, date, service, hashlib.sha256(canon.encode()).hexdigest())
        sig = Sign.sign_tc3(KEY, date, service, sts)
        want = "TC3-HMAC-SHA256 Credential=%s/%s/%s/tc3_request, SignedHeaders=content-type;host, Signature=%s" % (SID, date, service, sig)
        ok = want == h["Authorization"] and abs(time.time() - ts) < 300
        print(("OK  " if ok else "BAD ") + action + " " + h["Host"], flush=True)
        if not ok:
            return self.reply({"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"}, "RequestId": "x"})
        if action == "DescribeJob":
            return self.reply({"JobId": "job-rybewp57", "JobState": "FAILED", "RequestId": "d"})
        if action == "DescribeInstancesStatus":
            ids = json.loads(body)["InstanceIds"]
            return self.reply({"InstanceStatusSet": [{"InstanceId": i, "InstanceState": "STOPPED"} for i in ids], "TotalCount": len(ids), "RequestId": "s"})
        return self.reply({"RequestId": "970e5a9f-2963-436c-8dad-4847360676f7"})
s = ThreadingHTTPServer(("127.0.0.1", 0), H); print(s.server_address[1], flush=True); s.serve_forever()
