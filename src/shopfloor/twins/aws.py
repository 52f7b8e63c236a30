"""AWS twin: moto's server-mode application, managed and served like every other twin.

We do not rewrite AWS. The twin serves moto's own WSGI application (the one
`moto_server` and `ThreadedMotoServer` run) through uvicorn, so every AWS service
moto implements works with boto3 pointed at `endpoint_url=twin.url`, and the
twin layer adds what moto lacks: the request journal, chaos, and credential
checks (an unknown access key id gets the service's own error:
`InvalidAccessKeyId` from S3, `UnrecognizedClientException` from JSON-protocol
services such as SQS, `InvalidClientTokenId` from query-protocol ones).
Signatures are not verified; only the access key id is.

moto keeps its state in process-global backends: every AWS twin in one process
shares it, and reset clears all of it. Snapshot/restore is not supported.

Fixture (`aws:` in a seed file):

    access_keys: {AKIDSHOPFLOORTWIN: shopfloor-twin-secret}
    region: us-east-1
    s3_buckets: [artifacts]
    sqs_queues: [jobs]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from shopfloor.twins.asgi import TwinApp
from shopfloor.twins.framework import Twin, TwinRequest, json_response

DEFAULT_ACCESS_KEY_ID = "AKIDSHOPFLOORTWIN"
DEFAULT_SECRET_ACCESS_KEY = "shopfloor-twin-secret"
DEFAULT_REGION = "us-east-1"
#: moto's account id for everything created through the twin.
ACCOUNT_ID = "123456789012"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/")


def _xml(status: int, body: str) -> Response:
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + body, status, media_type="application/xml")


class AwsTwin(Twin):
    name = "aws"
    description = "AWS (moto server mode: S3, SQS, DynamoDB, ... for boto3)"
    fixture_keys = frozenset({"access_keys", "region", "s3_buckets", "sqs_queues"})

    def load_fixture(self, fixture: Mapping[str, Any]) -> None:
        s = self.state
        if not s:
            s.update(
                access_keys=dict(
                    fixture.get("access_keys") or {DEFAULT_ACCESS_KEY_ID: DEFAULT_SECRET_ACCESS_KEY}
                ),
                region=str(fixture.get("region", DEFAULT_REGION)),
            )
        elif "access_keys" in fixture:
            s["access_keys"].update(fixture["access_keys"])
        from moto.s3.models import s3_backends
        from moto.sqs.models import sqs_backends

        for bucket in fixture.get("s3_buckets", []):
            s3_backends[ACCOUNT_ID]["aws"].create_bucket(bucket, s["region"])
        for queue in fixture.get("sqs_queues", []):
            sqs_backends[ACCOUNT_ID][s["region"]].create_queue(queue)

    def reset(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        with self.lock:
            moto_api_backend.reset()
            super().reset()

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError("the AWS twin (moto) cannot snapshot its state; use reset and seed instead")

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        raise NotImplementedError("the AWS twin (moto) cannot restore state; use reset and seed instead")

    def environment(self) -> dict[str, str]:
        # boto3 reads these itself (AWS_ENDPOINT_URL since botocore 1.31).
        key, secret = next(iter(self.state["access_keys"].items()))
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": self.state["region"],
        }

    def credentials(self) -> dict[str, Any]:
        return {
            "access_keys": [
                {"aws_access_key_id": k, "aws_secret_access_key": v}
                for k, v in self.state["access_keys"].items()
            ],
            "region": self.state["region"],
            "endpoint_url": self.url,
        }

    def authenticate(self, request: TwinRequest) -> Response | None:
        header = request.headers.get("authorization", "")
        match = _CREDENTIAL.search(header) or _CREDENTIAL.search(
            "Credential=" + request.query.get("X-Amz-Credential", "") + "/"
        )
        key_id = match.group(1) if match else None
        if not header and not match:
            return None  # anonymous requests (public S3 objects) are moto's to judge
        if key_id in self.state["access_keys"]:
            return None
        service = match.group(3) if match else ""
        if service == "s3":
            return _xml(
                403,
                "<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided "
                f"does not exist in our records.</Message><AWSAccessKeyId>{key_id}</AWSAccessKeyId>"
                "</Error>",
            )
        if request.headers.get("x-amz-target"):
            return json_response(
                {
                    "__type": "UnrecognizedClientException",
                    "message": "The security token included in the request is invalid.",
                },
                400,
            )
        return _xml(
            403,
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>"
            "The security token included in the request is invalid.</Message></Error></ErrorResponse>",
        )

    def error_response(self, status: int, message: str) -> Response:
        code = "ServiceUnavailable" if status == 503 else "InternalError" if status >= 500 else "BadRequest"
        return _xml(status, f"<Error><Code>{code}</Code><Message>{message}</Message></Error>")

    def rate_limited_response(self, retry_after_s: int) -> Response:
        # S3's throttle ("SlowDown", 503) is one botocore retries for every service.
        response = _xml(
            503, "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
        )
        response.headers["Retry-After"] = str(retry_after_s)
        return response

    def asgi_app(self) -> TwinApp:
        return MotoTwinApp(self)


class MotoTwinApp(TwinApp):
    """TwinApp whose vendor side is moto's WSGI application."""

    def __init__(self, twin: Twin) -> None:
        super().__init__(twin)
        from a2wsgi import WSGIMiddleware
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self._moto = WSGIMiddleware(DomainDispatcherApplication(create_backend_app))

    async def dispatch(self, scope: dict[str, Any], request: TwinRequest) -> Response:
        with self.twin.lock:
            refused = self.twin.authenticate(request)
        if refused is not None:
            return refused
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": request.body, "more_body": False}

        start: dict[str, Any] = {}
        body = bytearray()

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self._moto(scope, receive, send)
        response = Response(bytes(body), start.get("status", 500))
        response.raw_headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        return response
