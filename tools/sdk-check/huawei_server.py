# Verifies every request with the official Huawei SDK signer; answers like ECS, IAM,
# CCE (ShowCluster, DeleteCluster: Deleting once, then 404) and ModelArts
# (ShowTrainingJobDetails, StopTrainingJob: Terminating once, then Terminated).
import json, sys, types, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkcore.sdk_request import SdkRequest
AK, SK = sys.argv[1], sys.argv[2]
RESULTS = []
DELETED, STOPPED = {}, {}  # id -> reads since the delete/stop
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b))); self.send_header("X-Request-Id", "req-1"); self.end_headers(); self.wfile.write(b)
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        auth = self.headers.get("Authorization", "")
        signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
        hp = {}
        for k in self.headers.keys():
            if k.lower() in signed: hp[k] = self.headers[k]
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
        req = SdkRequest(method=self.command, schema="http", host=self.headers["Host"], resource_path=u.path,
                         query_params=q, header_params=hp, body=body)
        Signer(types.SimpleNamespace(ak=AK, sk=SK)).sign(req)
        ok = req.header_params["Authorization"] == auth
        print(("OK  " if ok else "BAD ") + self.command + " " + self.path + " signed=" + ";".join(signed), flush=True)
        if not ok:
            print("   ours:", auth, "\n   sdk: ", req.header_params["Authorization"], flush=True)
            return self.reply(401, {"error_code": "APIGW.0301", "error_msg": "verify aksk signature fail", "request_id": "r"})
        if u.path.startswith("/v3/projects"):
            return self.reply(200, {"projects": [{"id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "name": "cn-north-4"}]})
        if u.path.endswith("/cloudservers/action"):
            return self.reply(200, {"job_id": "ff808082889bd9690189061140c235fe"})
        if "/jobs/" in u.path:
            sid = "616fb98f-46ca-475e-917e-2563e5a8cd19"
            return self.reply(200, {"status": "SUCCESS", "job_id": "ff808082889bd9690189061140c235fe", "entities": {"sub_jobs_total": 1, "sub_jobs": [{"status": "SUCCESS", "entities": {"server_id": sid}}]}})
        if u.path.startswith("/autopilot/"):
            return self.reply(404, {"errorCode": "CCE.01404001", "errorMessage": "Resource not found"})
        if "/clusters/" in u.path:
            cid = u.path.rsplit("/", 1)[1]
            if self.command == "DELETE":
                DELETED[cid] = 0
                return self.reply(200, {"kind": "Cluster", "metadata": {"uid": cid}, "status": {"phase": "Available", "jobID": "e8ebf96c-956d-11e8-a949-0255ac10575d"}})
            if cid in DELETED:
                DELETED[cid] += 1
                if DELETED[cid] > 1:
                    return self.reply(404, {"errorCode": "CCE.01404001", "errorMessage": "Resource not found"})
                return self.reply(200, {"kind": "Cluster", "spec": {"billingMode": 0}, "status": {"phase": "Deleting"}})
            return self.reply(200, {"kind": "Cluster", "spec": {"billingMode": 0, "deletionProtection": False}, "status": {"phase": "Available"}})
        if "/training-jobs/" in u.path:
            parts = u.path.split("/")
            jid = parts[4]
            if self.command == "POST":
                if json.loads(body) != {"action_type": "terminate"}:
                    return self.reply(400, {"error_code": "ModelArts.0101", "error_msg": "bad body"})
                STOPPED[jid] = 0
                return self.reply(202, {"metadata": {"id": jid}, "status": {"phase": "Terminating"}})
            if jid in STOPPED:
                STOPPED[jid] += 1
                return self.reply(200, {"metadata": {"id": jid}, "status": {"phase": "Terminating" if STOPPED[jid] <= 1 else "Terminated"}})
            return self.reply(200, {"metadata": {"id": jid}, "status": {"phase": "Running"}})
        return self.reply(404, {"error_code": "APIGW.0101", "error_msg": "not found"})
    do_GET = do_POST = do_DELETE = handle_any
s = ThreadingHTTPServer(("127.0.0.1", 0), H); print(s.server_address[1], flush=True); s.serve_forever()
