"""AWS EC2 (and STS) emulator: moto's ``ThreadedMotoServer`` behind a recording, fault-injecting proxy.

moto speaks the real wire protocol (SigV4-signed query API, XML answers, ``NextToken``
paging, ``DryRun``), so boto3 needs nothing but ``endpoint_url``. The proxy in front of it
adds what moto lacks for DevTrack's tests: every request recorded and countable, faults, the
access-key checks (an unknown key gets ``AuthFailure`` from EC2 and ``InvalidClientTokenId``
from STS; the read-only key gets ``UnauthorizedOperation`` on ``DescribeInstances``, also with
``DryRun``), and an account of its own per emulator (moto's ``x-moto-account-id``), so two
sandboxes in one process never see each other's instances. Seeded through boto3 with named
instances in every state in ``REGION`` (``aws_instances`` scales them; one reservation each, so
``MaxResults`` pages by instance) and a few running ones in ``SECOND_REGION``
(``aws_second_region_instances``); the sandbox connection follows both.

moto takes the region from the request's SigV4 signing scope, as AWS takes it from the host,
so one endpoint serves every region; the proxy reads the same scope for :meth:`fault_region`,
a fault for one region only.
"""

from __future__ import annotations

import asyncio
import http.client
import random
import re
import uuid
from typing import Any
from urllib.parse import parse_qs

from starlette.responses import Response

from .emulator import LOOPBACK, Emulator, SandboxEvent, env_base_url_key
from .faults import Fault, FaultSet
from .server import EmulatorServer

