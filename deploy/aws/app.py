"""goat on AWS: the CDK app (``cdk deploy -c goatImage=...``; docs/deploy.md, "AWS")."""

from __future__ import annotations

import os

import aws_cdk as cdk
from goat_stack import GoatStack, GoatStackProps

app = cdk.App()


def context(name: str) -> str | None:
    value = app.node.try_get_context(name)
    return str(value) if value else None


image = context("goatImage")
if image is None:
    raise SystemExit("set the goat image: cdk deploy -c goatImage=<registry>/goat:<tag>")

GoatStack(
    app,
    context("stackName") or "Goat",
    GoatStackProps(
        goat_image=image,
        migrate_image=context("migrateImage"),
        receipts_repository=context("receiptsRepository"),
        receipts_image_tag=context("receiptsImageTag") or "latest",
        alarm_email=context("alarmEmail"),
        group_id=context("groupId") or "15",
        webpay_env=context("webpayEnv") or "integration",
        public_url=context("publicUrl"),
        auth_issuer=context("authIssuer"),
        auth_audience=context("authAudience"),
        cors_origins=context("corsOrigins"),
        paused=context("paused") in ("true", "1", "yes"),
    ),
    # the account and region of the AWS credentials cdk runs with
    env=cdk.Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
    ),
)
app.synth()
