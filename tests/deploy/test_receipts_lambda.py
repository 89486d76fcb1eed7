"""The receipt Lambda's SAM template and image: what they must say to deploy the handler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "deploy" / "receipts-lambda"


class _CloudFormation(yaml.SafeLoader):  # type: ignore[misc]  # untyped base
    """A YAML loader that reads CloudFormation's short tags (``!Ref``, ``!GetAtt``) as values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    return {suffix: loader.construct_sequence(node)}


_CloudFormation.add_multi_constructor("!", _tag)


def _template() -> dict[str, Any]:
    loaded = yaml.load((HERE / "template.yaml").read_text(), Loader=_CloudFormation)
    assert isinstance(loaded, dict)
    return loaded


def test_the_function_is_a_container_image_with_a_private_bucket() -> None:
    """SAM builds the function from the Dockerfile, and it writes to its own blocked bucket."""
    resources = _template()["Resources"]
    function = resources["ReceiptsFunction"]
    bucket = resources["ReceiptsBucket"]["Properties"]

    assert function["Properties"]["PackageType"] == "Image"
    assert (ROOT / function["Metadata"]["Dockerfile"]).is_file()
    assert function["Properties"]["Environment"]["Variables"]["GOAT_S3_BUCKET"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())


def test_the_image_runs_goats_handler_with_weasyprints_libraries() -> None:
    """The image installs pango and fonts, goat with [pdf,s3], and names the handler."""
    dockerfile = (HERE / "Dockerfile").read_text()
    handler = "goat_adapters.pdf.lambda_handler.handler"

    assert "pango" in dockerfile
    assert "dejavu-sans-fonts" in dockerfile
    assert "[pdf,s3]" in dockerfile
    assert f'CMD ["{handler}"]' in dockerfile
    module = ROOT / "src" / (handler.rsplit(".", 1)[0].replace(".", "/") + ".py")
    assert "def handler(" in module.read_text()
