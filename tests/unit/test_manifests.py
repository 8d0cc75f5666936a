"""The deployment files parse, agree with each other and name only settings the code reads."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.kafka import Topics
from services.common.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
IMAGE = "contacts:0.1.0"
DAY_MS = 86_400_000
# Contract section 1 topics and the retention issue 7 asks for.
RETENTION_MS = {
    "contacts.site-events": 7 * DAY_MS,
    "contacts.site-events.dlq": 14 * DAY_MS,
    "contacts.alerts": 7 * DAY_MS,
    "contacts.export-requests": 1 * DAY_MS,
}


def compose() -> dict[str, Any]:
    """deploy/compose.yaml, merge keys resolved."""
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    """Every YAML document under deploy/k8s/, with its file."""
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                found.append((path, doc))
    return found


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    """(workload name, pod spec) of every Deployment and Job."""
    specs = []
    for _, doc in k8s_documents():
        if doc["kind"] in ("Deployment", "Job"):
            specs.append((doc["metadata"]["name"], doc["spec"]["template"]["spec"]))
    return specs


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [ln.strip() for ln in text.splitlines()]
    return [
        (ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "")
        for ln in lines
        if ln and not ln.startswith("#")
    ]


def dockerfile_env() -> dict[str, str]:
    """The ENV of the Dockerfile (key=value form)."""
    env: dict[str, str] = {}
    for op, args in dockerfile_instructions():
        if op == "ENV":
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def contacts_variables_set() -> dict[str, set[str]]:
    """Every CONTACTS_* variable set anywhere in deploy/, by where."""
    where: dict[str, set[str]] = {}

    def add(name: str, place: str) -> None:
        if name.startswith("CONTACTS_"):
            where.setdefault(name, set()).add(place)

    for name, service in compose()["services"].items():
        for key in service.get("environment") or {}:
            add(key, f"compose:{name}")
    for path, doc in k8s_documents():
        if doc["kind"] == "ConfigMap":
            for key in doc.get("data") or {}:
                add(key, f"{path.name}:ConfigMap")
    for name, spec in pod_specs():
        for container in spec["containers"]:
            for item in container.get("env") or []:
                add(item["name"], f"k8s:{name}")
    for key in dockerfile_env():
        add(key, "Dockerfile")
    return where


def read_directly() -> set[str]:
    """CONTACTS_* names the code reads from os.environ itself, outside Settings."""
    names = set()
    for path in [*(ROOT / "services").rglob("*.py"), *(ROOT / "schemas").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r"os\.environ(?:\.get\(|\[)\s*\"(CONTACTS_[A-Z0-9_]+)\"", text))
    return names


def setting_names() -> set[str]:
    """The environment name of every Settings field."""
    return {"CONTACTS_" + field.upper() for field in Settings.model_fields}


def test_compose_and_every_manifest_parse_as_yaml() -> None:
    doc = compose()
    assert {
        "postgres",
        "kafka",
        "kafka-init",
        "migrate",
        "ingest",
        "profile",
        "export-worker",
    } <= set(doc["services"])
    kinds = {doc["kind"] for _, doc in k8s_documents()}
    assert {
        "Deployment",
        "Service",
        "Job",
        "HorizontalPodAutoscaler",
        "ConfigMap",
        "PersistentVolumeClaim",
    } <= kinds


def test_compose_kubernetes_and_kustomization_use_one_image() -> None:
    services = compose()["services"]
    ours = {n: s for n, s in services.items() if s.get("build")}
    assert set(ours) == {"migrate", "ingest", "profile", "export-worker"}
    assert {s["image"] for s in ours.values()} == {IMAGE}
    assert {s["build"]["dockerfile"] for s in ours.values()} == {"deploy/Dockerfile"}
    images = {c["image"] for _, spec in pod_specs() for c in spec["containers"]}
    assert images == {IMAGE}
    assert {name for name, _ in pod_specs()} == {
        "contacts-migrate",
        "contacts-ingest",
        "contacts-profile",
        "contacts-export-worker",
    }
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_the_code_reads_its_environment_through_settings_only() -> None:
    assert read_directly() == set()


def test_every_contacts_variable_set_is_read_by_the_code() -> None:
    known = setting_names() | read_directly()
    unknown = {name: where for name, where in contacts_variables_set().items() if name not in known}
    assert unknown == {}


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(CONTACTS_[A-Z0-9_]+)`", readme))
    # The table's shorthand "`CONTACTS_HTTP_HOST` / `_PORT`" documents CONTACTS_HTTP_PORT.
    for full, suffix in re.findall(r"`(CONTACTS_[A-Z0-9_]+)`\s*/\s*`(_[A-Z0-9_]+)`", readme):
        documented.add(full.rsplit("_", 1)[0] + suffix)
    assert setting_names() - documented == set()


def test_kafka_init_creates_exactly_the_topics_of_the_code_with_their_retention() -> None:
    init = compose()["services"]["kafka-init"]
    script = "\n".join(init["command"])
    created = dict(re.findall(r"^\s*create\s+(\S+)\s+(\d+)\s*$", script, re.MULTILINE))
    assert sorted(created) == sorted(Topics().all())
    assert {t: int(ms) for t, ms in created.items()} == RETENTION_MS
    assert "--partitions 12" in script and "$$1" in script  # compose escapes the shell's $
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_compose_wires_roles_order_and_shared_exports() -> None:
    services = compose()["services"]

    def env(name: str) -> dict[str, str]:
        return {k: str(v) for k, v in services[name]["environment"].items()}

    assert services["ingest"]["deploy"]["replicas"] == 2
    assert env("migrate")["CONTACTS_DATABASE_URL"].startswith("postgresql://contacts:")
    assert env("ingest")["CONTACTS_DATABASE_URL"].startswith("postgresql://contacts_ingest:")
    for name in ("profile", "export-worker"):
        assert env(name)["CONTACTS_API_DATABASE_URL"].startswith("postgresql://contacts_api:")
        assert env(name)["CONTACTS_EXPORT_DIR"] == "/var/lib/contacts/exports"
        assert any(
            v.startswith("exports:/var/lib/contacts/exports") for v in services[name]["volumes"]
        )
    for name in ("ingest", "profile", "export-worker"):
        assert env(name)["CONTACTS_SECRET"].startswith("${CONTACTS_SECRET:?")
        assert env(name)["CONTACTS_KAFKA_BOOTSTRAP"] == "kafka:9092"
        conditions = {k: v["condition"] for k, v in services[name]["depends_on"].items()}
        assert conditions == {
            "migrate": "service_completed_successfully",
            "kafka-init": "service_completed_successfully",
        }
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(services["profile"]["healthcheck"]["test"])
    # No password is written in the file: each is interpolated from the environment.
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key or key.endswith("_URL"):
                assert "${" in str(value), (name, key)


def test_kubernetes_probes_secrets_resources_and_autoscaler() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for _, d in k8s_documents() if "metadata" in d}
    for name, spec in pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["enableServiceLinks"] is False
        for c in spec["containers"]:
            assert c["resources"]["requests"] and c["resources"]["limits"]
            secret_refs = {
                e["name"]: e["valueFrom"]["secretKeyRef"]["key"]
                for e in c.get("env", [])
                if "valueFrom" in e
            }
            assert secret_refs["CONTACTS_DATABASE_URL"] == (
                "ingest-database-url" if name == "contacts-ingest" else "database-url"
            )
            assert c["envFrom"] == [{"configMapRef": {"name": "contacts-config"}}]
    profile = docs[("Deployment", "contacts-profile")]["spec"]["template"]["spec"]
    container = profile["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    refs = {e["name"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    assert refs == {"CONTACTS_DATABASE_URL", "CONTACTS_API_DATABASE_URL", "CONTACTS_SECRET"}
    hpa = docs[("HorizontalPodAutoscaler", "contacts-profile")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "contacts-profile"
    assert (
        docs[("Service", "contacts-profile")]["spec"]["selector"]
        == (docs[("Deployment", "contacts-profile")]["spec"]["selector"]["matchLabels"])
    )
    pvc = docs[("PersistentVolumeClaim", "contacts-exports")]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    config = docs[("ConfigMap", "contacts-config")]["data"]
    ingest = docs[("Deployment", "contacts-ingest")]["spec"]
    assert ingest["replicas"] <= int(config["CONTACTS_INGEST_PARTITIONS"])
    assert not any(k.endswith(("_URL", "SECRET")) for k in config)  # secrets stay secret


def test_dockerfile_is_multi_stage_non_root_with_the_contacts_entrypoint() -> None:
    steps = dockerfile_instructions()
    froms = [args for op, args in steps if op == "FROM"]
    assert [f.split()[-1] for f in froms] == ["builder", "runtime"]
    args = dict(a.split("=", 1) for op, a in steps if op == "ARG" and "=" in a)
    assert args["PYTHON_IMAGE"] == "python:3.11-slim-bookworm"
    runtime = steps[[op for op, _ in steps].index("FROM", 1) :]
    assert any(op == "COPY" and a.startswith("--from=builder /opt/venv") for op, a in runtime)
    users = [a for op, a in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert dict(steps)["ENTRYPOINT"] == '["contacts"]'
    assert dict(steps)["EXPOSE"] == "8000"
    assert "/healthz" in dict(steps)["HEALTHCHECK"]
    env = dockerfile_env()
    migrations = env["CONTACTS_MIGRATIONS_DIR"]
    assert any(
        op == "COPY" and a.split() == ["deploy/migrations/", migrations + "/"] for op, a in runtime
    )
    assert "--constraint constraints.txt" in " ".join(a for op, a in steps if op == "RUN")
    pinned = (DEPLOY / "constraints.txt").read_text(encoding="utf-8")
    assert "faust-streaming==0.15.3" in pinned and "aiokafka==0.14.0" in pinned


@pytest.mark.parametrize("path", sorted(DEPLOY.glob("sql/*.sh")), ids=lambda p: p.name)
def test_compose_roles_script_is_mounted_into_the_postgres_init_folder(path: Path) -> None:
    volumes = compose()["services"]["postgres"]["volumes"]
    assert f"./sql/{path.name}:/docker-entrypoint-initdb.d/{path.name}:ro" in volumes
