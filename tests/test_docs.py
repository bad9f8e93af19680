"""The README's generated tables match the code, and the outputs contract is what the program exports."""

from __future__ import annotations

import pytest

from components.contract import STACK_OUTPUTS, WORKER_OUTPUTS, WORKLOAD_OUTPUTS
from tests.support import ROOT, program, shipped
from tools import docs


def test_readme_tables_match_the_code() -> None:
    text = (ROOT / "README.md").read_text()
    assert docs.render(text) == text, "README.md's generated tables are stale: run `python3 dev.py docs`"


def test_every_setting_is_described() -> None:
    from settings import JobSettings, ServiceSettings, Settings, WorkerSettings

    def walk(model: type, path: str) -> list[str]:
        missing = []
        for name, info in model.model_fields.items():
            key = f"{path}{info.alias or name}"
            if not info.description:
                missing.append(key)
            inner = docs._model_of(info.annotation)
            if inner is not None:
                missing += walk(inner, key + ".")
        return missing

    assert walk(Settings, "") + walk(ServiceSettings, "services[].") + walk(JobSettings, "jobs[].") + walk(
        WorkerSettings, "workers[].") == []


def test_a_changed_description_is_caught() -> None:
    text = (ROOT / "README.md").read_text()
    stale = text.replace("tagged images kept by the lifecycle policy", "tagged images kept")
    assert stale != text and docs.render(stale) == text


def test_the_check_command_says_what_to_run(tmp_path, monkeypatch, capsys) -> None:
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text().replace("ECR repository name", "the repo"))
    monkeypatch.setattr(docs, "README", readme)
    assert docs.main([]) == 1
    assert "run `python3 dev.py docs`" in capsys.readouterr().err
    assert docs.main(["--write"]) == 0 and docs.main([]) == 0


@pytest.mark.parametrize("mode", ["preview", "up"])
def test_the_program_exports_exactly_the_contract(mode: str) -> None:
    run = shipped("prod", mode)
    assert list(run.outputs) == [o.name for o in STACK_OUTPUTS]
    workloads = [*run.outputs["jobs"].values(), *run.outputs["services"].values()]
    assert workloads and all(list(w) == [o.name for o in WORKLOAD_OUTPUTS] for w in workloads)
    assert run.outputs["workers"] == {}


def test_a_worker_exports_the_workload_shape_and_its_queues() -> None:
    img = {"public": "public.ecr.aws/docker/library/python:3.12-slim"}
    run = program({"workers": [{"name": "w", "image": img, "autoscaling": {"max": 2}}]})
    assert list(run.outputs["workers"]["w"]) == [o.name for o in (*WORKLOAD_OUTPUTS, *WORKER_OUTPUTS)]


def test_exports_refuse_a_key_outside_the_contract() -> None:
    from components.contract import export_outputs

    with pytest.raises(ValueError, match=r"extra \['extra'\]"):
        export_outputs({**{o.name: None for o in STACK_OUTPUTS}, "extra": 1})
    assert program({}).outputs["jobs"] == {}
