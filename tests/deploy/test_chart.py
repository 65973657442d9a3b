"""The Helm chart, rendered by Helm's own engine (Helm v4's Go SDK through
helm-python-sdk): every standard object checked against the Kubernetes
schemas, the Dapr, Strimzi and Prometheus resources against their documented
fields, and the wiring run for real: the binary started with the rendered
ConfigMap and Secret values against the test PostgreSQL."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

from conftest import (CHART, DB, HERE, LOCAL, PRODUCTION, RELEASE, REPO, deep_merge, free_port, get,
                      kinds, notes, only, post, render, stop, wait_ready)

SCHEMAS = HERE / "schemas"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the
# newest whose schemas kubernetes-validate bundles.
KUBERNETES = ["1.29.0", kubernetes_validate.latest_version()]
CUSTOM = {
    ("dapr.io/v1alpha1", "Component"): "dapr-component.json",
    ("dapr.io/v1alpha1", "Resiliency"): "dapr-resiliency.json",
    ("dapr.io/v1alpha1", "Configuration"): "dapr-configuration.json",
    ("kafka.strimzi.io/v1", "KafkaTopic"): "strimzi-kafkatopic.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.json",
}

RENDERINGS = {
    "defaults": lambda: render(DB),
    "local": lambda: render(file=LOCAL),
    "production": lambda: render(file=PRODUCTION),
}


@pytest.fixture(scope="module", params=sorted(RENDERINGS))
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, RENDERINGS[request.param]()


def test_each_values_file_renders_what_it_asks_for(rendered):
    name, docs = rendered
    always = ["ConfigMap", "Deployment", "Pod", "Service", "ServiceAccount"]
    dapr = ["Component", "Component", "Configuration", "Resiliency"]
    expected = {
        # No database secret given: the chart's Secret, plus the Dapr tokens.
        "defaults": always + dapr + ["PodDisruptionBudget", "Secret", "Secret", "Secret"],
        "local": always + dapr + ["KafkaTopic"] * 4 + ["Secret", "Secret", "Secret"],
        # Existing secrets everywhere: none created.
        "production": always + dapr + ["HorizontalPodAutoscaler", "Ingress"] + ["KafkaTopic"] * 4
        + ["PodDisruptionBudget", "ServiceMonitor"],
    }[name]
    assert kinds(docs) == sorted(expected)


@pytest.mark.parametrize("version", KUBERNETES)
def test_standard_objects_match_the_kubernetes_schemas(rendered, version):
    _, docs = rendered
    standard = [d for d in docs if (d["apiVersion"], d["kind"]) not in CUSTOM]
    assert standard
    for doc in standard:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']} on Kubernetes {version}: {err.message} at {list(err.path)}")


def test_dapr_strimzi_and_prometheus_resources_match_their_documented_fields(rendered):
    _, docs = rendered
    custom = [d for d in docs if (d["apiVersion"], d["kind"]) in CUSTOM]
    assert custom
    for doc in custom:
        schema = json.loads((SCHEMAS / CUSTOM[(doc["apiVersion"], doc["kind"])]).read_text())
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=str)
        assert not errors, f"{doc['kind']} {doc['metadata']['name']}: {[e.message for e in errors]}"


def test_kafka_components_use_documented_metadata_only(rendered):
    _, docs = rendered
    kafka = json.loads((SCHEMAS / "dapr-pubsub-kafka-metadata.json").read_text())
    for component in (d for d in docs if d["kind"] == "Component"):
        assert component["spec"]["type"] == "pubsub.kafka"
        fields = {m["name"]: m for m in component["spec"]["metadata"]}
        unknown = set(fields) - set(kafka["fields"])
        assert not unknown, f"{component['metadata']['name']}: undocumented metadata {unknown}"
        for required in kafka["requiredFields"]:
            assert required in fields, required
        for name, allowed in kafka["enums"].items():
            if name in fields and "value" in fields[name]:
                assert fields[name]["value"] in allowed, (name, fields[name]["value"])
        if "saslPassword" in fields:
            assert "secretKeyRef" in fields["saslPassword"], "the password comes from a secret"
            assert component["auth"]["secretStore"] == "kubernetes"


def test_task_updates_reach_every_replica_and_the_rest_one(rendered):
    """The shared component has a consumer group (one replica per message);
    the broadcast one a consumer per pod and no group (every replica)."""
    _, docs = rendered
    config = only(docs, "ConfigMap")["data"]
    shared = only(docs, "Component", config["DAPR_PUBSUB_NAME"])
    broadcast = only(docs, "Component", config["DAPR_UPDATES_PUBSUB_NAME"])
    shared_meta = {m["name"]: m.get("value") for m in shared["spec"]["metadata"]}
    broadcast_meta = {m["name"]: m.get("value") for m in broadcast["spec"]["metadata"]}
    assert shared_meta["consumerGroup"]
    assert "consumerGroup" not in broadcast_meta
    assert broadcast_meta["consumerID"] == "{podName}"
    assert shared_meta["brokers"] == broadcast_meta["brokers"]
    app_id = only(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]["dapr.io/app-id"]
    for doc in docs:
        if doc["apiVersion"] == "dapr.io/v1alpha1" and doc["kind"] in ("Component", "Resiliency"):
            assert doc["scopes"] == [app_id], doc["metadata"]["name"]
    resiliency = only(docs, "Resiliency")
    targets = resiliency["spec"]["targets"]["components"]
    assert set(targets) == {shared["metadata"]["name"], broadcast["metadata"]["name"]}
    policies = resiliency["spec"]["policies"]
    for target in targets.values():
        for direction in target.values():
            for kind, policy in direction.items():
                assert policy in policies[{"timeout": "timeouts", "retry": "retries", "circuitBreaker": "circuitBreakers"}[kind]]


def test_the_deployment_carries_the_dapr_sidecar_and_the_restricted_profile(rendered):
    name, docs = rendered
    deployment = only(docs, "Deployment")
    pod = deployment["spec"]["template"]
    annotations = pod["metadata"]["annotations"]
    config = only(docs, "ConfigMap")["data"]
    port = pod["spec"]["containers"][0]["ports"][0]["containerPort"]
    assert annotations["dapr.io/enabled"] == "true"
    assert annotations["dapr.io/app-port"] == str(port) == config["PORT"]
    assert annotations["dapr.io/app-protocol"] == "http"
    assert annotations["dapr.io/config"] == only(docs, "Configuration")["metadata"]["name"]
    assert annotations["dapr.io/enable-app-health-check"] == "true"
    assert annotations["dapr.io/app-health-check-path"] == "/healthz"
    assert annotations["dapr.io/log-as-json"] == "true"
    grace = int(annotations["dapr.io/graceful-shutdown-seconds"])
    assert 0 < grace < pod["spec"]["terminationGracePeriodSeconds"]
    for key in ["sidecar-cpu-request", "sidecar-memory-request", "sidecar-cpu-limit", "sidecar-memory-limit"]:
        assert annotations[f"dapr.io/{key}"]
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    for key in ["app-token-secret", "api-token-secret"]:
        secret = annotations[f"dapr.io/{key}"]
        if name == "production":
            assert secret not in secrets, "an existing secret is used, not created"
        else:
            token = base64.b64decode(secrets[secret]["data"]["token"])
            assert len(token) >= 32
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert set(env) >= {"DATABASE_URL", "JWT_SECRET"}
    assert config["TASKSTREAM_ENV"] == "production"
    probes = {kind: container[f"{kind}Probe"]["httpGet"]["path"] for kind in ["startup", "readiness", "liveness"]}
    assert probes == {"startup": "/healthz", "readiness": "/readyz", "liveness": "/healthz"}
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    # Only a read-only root and a small scratch /tmp.
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/tmp"]
    if name != "local":
        spread = {c["topologyKey"] for c in pod["spec"]["topologySpreadConstraints"]}
        assert spread == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        for constraint in pod["spec"]["topologySpreadConstraints"]:
            assert constraint["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_the_helm_test_pod_runs_the_images_health_check_against_the_service(rendered):
    _, docs = rendered
    test_pod = only(docs, "Pod")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    service = only(docs, "Service")
    container = test_pod["spec"]["containers"][0]
    app = only(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == app["image"]
    assert container["args"] == [
        "healthcheck",
        f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/readyz",
    ]
    assert service["spec"]["selector"] == only(docs, "Deployment")["spec"]["selector"]["matchLabels"]


def test_production_values_scale_expose_and_monitor():
    docs = render(file=PRODUCTION)
    deployment = only(docs, "Deployment")
    assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    hpa = only(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu", "memory"}
    assert only(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 2
    ingress = only(docs, "Ingress")
    assert ingress["spec"]["tls"][0]["hosts"] == ["tasks.example.com"]
    monitor = only(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "taskstream-credentials", "key": "database-url"}
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(
        "@sha256:4f6c1e1d0b8a2f3e5d7c9b1a3e5f7d9c1b3a5e7f9d1c3b5a7e9f1d3c5b7a9e1f")
    config = only(docs, "ConfigMap")["data"]
    assert (config["REMINDER_SCHEDULER"], config["DAPR_JOBS_API_VERSION"]) == ("dapr-jobs", "v1.0")
    topics = {t["metadata"]["name"]: t for t in docs if t["kind"] == "KafkaTopic"}
    assert {n: t["spec"]["config"]["retention.ms"] for n, t in topics.items()} == {
        "task-events": 7 * 86_400_000, "reminders": 86_400_000,
        "task-updates": 3_600_000, "activity-logs": 30 * 86_400_000}
    assert all(t["spec"]["partitions"] == 6 and t["metadata"]["namespace"] == "kafka" for t in topics.values())


def test_the_service_monitor_follows_the_cluster_unless_told():
    """Offline, the cluster has no Prometheus operator: no ServiceMonitor
    unless it is asked for; false turns it off even when asked."""
    assert "ServiceMonitor" not in kinds(render(DB))
    forced = deep_merge({"metrics": {"serviceMonitor": {"enabled": True}}}, DB)
    assert "ServiceMonitor" in kinds(render(forced))


def test_a_webhook_ca_bundle_is_mounted_and_named_to_the_service():
    """An internal CA for https webhook receivers: its PEM reaches the pod as
    a read-only file that WEBHOOK_CA_FILE names, and a new bundle rolls the
    pods; without one, nothing is mounted."""
    pem = "-----BEGIN CERTIFICATE-----\nMIIB...internal CA...\n-----END CERTIFICATE-----\n"
    plain = render(DB)
    docs = render(deep_merge({"webhookCaBundle": pem}, DB))
    bundle = only(docs, "ConfigMap", only(plain, "ConfigMap")["metadata"]["name"] + "-webhook-ca")
    assert bundle["data"] == {"ca.pem": pem}
    pod = only(docs, "Deployment")["spec"]["template"]
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "webhook-ca")
    assert mount == {"name": "webhook-ca", "mountPath": "/etc/taskstream/webhook-ca", "readOnly": True}
    assert env["WEBHOOK_CA_FILE"] == f"{mount['mountPath']}/ca.pem"
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "webhook-ca")
    assert volume["configMap"]["name"] == bundle["metadata"]["name"]
    before = only(plain, "Deployment")["spec"]["template"]
    assert pod["metadata"]["annotations"]["checksum/config"] != before["metadata"]["annotations"]["checksum/config"]
    for doc in (bundle, only(docs, "Deployment")):
        kubernetes_validate.validate(doc, KUBERNETES[-1], strict=True)
    assert "WEBHOOK_CA_FILE" not in {e["name"] for e in before["spec"]["containers"][0]["env"]}
    assert [v["name"] for v in before["spec"]["volumes"]] == ["tmp"]


@pytest.mark.parametrize("values, message", [
    ({}, "database.url or database.existingSecret is required"),
    ({"replicaCount": 3, "database": {"url": "sqlite://taskstream.db"}},
     "with more than one replica (replicaCount > 1 or autoscaling) an SQLite file cannot be shared"),
    ({"replicaCount": 1, "autoscaling": {"enabled": True}, "database": {"url": "sqlite:///data/t.db"}},
     "an SQLite file cannot be shared"),
    ({"replicaCount": 1, "database": {"url": "sqlite://taskstream.db"}}, "the chart runs taskstream on PostgreSQL only"),
    ({**DB, "jwt": {"secret": "short"}}, "jwt.secret must be at least 16 bytes long"),
    ({**DB, "dapr": {"enabled": False, "jobs": {"enabled": True}}}, "dapr.jobs.enabled needs dapr.enabled"),
    ({**DB, "dapr": {"pubsub": {"authType": "password"}}}, "needs dapr.pubsub.sasl.username and dapr.pubsub.sasl.passwordSecret"),
    ({**DB, "dapr": {"pubsub": {"broadcastName": ""}}}, "every replica must receive every task-updates message"),
    ({**DB, "terminationGracePeriodSeconds": 10}, "terminationGracePeriodSeconds must exceed"),
    ({**DB, "kafkaTopics": {"enabled": True}, "config": {"dedupRetentionHours": 24}},
     "config.dedupRetentionHours (24 h) must cover the retention of topic task-events"),
    # The schema: misspelt keys, wrong types and out-of-range values.
    ({**DB, "config": {"logLevl": "debug"}}, "additional properties 'logLevl' not allowed"),
    ({**DB, "replicaCount": 0}, "minimum"),
    ({**DB, "dapr": {"jobs": {"apiVersion": "v2"}}}, "v1.0-alpha1"),
    ({**DB, "image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
])
def test_invalid_values_are_refused_with_the_charts_message(values, message):
    with pytest.raises(helm.HelmError) as err:
        render(values)
    assert message in str(err.value), str(err.value)


def test_every_value_is_typed_and_described():
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(node: dict, value, path: str):
        assert "description" in node or path == "", f"{path} has no description"
        if "object" in node.get("type", []) and node.get("properties"):
            assert node.get("additionalProperties") is False, f"{path} accepts unknown keys"
            if isinstance(value, dict):
                missing = set(value) - set(node["properties"])
                assert not missing, f"{path}: {missing} not in the schema"
            for key, child in node["properties"].items():
                walk(child, (value or {}).get(key) if isinstance(value, dict) else None, f"{path}.{key}")
        else:
            assert "type" in node or "pattern" in node, f"{path} has no type"

    walk(schema, values, "")
    # And the chart's own lint, strict: warnings are failures.
    report = helm.lint(str(CHART), DB, strict=True)
    assert not [m for m in report["messages"] if m["severity"] >= 2], report


def test_every_setting_in_the_configmap_is_one_the_service_reads():
    settings = (REPO / "src" / "settings.rs").read_text()
    known = set(re.findall(r'^\s+"([A-Z_]+)",$', settings.split("const ENV_KEYS")[1].split("];")[0], re.M))
    readme = (REPO / "README.md").read_text()
    def sample(node: dict):
        if "enum" in node:
            return next(v for v in node["enum"] if v is not None)
        if "string" in node["type"]:
            return "https://tasks.example.com" if "pattern" in node else "example"
        return 1

    schema = json.loads((CHART / "values.schema.json").read_text())
    every_setting = {k: sample(node) for k, node in schema["properties"]["config"]["properties"].items()}
    everything = deep_merge(yaml.safe_load((CHART / "values.yaml").read_text()),
                            {"config": every_setting, "dapr": {"jobs": {"enabled": True}}, **DB})
    data = only(render(everything), "ConfigMap")["data"]
    unknown = set(data) - known
    assert not unknown, f"settings the service does not read: {unknown}"
    for key in data:
        assert f"`{key}`" in readme, f"{key} is missing from the README's configuration table"


def test_notes_say_how_to_reach_and_check_the_service():
    text = notes(DB)
    # The release is named like the chart, so the full name is the release's.
    assert f"port-forward service/{RELEASE}" in text
    assert f"helm test {RELEASE}" in text
    with_ingress = notes(deep_merge({"ingress": {"enabled": True, "tls": [{"secretName": "t", "hosts": ["tasks.example.com"]}]}}, DB))
    assert "https://tasks.example.com/" in with_ingress


# --- the wiring, run for real --------------------------------------------------

def container_env(docs: list[dict], secrets: dict[str, dict[str, str]], pod_name: str) -> dict[str, str]:
    """The environment Kubernetes gives the container: envFrom ConfigMaps,
    then env values, fieldRefs and secretKeyRefs (a missing secret or key
    fails, as the kubelet would)."""
    container = only(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(only(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "fieldRef" in item["valueFrom"]:
            assert item["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
            env[item["name"]] = pod_name
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secrets[ref["name"]][ref["key"]]
    return env


def chart_secrets(docs: list[dict]) -> dict[str, dict[str, str]]:
    return {d["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in d["data"].items()}
            for d in docs if d["kind"] == "Secret"}


@pytest.mark.parametrize("setup", ["defaults", "production"])
def test_the_rendered_configuration_starts_the_service(setup, binary, postgres_database, tmp_path):
    port = free_port()
    if setup == "defaults":
        docs = render({"containerPort": port, "database": {"url": postgres_database}})
        secrets = chart_secrets(docs)
    else:
        docs = render({"containerPort": port}, file=PRODUCTION)
        secrets = {"taskstream-credentials": {"database-url": postgres_database,
                                              "jwt-secret": "a-production-signing-key-of-32-bytes"}}
    annotations = only(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    app_token = secrets.get(annotations["dapr.io/app-token-secret"], {}).get("token", "token-from-dapr")
    env = container_env(docs, secrets, pod_name="taskstream-5d8f7c9b6-x2x7q")
    # What the Dapr injector adds: the tokens and the sidecar's port (nothing
    # listens there: publishing waits in the outbox).
    env.update({"APP_API_TOKEN": app_token, "DAPR_API_TOKEN": "app-to-dapr", "DAPR_HTTP_PORT": str(free_port()),
                "PATH": "/usr/bin:/bin"})
    assert env["TASKSTREAM_ENV"] == "production" and env["HOST"] == "0.0.0.0"
    process = subprocess.Popen([str(binary)], cwd=tmp_path, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, f"{base}/readyz")
        status, _, body = get(f"{base}/dapr/subscribe")
        assert status == 200
        subscriptions = {s["topic"]: s["pubsubname"] for s in json.loads(body)}
        components = {d["metadata"]["name"] for d in docs if d["kind"] == "Component"}
        assert subscriptions[env["TOPIC_TASK_UPDATES"]] == env["DAPR_UPDATES_PUBSUB_NAME"] == "pubsub-kafka-broadcast"
        assert subscriptions[env["TOPIC_TASK_EVENTS"]] == subscriptions[env["TOPIC_REMINDERS"]] == "pubsub-kafka"
        assert set(subscriptions.values()) == components, "every subscription names a rendered component"
        # Dapr's routes want the injected app token.
        status, _, _ = post(f"{base}/api/events/task-events", b"{}")
        assert status == 401, "a delivery without the token is refused"
        status, _, body = post(f"{base}/api/events/task-events", b"{}", {"dapr-api-token": app_token})
        assert (status, json.loads(body)["status"]) == (200, "DROP"), "with it, Dapr is answered"
        # Accounts work: JWT_SECRET came through.
        status, _, body = post(f"{base}/api/auth/signup", json.dumps(
            {"email": "ops@example.com", "password": "correct horse battery", "name": "Ops"}).encode())
        assert status == 201, body
        token = json.loads(body)["token"]
        status, _, body = get(f"{base}/api/auth/me", {"Authorization": f"Bearer {token}"})
        assert (status, json.loads(body)["email"]) == (200, "ops@example.com")
        assert get(f"{base}/metrics")[0] == 200
    finally:
        code, out, err = stop(process)
    assert code == 0, err
    listening = [line for line in map(json.loads, out.splitlines()) if line["msg"] == "listening"]
    assert listening and listening[0]["env"] == "production", out
    assert listening[0]["instance"] == "taskstream-5d8f7c9b6-x2x7q", "the pod name is the instance id"
    assert listening[0]["database"] == "Postgres"
