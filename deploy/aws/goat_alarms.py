"""CloudWatch alarms to one SNS topic: API CPU, the load balancer's 5xx, and goat's own
backlogs.

goat's backlogs are custom metrics in the ``Goat`` namespace (docs/deploy.md), the same
numbers as the Prometheus gauges of ``/metrics``:

============================  ==================================  ======================
metric (namespace ``Goat``)   Prometheus gauge                    alarm
============================  ==================================  ======================
``OutboxBacklog``             ``goat_outbox_backlog``             > 0 for 10 minutes
``JobOutboxBacklog``          ``goat_job_outbox_backlog``         > 0 for 10 minutes
``JobsQueued``                ``goat_jobs{state="queued"}``       > 100 for 10 minutes
============================  ==================================  ======================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

if TYPE_CHECKING:
    from goat_services import GoatServices

NAMESPACE = "Goat"


class GoatAlarms(Construct):
    """The alarms and their topic (an email subscription when ``alarmEmail`` is set)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        services: GoatServices,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", display_name="goat alarms")
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        action = cw_actions.SnsAction(self.topic)

        def alarm(name: str, description: str, **kwargs: object) -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(self, name, alarm_description=description, **kwargs)  # type: ignore[arg-type]
            created.add_alarm_action(action)
            created.add_ok_action(action)
            return created

        alarm(
            "ApiCpu",
            "goat api: CPU above 80% for 5 minutes (scaling is not keeping up)",
            metric=services.api.service.metric_cpu_utilization(period=Duration.minutes(1)),
            threshold=80,
            evaluation_periods=5,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        load_balancer = services.api.load_balancer.metrics
        alarm(
            "Alb5xx",
            "goat api: 5xx answers (from the APIs or the load balancer itself)",
            metric=cloudwatch.MathExpression(
                expression="FILL(target, 0) + FILL(elb, 0)",
                using_metrics={
                    "target": load_balancer.http_code_target(
                        elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=Duration.minutes(1)
                    ),
                    "elb": load_balancer.http_code_elb(
                        elbv2.HttpCodeElb.ELB_5XX_COUNT, period=Duration.minutes(1)
                    ),
                },
                label="5xx",
                period=Duration.minutes(1),
            ),
            threshold=5,
            evaluation_periods=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for name, threshold, description in (
            ("OutboxBacklog", 0, "messages waiting to be published: broker gone, or no relay"),
            ("JobOutboxBacklog", 0, "jobs not handed to Redis: Redis is down"),
            ("JobsQueued", 100, "the rq queue keeps growing: add workers"),
        ):
            alarm(
                name,
                f"goat {name}: {description}",
                metric=cloudwatch.Metric(
                    namespace=NAMESPACE,
                    metric_name=name,
                    statistic="Maximum",
                    period=Duration.minutes(1),
                ),
                threshold=threshold,
                evaluation_periods=10,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                # nothing published is not a backlog (the publisher's own health is elsewhere)
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
