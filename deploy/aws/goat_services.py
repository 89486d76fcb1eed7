"""goat's processes as ECS Fargate services, all from the one image; the subcommand is the
container's command (the image's entry point is ``goat``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ecs_patterns as ecs_patterns
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

if TYPE_CHECKING:
    from goat_stack import GoatSecrets

ECR_IMAGE = re.compile(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+):([^:@]+)")


def probe(port: int, path: str) -> ecs.HealthCheck:
    """A container health check the slim image can run (python, no curl)."""
    code = f"import urllib.request as u; u.urlopen('http://127.0.0.1:{port}{path}', timeout=3)"
    return ecs.HealthCheck(
        command=["CMD", "python", "-c", code],
        interval=Duration.seconds(10),
        timeout=Duration.seconds(5),
        retries=3,
        start_period=Duration.seconds(30),
    )


def container_image(scope: Construct, name: str, image: str) -> ecs.ContainerImage:
    """The goat image by reference (never built here). An ECR image
    (``ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME:TAG``) through its repository, so the
    tasks are granted the pull; any other registry as is (public, or give the tasks
    credentials)."""
    found = ECR_IMAGE.fullmatch(image)
    if found is None:
        return ecs.ContainerImage.from_registry(image)
    account, region, name, tag = found.groups()
    repository = ecr.Repository.from_repository_arn(
        scope, name, f"arn:aws:ecr:{region}:{account}:repository/{name}"
    )
    return ecs.ContainerImage.from_ecr_repository(repository, tag)


class GoatServices(Construct):
    """``api`` behind an ALB, ``listener`` ×2, ``jobs``, ``worker`` ×2, and the one-off
    ``db upgrade`` task definition."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        image: str,
        migrate_image: str | None = None,
        environment: dict[str, str],
        secrets: GoatSecrets,
        receipts_bucket: s3.IBucket,
        paused: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self._image = container_image(self, "GoatRepository", image)
        self._environment = environment
        self._secrets = {
            "PGPASSWORD": ecs.Secret.from_secrets_manager(secrets.database, "password"),
            "GOAT_MQTT_URL": ecs.Secret.from_secrets_manager(secrets.mqtt, "url"),
            "GOAT_SMTP_URL": ecs.Secret.from_secrets_manager(secrets.smtp, "url"),
            "GOAT_WEBPAY_COMMERCE_CODE": ecs.Secret.from_secrets_manager(
                secrets.webpay, "commerce_code"
            ),
            "GOAT_WEBPAY_API_KEY": ecs.Secret.from_secrets_manager(secrets.webpay, "api_key"),
        }
        self._bucket = receipts_bucket
        # paused: every service at 0 tasks (the first deployment, before the secrets are
        # filled in and `db upgrade` has run: docs/deploy.md)
        self._scale = 0 if paused else 1
        self._security_groups = [security_group]
        # the APIs reach the jobs service at jobs.goat.internal:8001
        security_group.add_ingress_rule(security_group, ec2.Port.tcp(8001), "goat jobs")

        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
            default_cloud_map_namespace=ecs.CloudMapNamespaceOptions(
                name="goat.internal", type=servicediscovery.NamespaceType.DNS_PRIVATE, vpc=vpc
            ),
        )

        # api: stateless, two or more behind the load balancer
        api_task = self._task(
            "Api",
            ["api", "--host", "0.0.0.0", "--port", "8000"],  # noqa: S104 (inside the task)
            port=8000,
            health=probe(8000, "/health"),
        )
        self.api = ecs_patterns.ApplicationLoadBalancedFargateService(
            self,
            "Api",
            cluster=self.cluster,
            task_definition=api_task,
            desired_count=2,
            public_load_balancer=True,
            security_groups=self._security_groups,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=100,  # a release starts new tasks before stopping old ones
        )
        self.api.target_group.configure_health_check(
            path="/health", healthy_http_codes="200", interval=Duration.seconds(15)
        )
        if paused:  # the pattern refuses a desired count of 0: set it on the resource
            service = self.api.service.node.default_child
            assert isinstance(service, ecs.CfnService)
            service.desired_count = 0
        else:
            scaling = self.api.service.auto_scale_task_count(min_capacity=2, max_capacity=8)
            scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=60)
            scaling.scale_on_request_count(
                "Requests", requests_per_target=500, target_group=self.api.target_group
            )

        # listener: two for availability; one relay publishes at a time (a database lease)
        listener_task = self._task(
            "Listener",
            ["listener"],
            port=9100,
            health=probe(9100, "/ready"),
            extra={"GOAT_LISTENER_PORT": "9100"},
        )
        self.listener = self._service("Listener", listener_task, desired_count=2)

        # jobs: the jobs service, found by the APIs through Cloud Map
        jobs_task = self._task(
            "Jobs",
            ["jobs", "--host", "0.0.0.0", "--port", "8001"],  # noqa: S104 (inside the task)
            port=8001,
            health=probe(8001, "/heartbeat"),
        )
        self.jobs = self._service(
            "Jobs",
            jobs_task,
            desired_count=1,
            cloud_map=ecs.CloudMapOptions(name="jobs", container_port=8001),
        )

        # worker: rq workers, /health and /metrics on 9102; scaled by hand for now
        worker_task = self._task(
            "Worker",
            ["worker"],
            port=9102,
            health=probe(9102, "/health"),
            extra={"GOAT_WORKER_PORT": "9102"},
        )
        self.worker = self._service("Worker", worker_task, desired_count=2)

        # db upgrade: run once per release, before the services take the new image (which
        # the migration may run ahead of: `migrate_image`, docs/deploy.md)
        self.migrate_task = self._task(
            "Migrate",
            ["db", "upgrade"],
            image=container_image(self, "MigrateRepository", migrate_image)
            if migrate_image and migrate_image != image
            else None,
        )
        CfnOutput(self, "MigrateTaskDefinition", value=self.migrate_task.task_definition_arn)
        CfnOutput(self, "ClusterName", value=self.cluster.cluster_name)

    def _task(
        self,
        name: str,
        command: list[str],
        *,
        port: int | None = None,
        health: ecs.HealthCheck | None = None,
        extra: dict[str, str] | None = None,
        image: ecs.ContainerImage | None = None,
    ) -> ecs.FargateTaskDefinition:
        task = ecs.FargateTaskDefinition(self, f"{name}Task", cpu=512, memory_limit_mib=1024)
        task.add_container(
            "goat",
            image=image or self._image,
            command=command,
            environment={**self._environment, **(extra or {})},
            secrets=self._secrets,
            port_mappings=[ecs.PortMapping(container_port=port)] if port else None,
            health_check=health,
            logging=ecs.LogDriver.aws_logs(
                stream_prefix=name.lower(),
                log_group=logs.LogGroup(
                    self, f"{name}Logs", retention=logs.RetentionDays.ONE_MONTH
                ),
            ),
        )
        self._bucket.grant_read_write(task.task_role)
        return task

    def _service(
        self,
        name: str,
        task: ecs.FargateTaskDefinition,
        *,
        desired_count: int,
        cloud_map: ecs.CloudMapOptions | None = None,
    ) -> ecs.FargateService:
        return ecs.FargateService(
            self,
            name,
            cluster=self.cluster,
            task_definition=task,
            desired_count=desired_count * self._scale,
            security_groups=self._security_groups,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=100,  # a release starts new tasks before stopping old ones
            cloud_map_options=cloud_map,
        )
