"""The AWS twin (moto's server mode, managed as a twin) through boto3."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from shopfloor.twins.runner import RunningTwin
from tests.support.twins import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY


def aws(twin: RunningTwin, service: str, key_id: str = AWS_ACCESS_KEY_ID, **config):
    return boto3.client(
        service,
        endpoint_url=twin.url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=AWS_SECRET_ACCESS_KEY,
        config=Config(**config) if config else None,
    )


def test_s3_and_sqs_round_trip(aws_twin: RunningTwin) -> None:
    s3 = aws(aws_twin, "s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="build/app.tar", Body=b"payload")
    assert s3.get_object(Bucket="artifacts", Key="build/app.tar")["Body"].read() == b"payload"
    listed = s3.list_objects_v2(Bucket="artifacts", Prefix="build/")
    assert [o["Key"] for o in listed["Contents"]] == ["build/app.tar"]
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket="artifacts", Key="nope")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"

    sqs = aws(aws_twin, "sqs")
    url = sqs.create_queue(QueueName="deploys")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="release 1.2.3")
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    assert message["Body"] == "release 1.2.3"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert [e.method for e in aws_twin.twin.journal.entries(path="/artifacts/build/app.tar")] == [
        "PUT",
        "GET",
    ]


def test_unknown_access_key_gets_each_services_own_error(aws_twin: RunningTwin) -> None:
    expected = {
        "s3": ("InvalidAccessKeyId", 403),
        "sqs": ("UnrecognizedClientException", 400),
        "sts": ("InvalidClientTokenId", 403),
    }
    calls = {
        "s3": lambda c: c.list_buckets(),
        "sqs": lambda c: c.list_queues(),
        "sts": lambda c: c.get_caller_identity(),
    }
    for service, (code, status) in expected.items():
        with pytest.raises(ClientError) as err:
            calls[service](aws(aws_twin, service, key_id="AKIDUNKNOWN", retries={"max_attempts": 1}))
        assert (
            err.value.response["Error"]["Code"],
            err.value.response["ResponseMetadata"]["HTTPStatusCode"],
        ) == (code, status), service


def test_seed_and_reset(twin_fleet) -> None:
    twin = twin_fleet(["aws"], seed={"aws": {"s3_buckets": ["seeded"], "sqs_queues": ["jobs"]}})["aws"]
    s3 = aws(twin, "s3")
    s3.create_bucket(Bucket="scratch")
    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == ["scratch", "seeded"]
    assert aws(twin, "sqs").get_queue_url(QueueName="jobs")["QueueUrl"].endswith("/jobs")
    twin.reset()
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["seeded"]
    with pytest.raises(NotImplementedError):
        twin.twin.snapshot()
