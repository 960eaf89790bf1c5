# Re-signs a received request with the official Tencent Cloud Python SDK end to end:
# the SDK's own AbstractClient._build_req_with_tc3_signature builds the canonical
# request (content type, host, URI, query, payload hash, headers, scope, date) and the
# signature. Only what the SDK cannot know is handed to it: the clock (pinned to the
# request's X-TC-Timestamp) and the payload bytes (the SDK would json.dumps() its
# params; the server must hash the bytes that arrived, as Tencent's gateway does).
import json, threading, types

import tencentcloud.common.abstract_client as ac
from tencentcloud.common.credential import Credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

_lock = threading.Lock()

# X-TC-Version → service, for the versions only one service uses; 2017-03-12 is both
# Batch and CVM and is told apart by action.
_BY_VERSION = {"2018-05-25": "tke", "2023-03-21": "thpc", "2018-08-13": "sts", "2022-06-27": "region"}
_CVM_ACTIONS = {"StopInstances", "DescribeInstancesStatus", "DescribeInstances", "DescribeRegions"}


def service_of(headers):
    version = headers["X-TC-Version"]
    if version in _BY_VERSION:
        return _BY_VERSION[version]
    return "cvm" if headers["X-TC-Action"] in _CVM_ACTIONS else "batch"


def expected_authorization(secret_id, secret_key, headers, body):
    """The Authorization header the SDK computes for this request, or raises."""
    service = service_of(headers)

    class Client(ac.AbstractClient):
        _apiVersion = headers["X-TC-Version"]
        _endpoint = headers["Host"]
        _service = service

    http = HttpProfile(reqMethod="POST", endpoint=headers["Host"])
    token = headers.get("X-TC-Token")
    client = Client(Credential(secret_id, secret_key, token), headers.get("X-TC-Region"), ClientProfile(httpProfile=http))
    req = RequestInternal(headers["Host"], "POST", "/")
    raw = body.decode("utf-8")
    params = json.loads(raw) if raw else {}
    with _lock:
        real_json, real_time = ac.json, ac.time
        ac.json = types.SimpleNamespace(dumps=lambda _p, *a, **k: raw, loads=json.loads)
        ac.time = types.SimpleNamespace(time=lambda: int(headers["X-TC-Timestamp"]), sleep=real_time.sleep)
        try:
            client._build_req_with_tc3_signature(headers["X-TC-Action"], params, req, {})
        finally:
            ac.json, ac.time = real_json, real_time
    # What the SDK would have sent must be what arrived, signature aside.
    for h in ("Content-Type", "Host", "X-TC-Action", "X-TC-Version", "X-TC-Timestamp"):
        if req.header.get(h) != headers.get(h):
            raise ValueError("%s: SDK %r, received %r" % (h, req.header.get(h), headers.get(h)))
    return req.header["Authorization"]
