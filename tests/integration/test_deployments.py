"""deployments/: every prefect.yaml entrypoint resolves to a flow; serve.py builds the same deployments."""
import importlib.util
from pathlib import Path

import yaml
from prefect import Flow

ROOT = Path(__file__).resolve().parents[2]


def load_entrypoint(entrypoint: str):
    path, name = entrypoint.split(":")
    spec = importlib.util.spec_from_file_location(f"entry_{Path(path).stem}", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def test_prefect_yaml_entrypoints_are_flows():
    config = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    names = []
    for deployment in config["deployments"]:
        flow = load_entrypoint(deployment["entrypoint"])
        assert isinstance(flow, Flow), deployment["entrypoint"]
        assert set(deployment["parameters"]) <= set(flow.parameters.properties), deployment["name"]
        assert (ROOT / deployment["parameters"]["setup"]).is_file()
        names.append(deployment["name"])
    assert names == ["nightly-backtest", "hourly-walker", "live-on-demand", "optimizer-on-demand"]


def test_serve_builds_the_same_deployments():
    spec = importlib.util.spec_from_file_location("btk_serve", ROOT / "deployments" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = {d.name: d for d in module.deployments()}
    assert set(built) == {"nightly-backtest", "hourly-walker", "live-on-demand", "optimizer-on-demand"}
    assert built["nightly-backtest"].schedules and built["hourly-walker"].schedules
    assert not built["live-on-demand"].schedules and not built["optimizer-on-demand"].schedules
