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
        # The scope's service is the API's, told by its version (TKE and THPC share action names).
        service = {"2018-05-25": "tke", "2023-03-21": "thpc"}.get(h["X-TC-Version"]) or (
            "cvm" if action in ("StopInstances", "DescribeInstancesStatus", "DescribeInstances") else "batch")
        date = time.strftime("%Y-%m-%d", time.gmtime(ts))
        canon = "POST\n/\n\ncontent-type:%s\nhost:%s\n\ncontent-type;host\n%s" % (h["Content-Type"], h["Host"], hashlib.sha256(body).hexdigest())
        sts = "TC3-HMAC-SHA256\n%d\n%s/%s/tc3_request\n%s" % (ts, date, service, hashlib.sha256(canon.encode()).hexdigest())
        sig = Sign.sign_tc3(KEY, date, service, sts)
        want = "TC3-HMAC-SHA256 Credential=%s/%s/%s/tc3_request, SignedHeaders=content-type;host, Signature=%s" % (SID, date, service, sig)
        ok = want == h["Authorization"] and abs(time.time() - ts) < 300
        print(("OK  " if ok else "BAD ") + service + " " + action + " " + h["Host"], flush=True)
        if not ok:
            return self.reply({"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"}, "RequestId": "x"})
        if action == "DescribeJob":
            return self.reply({"JobId": "job-rybewp57", "JobState": "FAILED", "RequestId": "d"})
        if action == "DescribeInstancesStatus":
            ids = json.loads(body)["InstanceIds"]
            return self.reply({"InstanceStatusSet": [{"InstanceId": i, "InstanceState": "STOPPED"} for i in ids], "TotalCount": len(ids), "RequestId": "s"})
        if service in ("tke", "thpc"):
            return self.cluster(service, action, json.loads(body))
        return self.reply({"RequestId": "970e5a9f-2963-436c-8dad-4847360676f7"})
    # Clusters as the real APIs answer them: listed until deleted, then once in their
    # deleting state, then gone. cls-l6gtb5p0 is serverless, hpc-… THPC, other cls- standard.
    deletes = {}
    def state(self, cid, running, deleting):
        n = H.deletes.get(cid)
        if n is None: return running
        H.deletes[cid] = n + 1
        return deleting if n == 0 else None
    def cluster(self, service, action, req):
        if action in ("DeleteCluster", "DeleteEKSCluster"):
            H.deletes.setdefault(req["ClusterId"], 0)
            return self.reply({"RequestId": "del-" + req["ClusterId"]})
        found = []
        for cid in req.get("ClusterIds", []):
            serverless = cid == "cls-l6gtb5p0"
            if service == "thpc" and cid.startswith("hpc-"):
                st = self.state(cid, "RUNNING", "TERMINATING")
                if st: found.append({"ClusterId": cid, "ClusterStatus": st, "DeletionProtection": "OFF", "Placement": {"Zone": "ap-guangzhou-6"}})
            elif action == "DescribeClusters" and service == "tke" and not serverless:
                st = self.state(cid, "Running", "Deleting")
                if st: found.append({"ClusterId": cid, "ClusterStatus": st, "ClusterType": "MANAGED_CLUSTER", "DeletionProtection": False})
            elif action == "DescribeEKSClusters" and serverless:
                st = self.state(cid, "running", "Terminating")
                if st: found.append({"ClusterId": cid, "Status": st})
        key = "ClusterSet" if service == "thpc" else "Clusters"
        return self.reply({key: found, "TotalCount": len(found), "RequestId": "desc"})
s = ThreadingHTTPServer(("127.0.0.1", 0), H); print(s.server_address[1], flush=True); s.serve_forever()
