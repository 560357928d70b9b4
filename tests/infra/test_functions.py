"""Lambda functions and the runtime layer: arm64, Python 3.12, the layer, tracing, JSON logs."""

from __future__ import annotations

from pathlib import Path

from aws_cdk.assertions import Template

from infra.stack import NasStack
from tests.infra.conftest import resources


def test_every_function_runs_on_arm64_python_312_with_the_runtime_layer(template: Template) -> None:
    [layer_id] = resources(
        template, "AWS::Lambda::LayerVersion", {"Properties": {"CompatibleArchitectures": ["arm64"]}}
    )
    functions = resources(template, "AWS::Lambda::Function")
    assert functions
    for logical_id, function in functions.items():
        props = function["Properties"]
        assert props["Architectures"] == ["arm64"], logical_id
        assert props["Runtime"] == "python3.12", logical_id
        assert {"Ref": layer_id} in props["Layers"], logical_id
        assert props["TracingConfig"] == {"Mode": "Active"}, logical_id
        assert props["LoggingConfig"]["LogFormat"] == "JSON", logical_id
        assert props["Environment"]["Variables"]["NAS_STAGE"] == "dev", logical_id


def test_api_function_serves_the_api_handler(template: Template) -> None:
    api = [
        f for lid, f in resources(template, "AWS::Lambda::Function").items() if lid.startswith("RuntimeApi")
    ]
    assert [f["Properties"]["Handler"] for f in api] == ["handlers.api.lambda_handler"]


def test_function_code_holds_only_the_handlers(stack: NasStack) -> None:
    # The runtime package ships in the layer; shipping it twice would let the two copies drift.
    outdir = Path(stack.node.root.outdir)  # type: ignore[attr-defined]
    staged = [p for p in outdir.glob("asset.*") if (p / "handlers").is_dir()]
    assert staged
    for asset in staged:
        assert (asset / "handlers" / "api.py").is_file()
        assert not (asset / "nas").exists()
