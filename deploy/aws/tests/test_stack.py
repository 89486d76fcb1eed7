"""The goat stack synthesized (no Docker, no AWS account) and its template asserted on."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aws_cdk as cdk
from aws_cdk.assertions import Annotations, Match, Template
from goat_stack import GoatStack, GoatStackProps

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/goat:1.0.0"


@pytest.fixture(scope="module")
def stack() -> GoatStack:
    app = cdk.App()
    return GoatStack(
        app,
        "Goat",
        GoatStackProps(
            goat_image=IMAGE,
            receipts_repository="goat-receipts",
            receipts_image_tag="v1",
            alarm_email="ops@example.com",
        ),
        env=cdk.Environment(account="123456789012", region="us-east-1"),
    )


@pytest.fixture(scope="module")
def template(stack: GoatStack) -> Template:
    return Template.from_stack(stack)


def test_synthesizes_without_warnings(stack: GoatStack, template: Template) -> None:
    annotations = Annotations.from_stack(stack)
    assert annotations.find_error("*", Match.any_value()) == []
    assert annotations.find_warning("*", Match.any_value()) == []


def containers(template: Template) -> dict[str, dict]:
    """Each task definition's one container, by the goat subcommand it runs."""
    found = {}
    for task in template.find_resources("AWS::ECS::TaskDefinition").values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        found[" ".join(container["Command"][:2])] = container
    return found


def test_vpc_over_two_zones(template: Template) -> None:
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::Subnet", 4)
    template.resource_count_is("AWS::EC2::NatGateway", 1)


def test_receipts_bucket_private_encrypted_tls_only(template: Template) -> None:
    template.resource_count_is("AWS::S3::Bucket", 1)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_fargate_services_from_the_one_image(template: Template) -> None:
    template.resource_count_is("AWS::ECS::Cluster", 1)
    services = template.find_resources("AWS::ECS::Service")
    assert len(services) == 4  # api, listener, jobs, worker
    assert all(s["Properties"]["LaunchType"] == "FARGATE" for s in services.values())
    assert sorted(s["Properties"]["DesiredCount"] for s in services.values()) == [1, 2, 2, 2]

    by_command = containers(template)
    assert sorted(by_command) == ["api --host", "db upgrade", "jobs --host", "listener", "worker"]
    images = {json.dumps(c["Image"], sort_keys=True) for c in by_command.values()}
    assert len(images) == 1  # one image; from ECR by its repository, so tasks may pull it
    (image,) = images
    assert '"123456789012.dkr.ecr.us-east-1."' in image
    assert '"/goat:1.0.0"' in image
    # the execution role may pull from that repository
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": Match.array_with(["ecr:BatchGetImage"]),
                                "Resource": "arn:aws:ecr:us-east-1:123456789012:repository/goat",
                            }
                        )
                    ]
                )
            }
        },
    )
    # 5 task definitions, 4 services: `db upgrade` is a one-off task
    template.resource_count_is("AWS::ECS::TaskDefinition", 5)
    # each long-running process has a container health check on its own port
    probes = {
        command: container["HealthCheck"]["Command"][-1]
        for command, container in by_command.items()
        if "HealthCheck" in container
    }
    assert {command: probe.split("'")[1] for command, probe in probes.items()} == {
        "api --host": "http://127.0.0.1:8000/health",
        "listener": "http://127.0.0.1:9100/ready",
        "jobs --host": "http://127.0.0.1:8001/heartbeat",
        "worker": "http://127.0.0.1:9102/health",
    }


def test_api_behind_alb_with_health_check(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer", {"Scheme": "internet-facing"}
    )
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {"HealthCheckPath": "/health", "Port": 80, "TargetType": "ip"},
    )
    template.has_resource_properties(
        "AWS::ECS::Service",
        {"LoadBalancers": [Match.object_like({"ContainerPort": 8000})]},
    )