REGION = "us-east-1"
#: The second region seeded, so the sandbox shows a connection that follows several.
SECOND_REGION = "eu-west-1"
REGIONS = (REGION, SECOND_REGION)
#: What a fault for one region can do (the proxy answers in place of moto; the socket-level
#: faults need the server's own fault set).
REGION_FAULTS = ("status", "latency", "malformed")
#: The first states seeded, so even a small sandbox shows each; later instances mostly run.
STATES = ("running", "stopped", "pending", "terminated", "stopping", "shutting-down", "running", "running")
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
TYPES = ("t3.micro", "t3.small", "m5.large", "c6g.medium")
ROLES = ("web", "worker", "api", "batch", "bastion", "db-proxy")
HOP_BY_HOP = {"host", "connection", "content-length", "transfer-encoding", "keep-alive"}
CREDENTIAL_RE = re.compile(r"Credential=([A-Z0-9]+)/\d{8}/([\w-]+)/(\w+)/aws4_request")
EC2_CODES = {400: "InvalidParameterValue", 401: "AuthFailure", 403: "UnauthorizedOperation",
             404: "InvalidAction", 429: "RequestLimitExceeded", 500: "InternalError",
             502: "InternalError", 503: "RequestLimitExceeded"}


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class AwsEc2Emulator(Emulator):
    service = "aws-ec2"
    plugin_ids = ("aws-ec2",)
    default_scale = {"aws_instances": 8, "aws_second_region_instances": 3}

    def seed_data(self) -> None:
        self.access_key_id = "AKIA" + "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        self.secret_access_key = self.token("", 40)
        #: A key pair whose user may call STS but not ec2:DescribeInstances.
        self.readonly_key_id = "AKIA" + "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        self.readonly_secret = self.token("", 40)
        # not from the seed: two emulators in one process must not share moto's account
        self.account_id = str(random.SystemRandom().randrange(10**11, 10**12))
        #: Every seeded instance, those of REGION first; ``instance_region`` says where each is.
        self.instance_ids: list[str] = []
        self.instance_region: dict[str, str] = {}
        #: Faults keyed by region (route ``/<region>``), consulted by the proxy: see fault_region.
        self.region_faults = FaultSet("aws-ec2 regions")
        #: Instances whose status checks fail (moto cannot fail them itself).
        self.impaired: set[str] = set()
        self.moto: Any = None

    # ------------------------------------------------------------------ events (alert rules)

    def sandbox_events(self) -> dict[str, SandboxEvent]:
        return {
            "instance_impaired": SandboxEvent(
                "a running instance fails its status checks (option: instance) (undo: they pass)",
                self._impair_one, lambda done: self.impaired.discard(done["instance"])),
            "instance_stopped": SandboxEvent(
                "a running instance is stopped (option: instance) (undo: started again)",
                self._stop_one, lambda done: self._backend(done["region"]).start_instances([done["instance"]])),
        }

    def _backend(self, region: str) -> Any:
        """moto's EC2 backend itself: the admin API runs on the proxy's own thread, so it must
        not call back through the proxy."""
        from moto.ec2.models import ec2_backends

        return ec2_backends[self.account_id][region]

    def _running(self, options: dict[str, Any]) -> str:
        """``options["instance"]``, else the first running, healthy instance of REGION."""
        if options.get("instance"):
            return str(options["instance"])
        backend = self._backend(REGION)
        for iid in self.ids_in(REGION):
            if backend.get_instance(iid).state == "running" and iid not in self.impaired:
                return iid
        raise ValueError("no running instance left to change")

    def _impair_one(self, options: dict[str, Any]) -> dict[str, Any]:
        iid = self._running(options)
        self.impaired.add(iid)
        return {"instance": iid, "region": self.instance_region.get(iid, REGION)}

    def _stop_one(self, options: dict[str, Any]) -> dict[str, Any]:
        iid = self._running(options)
        region = self.instance_region.get(iid, REGION)
        self._backend(region).stop_instances([iid])
        return {"instance": iid, "region": region}

    # ------------------------------------------------------------------ vendor traits

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """EC2's XML error envelope (``extra["code"]`` overrides the code for the status)."""
        code = extra.get("code") or EC2_CODES.get(status, "InternalError")
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                f"<Code>{code}</Code><Message>{_xml_escape(message)}</Message></Error></Errors>"
                f"<RequestID>{uuid.UUID(int=self.rng.getrandbits(128))}</RequestID></Response>")
        return Response(body, status, media_type="text/xml")

    def sts_error(self, status: int, code: str, message: str) -> Response:
        body = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
                f"<Type>Sender</Type><Code>{code}</Code><Message>{_xml_escape(message)}</Message>"
                f"</Error><RequestId>{uuid.UUID(int=self.rng.getrandbits(128))}</RequestId></ErrorResponse>")
        return Response(body, status, media_type="text/xml")

    def credentials(self, url: str) -> dict[str, dict[str, str]]:
        return {"aws-ec2": {"access_key_id": self.access_key_id, "secret_access_key": self.secret_access_key,
                            "region": REGION, "regions": ",".join(REGIONS)}}

    def env(self, url: str) -> dict[str, str]:
        return {env_base_url_key("aws-ec2"): url}

    # ------------------------------------------------------------------ the proxy

    def ids_in(self, region: str) -> list[str]:
        """The seeded instances of one region."""
        return [i for i in self.instance_ids if self.instance_region[i] == region]

    def fault_region(self, region: str, **spec: Any) -> Fault:
        """Arm a fault for the requests signed for ``region`` only, e.g. ``fault_region("eu-west-1", status=500)``.

        Only ``status`` (EC2's error envelope), ``latency`` and ``malformed``: the proxy answers
        instead of moto, above the socket the server's own faults work on.
        """
        fault = Fault(route=f"/{region}", **spec)
        if fault.kind not in REGION_FAULTS:
            raise ValueError(f"a region fault can be one of {', '.join(REGION_FAULTS)}, not {fault.kind}")
        return self.region_faults.add(fault=fault)

    async def _region_fault(self, method: str, region: str) -> Response | None:
        """The answer of a fault armed for this region, after its latency; ``None`` when none fires."""
        fault = self.region_faults.take(method, f"/{region}")
        if fault is None:
            return None
        if fault.latency:
            await asyncio.sleep(fault.latency)
        if fault.malformed:
            return Response(b"<Response><Errors><Error><Code>Unterminated", fault.status or 200, media_type="text/xml")
        if fault.status is not None:
            return self.error(fault.status, f"Injected fault for {region}")
        return None

    def on_reset(self) -> None:
        super().on_reset()
        self.region_faults.clear()

    def denial(self, headers: dict[str, str], body: bytes, query: str) -> Response | None:
        """The error AWS gives this caller, or ``None`` when the request may reach moto."""
        match = CREDENTIAL_RE.search(headers.get("authorization", ""))
        service = match.group(3) if match else "ec2"
        key = match.group(1) if match else None
        if key not in (self.access_key_id, self.readonly_key_id):
            if service == "sts":
                return self.sts_error(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
            return self.error(401, "AWS was not able to validate the provided access credentials", code="AuthFailure")
        params = parse_qs(body.decode("utf-8", "replace")) | parse_qs(query)
        action = params.get("Action", [""])[0]
        if key == self.readonly_key_id and service == "ec2" and action.startswith("Describe"):
            return self.error(403, (
                f"You are not authorized to perform this operation. User: arn:aws:iam::{self.account_id}:user/"
                f"sandbox-readonly is not authorized to perform: ec2:{action} because no identity-based "
                f"policy allows the ec2:{action} action"), code="UnauthorizedOperation")
        return None

    def _forward(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        host, port = self.moto.get_host_and_port()
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            out = {k: v for k, v in headers.items() if k not in HOP_BY_HOP}
            out["x-moto-account-id"] = self.account_id
            conn.request(method, target, body=body, headers=out)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP], data
        finally:
            conn.close()

    def app(self) -> Any:
        async def proxy(scope: Any, receive: Any, send: Any) -> None:
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            query = scope["query_string"].decode("latin-1")
            denied = self.denial(headers, body, query)
            if denied is None:
                match = CREDENTIAL_RE.search(headers.get("authorization", ""))
                denied = await self._region_fault(scope["method"], match.group(2) if match else REGION)
            if denied is not None:
                await denied(scope, receive, send)
                return
            target = scope["raw_path"].decode("latin-1") + (f"?{query}" if query else "")
            status, resp_headers, data = await asyncio.to_thread(self._forward, scope["method"], target, headers, body)
            if b"DescribeInstanceStatus" in body and status == 200:
                data = self._impair(data)
                resp_headers = [(k, str(len(data)) if k.lower() == "content-length" else v) for k, v in resp_headers]
            await send({"type": "http.response.start", "status": status,
                        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp_headers]})
            await send({"type": "http.response.body", "body": data})

        return proxy

    def _impair(self, xml: bytes) -> bytes:
        """moto reports every status check as ok; the seeded impaired instance fails its own."""
        def one(match: re.Match[bytes]) -> bytes:
            item = match.group(0)
            if any(f"<instanceId>{iid}</instanceId>".encode() in item for iid in self.impaired):
                item = re.sub(rb"(<instanceStatus>.*?)<status>passed</status>(.*?)<status>ok</status>",
                              rb"\1<status>failed</status>\2<status>impaired</status>", item, flags=re.S)
            return item
        return re.sub(rb"<item><availabilityZone>.*?</systemStatus></item>", one, xml, flags=re.S)

    def routes(self) -> list[Any]:
        return []  # a proxy: every path goes to moto

    # ------------------------------------------------------------------ lifecycle

    def serve(self, host: str = LOOPBACK, port: int = 0, ssl_context: Any = None) -> EmulatorServer:
        if self.server is not None:
            return self.server
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request otherwise
        self.moto = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self.moto.start()
        try:
            server = super().serve(host, port, ssl_context)
            self._seed_instances()
        except BaseException:
            self.stop()
            raise
        self.requests.clear()  # the seeding calls are not the client's
        return server

    def stop(self) -> None:
        super().stop()
        if self.moto is not None:
            self.moto.stop()
            self.moto = None

    def client(self, service: str = "ec2", readonly: bool = False, region: str = REGION) -> Any:
        """A boto3 client for this emulator (seeding, tests)."""
        import boto3

        key, secret = ((self.readonly_key_id, self.readonly_secret) if readonly
                       else (self.access_key_id, self.secret_access_key))
        return boto3.client(service, region_name=region, endpoint_url=self.url,
                            aws_access_key_id=key, aws_secret_access_key=secret)

    def _seed_instances(self) -> None:
        from moto.ec2.models import ec2_backends
        from moto.ec2.models.instances import InstanceState

        ec2 = self.client()
        image = "ami-12c6146b"  # one of moto's built-in AMIs
        wanted: list[str] = []
        for i in range(self.scale["aws_instances"]):
            state = STATES[i] if i < len(STATES) else self.rng.choice(("running",) * 6 + STATES)
            name = f"{ROLES[i % len(ROLES)]}-{i + 1:02d}"
            resp = ec2.run_instances(
                ImageId=image, MinCount=1, MaxCount=1, InstanceType=self.rng.choice(TYPES),
                TagSpecifications=[{"ResourceType": "instance", "Tags": [
                    {"Key": "Name", "Value": name}, {"Key": "env", "Value": self.rng.choice(("prod", "staging"))}]}],
            )
            self.instance_ids.append(resp["Instances"][0]["InstanceId"])
            self.instance_region[self.instance_ids[-1]] = REGION
            wanted.append(state)
        by_state: dict[str, list[str]] = {}
        for iid, state in zip(self.instance_ids, wanted):
            by_state.setdefault(state, []).append(iid)
        running = by_state.get("running", [])
        if len(running) >= 2:  # one running instance fails its status checks
            self.impaired = {running[-1]}
        if by_state.get("stopped"):
            ec2.stop_instances(InstanceIds=by_state["stopped"])
        if by_state.get("terminated"):
            ec2.terminate_instances(InstanceIds=by_state["terminated"])
        backend = ec2_backends[self.account_id][REGION]
        for state in ("pending", "stopping", "shutting-down"):  # transient states moto never holds
            for iid in by_state.get(state, []):
                backend.get_instance(iid)._state = InstanceState(state, STATE_CODES[state])
        self._seed_second_region(image)

    def _seed_second_region(self, image: str) -> None:
        """A few instances in SECOND_REGION, running but the last (stopped); none impaired."""
        count = self.scale["aws_second_region_instances"]
        if not count:
            return
        ec2 = self.client(region=SECOND_REGION)
        resp = ec2.run_instances(
            ImageId=image, MinCount=count, MaxCount=count, InstanceType=self.rng.choice(TYPES),
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "env", "Value": "prod"}]}],
        )
        ids = [i["InstanceId"] for i in resp["Instances"]]
        for n, iid in enumerate(ids):
            ec2.create_tags(Resources=[iid], Tags=[{"Key": "Name", "Value": f"{ROLES[n % len(ROLES)]}-eu-{n + 1:02d}"}])
            self.instance_region[iid] = SECOND_REGION
        self.instance_ids.extend(ids)
        if count >= 2:
            ec2.stop_instances(InstanceIds=ids[-1:])

    def actions(self) -> list[str]:
        """The ``Action`` of every recorded request, in order (the query API's operation names)."""
        out = []
        for r in self.requests.all():
            body = r.body if isinstance(r.body, dict) else {}
            out.append(str(body.get("Action") or r.params.get("Action", "")))
        return out


EMULATOR = AwsEc2Emulator
