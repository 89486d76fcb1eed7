"""goat's AWS stack: network, data, secrets and receipts here; processes in ``goat_services``,
alarms in ``goat_alarms``.

Everything goat keeps lives in RDS PostgreSQL; ElastiCache Redis holds the job queue;
the receipts bucket holds PDFs. The goat image is taken from a registry (never built
here), so ``cdk synth`` needs no Docker engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CfnOutput, Duration, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct
from goat_alarms import GoatAlarms
from goat_services import GoatServices

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]

# characters that would need escaping in a URL, kept out of generated passwords
URL_UNSAFE = " %+~`#$&*()|[]{}:;<>?!'/@\"\\,="


@dataclass(frozen=True)
class GoatStackProps:
    """What differs between installations (cdk context values, docs/deploy.md)."""

    goat_image: str  # e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/goat:1.4.0
    migrate_image: str | None = None  # the `db upgrade` task's, ahead of a release
    receipts_repository: str | None = None  # ECR repository of the receipts Lambda image
    receipts_image_tag: str = "latest"
    alarm_email: str | None = None
    group_id: str = "15"
    webpay_env: str = "integration"  # Transbank's test commerce until the secret holds yours
    public_url: str | None = None
    auth_issuer: str | None = None
    auth_audience: str | None = None
    cors_origins: str | None = None
    paused: bool = False  # every service at 0 tasks: the first deployment (docs/deploy.md)


@dataclass(frozen=True)
class GoatSecrets:
    """Secrets Manager secrets the tasks read as environment secrets."""

    database: secretsmanager.ISecret  # RDS's generated secret: username, password, host...
    smtp: secretsmanager.Secret  # {"url": "smtp://user:pass@host:587"}
    webpay: secretsmanager.Secret  # {"commerce_code": ..., "api_key": ...}
    mqtt: secretsmanager.Secret  # {"url": "mqtt://user:pass@broker:9000"}


class GoatStack(Stack):
    """VPC, RDS PostgreSQL, ElastiCache Redis, receipts bucket and Lambda, ECS services,
    alarms to one SNS topic."""

    def __init__(
        self, scope: Construct, construct_id: str, props: GoatStackProps, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]

        # two availability zones: public subnets for the load balancer and the NAT gateway
        # (the course broker and Auth0 are on the internet), private ones for the rest
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ),
            ],
        )
        # every goat task: the database and Redis let this group in
        self.tasks_sg = ec2.SecurityGroup(
            self, "TasksSecurityGroup", vpc=self.vpc, description="goat ECS tasks"
        )

        self.database = self._database()
        self.redis_url = self._redis()
        self.secrets = self._secrets()
        self.receipts_bucket = self._receipts_bucket()
        self.receipts_function = self._receipts_function(props)

        self.services = GoatServices(
            self,
            "Services",
            vpc=self.vpc,
            security_group=self.tasks_sg,
            image=props.goat_image,
            migrate_image=props.migrate_image,
            environment=self._environment(props),
            secrets=self.secrets,
            receipts_bucket=self.receipts_bucket,
            paused=props.paused,
        )
        self.alarms = GoatAlarms(
            self, "Alarms", services=self.services, alarm_email=props.alarm_email
        )

        CfnOutput(self, "ReceiptsBucketName", value=self.receipts_bucket.bucket_name)
        CfnOutput(self, "ReceiptsFunctionName", value=self.receipts_function.function_name)
        CfnOutput(self, "DatabaseSecretArn", value=self.secrets.database.secret_arn)
        # what `aws ecs run-task` needs for the one-off `db upgrade` (docs/deploy.md)
        CfnOutput(self, "TasksSecurityGroupId", value=self.tasks_sg.security_group_id)
        private = self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        CfnOutput(self, "PrivateSubnetIds", value=",".join(private.subnet_ids))

    def _database(self) -> rds.DatabaseInstance:
        """PostgreSQL 16, Multi-AZ, encrypted; its password generated into Secrets Manager."""
        database = rds.DatabaseInstance(
            self,
            "Database",
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_16),
            instance_type=ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM),
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            multi_az=True,
            database_name="goat",
            credentials=rds.Credentials.from_generated_secret(
                "goat", exclude_characters=URL_UNSAFE
            ),
            storage_encrypted=True,
            allocated_storage=20,
            max_allocated_storage=100,
            backup_retention=Duration.days(7),
            deletion_protection=True,
            removal_policy=RemovalPolicy.SNAPSHOT,
        )
        database.connections.allow_default_port_from(self.tasks_sg, "goat tasks")
        return database

    def _redis(self) -> str:
        """ElastiCache Redis (primary and replica, TLS): the job queue. Answers its URL."""
        redis_sg = ec2.SecurityGroup(self, "RedisSecurityGroup", vpc=self.vpc)
        redis_sg.add_ingress_rule(self.tasks_sg, ec2.Port.tcp(6379), "goat tasks")
        subnets = elasticache.CfnSubnetGroup(
            self,
            "RedisSubnets",
            description="goat's Redis",
            subnet_ids=self.vpc.select_subnets(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
            ).subnet_ids,
        )
        redis = elasticache.CfnReplicationGroup(
            self,
            "Redis",
            replication_group_description="goat's job queue (rq)",
            engine="redis",
            engine_version="7.1",
            cache_node_type="cache.t4g.small",
            num_cache_clusters=2,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            at_rest_encryption_enabled=True,
            transit_encryption_enabled=True,
            cache_subnet_group_name=subnets.ref,
            security_group_ids=[redis_sg.security_group_id],
        )
        return (
            f"rediss://{redis.attr_primary_end_point_address}:{redis.attr_primary_end_point_port}/0"
        )

    def _secrets(self) -> GoatSecrets:
        """The database's generated secret, and three secrets the operator fills in
        (``aws secretsmanager put-secret-value``): they start with empty values."""
        assert self.database.secret is not None

        def placeholder(
            name: str, keys: tuple[str, ...], description: str
        ) -> secretsmanager.Secret:
            return secretsmanager.Secret(
                self,
                name,
                secret_name=f"{self.stack_name}/{name.removesuffix('Secret').lower()}",
                description=description,
                secret_object_value={key: SecretValue.unsafe_plain_text("") for key in keys},
            )

        return GoatSecrets(
            database=self.database.secret,
            smtp=placeholder(
                "SmtpSecret", ("url",), "goat GOAT_SMTP_URL: smtp://user:pass@host:587"
            ),
            webpay=placeholder(
                "WebpaySecret",
                ("commerce_code", "api_key"),
                "goat GOAT_WEBPAY_COMMERCE_CODE and GOAT_WEBPAY_API_KEY",
            ),
            mqtt=placeholder(
                "MqttSecret", ("url",), "goat GOAT_MQTT_URL: mqtt://user:pass@host:port"
            ),
        )

    def _receipts_bucket(self) -> s3.Bucket:
        """Private, encrypted, public access blocked, TLS only; kept when the stack goes."""
        return s3.Bucket(
            self,
            "ReceiptsBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _receipts_function(self, props: GoatStackProps) -> lambda_.DockerImageFunction:
        """The receipt renderer (deploy/receipts-lambda): from an ECR repository when
        ``receiptsRepository`` is set, else built from its Dockerfile (needs Docker)."""
        if props.receipts_repository:
            repository = ecr.Repository.from_repository_name(
                self, "ReceiptsRepository", props.receipts_repository
            )
            code = lambda_.DockerImageCode.from_ecr(
                repository, tag_or_digest=props.receipts_image_tag
            )
        else:
            code = lambda_.DockerImageCode.from_image_asset(
                str(REPOSITORY_ROOT),
                file="deploy/receipts-lambda/Dockerfile",
                exclude=["deploy/aws/cdk.out"],  # with the repository's .dockerignore
            )
        function = lambda_.DockerImageFunction(
            self,
            "ReceiptsFunction",
            code=code,
            memory_size=1024,  # weasyprint renders a receipt in ~60 ms warm with 1 GB
            timeout=Duration.seconds(30),
            architecture=lambda_.Architecture.X86_64,
            environment={"GOAT_S3_BUCKET": self.receipts_bucket.bucket_name},
        )
        self.receipts_bucket.grant_read_write(function)
        # only signed (IAM) callers: receipts carry names and emails
        url = function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.AWS_IAM)
        CfnOutput(self, "ReceiptsFunctionUrl", value=url.url)
        return function

    def _environment(self, props: GoatStackProps) -> dict[str, str]:
        """Plain settings shared by every goat task (README, "Settings"); the database
        password comes separately, as PGPASSWORD (libpq reads it), from its secret."""
        endpoint = self.database.db_instance_endpoint_address
        port = self.database.db_instance_endpoint_port
        environment = {
            "GOAT_DATABASE_URL": f"postgresql://goat@{endpoint}:{port}/goat",
            "GOAT_REDIS_URL": self.redis_url,
            "GOAT_JOBS_URL": "http://jobs.goat.internal:8001",
            "GOAT_GROUP_ID": props.group_id,
            "GOAT_WEBPAY_ENV": props.webpay_env,
            # the load balancer, inside the VPC, says who the buyer is (X-Forwarded-For)
            "GOAT_TRUSTED_PROXIES": self.vpc.vpc_cidr_block,
            "GOAT_LOG_FORMAT": "json",
            "GOAT_S3_BUCKET": self.receipts_bucket.bucket_name,
        }
        optional = {
            "GOAT_PUBLIC_URL": props.public_url,
            "GOAT_AUTH_ISSUER": props.auth_issuer,
            "GOAT_AUTH_AUDIENCE": props.auth_audience,
            "GOAT_CORS_ORIGINS": props.cors_origins,
        }
        environment.update({name: value for name, value in optional.items() if value})
        return environment