def test_secrets_injected_not_written(template: Template) -> None:
    # the database's generated secret and SMTP, Webpay, MQTT
    template.resource_count_is("AWS::SecretsManager::Secret", 4)
    for name in ("Goat/smtp", "Goat/webpay", "Goat/mqtt"):
        template.has_resource_properties("AWS::SecretsManager::Secret", {"Name": name})
    for container in containers(template).values():
        names = {secret["Name"] for secret in container["Secrets"]}
        assert names == {
            "PGPASSWORD",
            "GOAT_MQTT_URL",
            "GOAT_SMTP_URL",
            "GOAT_WEBPAY_COMMERCE_CODE",
            "GOAT_WEBPAY_API_KEY",
        }
        plain = {variable["Name"] for variable in container["Environment"]}
        assert not plain & names
        assert {"GOAT_DATABASE_URL", "GOAT_REDIS_URL", "GOAT_S3_BUCKET"} <= plain


def test_webpay_through_transbank_and_buyers_seen_through_the_load_balancer(
    template: Template,
) -> None:
    """Tasks pay through transbank-sdk (integration by default) and believe the VPC's
    X-Forwarded-For (the load balancer's), so buyers are located by their own address."""
    for container in containers(template).values():
        plain = {variable["Name"]: variable["Value"] for variable in container["Environment"]}
        assert plain["GOAT_WEBPAY_ENV"] == "integration"
        assert "Fn::GetAtt" in plain["GOAT_TRUSTED_PROXIES"]  # the VPC's CIDR block


def test_rds_postgres_multi_az(template: Template) -> None:
    template.resource_count_is("AWS::RDS::DBInstance", 1)
    template.has_resource_properties(
        "AWS::RDS::DBInstance",
        {"Engine": "postgres", "MultiAZ": True, "StorageEncrypted": True, "DBName": "goat"},
    )


def test_redis(template: Template) -> None:
    template.resource_count_is("AWS::ElastiCache::ReplicationGroup", 1)
    template.has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {"Engine": "redis", "TransitEncryptionEnabled": True, "AtRestEncryptionEnabled": True},
    )


def test_receipts_lambda_from_ecr(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "PackageType": "Image",
            "MemorySize": 1024,
            "Environment": {"Variables": {"GOAT_S3_BUCKET": Match.any_value()}},
        },
    )
    template.has_resource_properties("AWS::Lambda::Url", {"AuthType": "AWS_IAM"})


def test_alarms_to_sns(template: Template) -> None:
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 5  # API CPU, ALB 5xx, outbox, job outbox, jobs queued
    (topic,) = template.find_resources("AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]
    custom = {
        a["Properties"]["MetricName"]
        for a in alarms.values()
        if a["Properties"].get("Namespace") == "Goat"
    }
    assert custom == {"OutboxBacklog", "JobOutboxBacklog", "JobsQueued"}
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "CPUUtilization", "Namespace": "AWS/ECS", "Threshold": 80},
    )


def test_paused_runs_no_tasks() -> None:
    """The first deployment: infrastructure and task definitions, no task running."""
    app = cdk.App()
    stack = GoatStack(
        app,
        "Goat",
        GoatStackProps(goat_image=IMAGE, paused=True, receipts_repository="goat-receipts"),
    )
    template = Template.from_stack(stack)
    services = template.find_resources("AWS::ECS::Service")
    assert [s["Properties"]["DesiredCount"] for s in services.values()] == [0, 0, 0, 0]
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    template.resource_count_is("AWS::ECS::TaskDefinition", 5)


def test_migration_ahead_of_a_release() -> None:
    """`migrateImage`: the `db upgrade` task takes the new image, the services keep theirs."""
    app = cdk.App()
    stack = GoatStack(
        app,
        "Goat",
        GoatStackProps(
            goat_image="registry.example/goat:1",
            migrate_image="registry.example/goat:2",
            receipts_repository="goat-receipts",
        ),
    )
    images = {
        " ".join(container["Command"][:2]): container["Image"]
        for container in containers(Template.from_stack(stack)).values()
    }
    assert images.pop("db upgrade") == "registry.example/goat:2"
    assert set(images.values()) == {"registry.example/goat:1"}
