"""One typed settings object for every hookstream process.

Sources, later ones winning: the field defaults, an optional TOML file (path in
``HOOKSTREAM_CONFIG``, or passed explicitly), then environment variables
``HOOKSTREAM_<FIELD>``. A few fields also answer to the conventional names that
operators already export for their clusters (``KAFKA_BOOTSTRAP_SERVERS``,
``CLICKHOUSE_URL``). Every knob has a safe default, so an empty environment
runs ``hookstream dev``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

ENV_PREFIX = "HOOKSTREAM_"
CONFIG_FILE_ENV = "HOOKSTREAM_CONFIG"


def _knob(default: Any, doc: str, *aliases: str) -> Any:
    return field(default=default, metadata={"doc": doc, "aliases": aliases})


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = _knob(
        Path(".hookstream"), "Where `hookstream dev` keeps the broker's log, chDB and the operator token."
    )
    kafka_bootstrap_servers: str = _knob(
        "",
        "Kafka brokers (`host:port,...`). Empty: `hookstream dev` starts a local single-node broker.",
        "KAFKA_BOOTSTRAP_SERVERS",
    )
    kafka_heap: str = _knob("512m", "Max JVM heap of the local broker started by `hookstream dev`.")
    kafka_port: int = _knob(0, "Client port of the local broker; 0 picks a free one.")
    kafka_jars_dir: Path = _knob(
        Path("~/.cache/hookstream/kafka"),
        "Cache of Apache Kafka's jars, one folder per version, fetched once by Maven.",
    )
    kafka_start_timeout_s: float = _knob(60.0, "How long the local broker may take to answer before start fails.")
    topic_namespace: str = _knob("hookstream.", "Prefix of every topic name, so several deployments share a cluster.")
    topic_partitions: int = _knob(6, "Partitions of each non-compacted topic; the upper bound on replicas per service.")
    topic_replication_factor: int = _knob(1, "Replication factor of created topics (1 for a single broker).")
    retry_schedule: str = _knob(
        "0s,5s,5m,30m,2h,5h,10h,10h",
        "Delay before each attempt (the first is the initial delivery); one delay-tier topic per distinct delay.",
    )
    retry_jitter: float = _knob(
        0.2, "Each scheduled retry's delay varies by this fraction up or down (0.2: ±20 %), drawn from the attempt id."
    )
    retry_after_min: str = _knob(
        "5s", "`Retry-After` on a 429/503 is honoured, but never sooner than this after the attempt..."
    )
    retry_after_max: str = _knob("10h", "...and never later than this (a longer ask is cut to it).")
    scheduler_window_records: int = _knob(
        1000,
        "Records a delay-tier consumer holds per partition to forward them in due order despite jitter; "
        "the rest of the backlog waits in Kafka.",
    )
    scheduler_window_bytes: int = _knob(
        4 * 1024 * 1024, "Bytes of tasks a delay-tier consumer holds per partition (caps the window above)."
    )
    recover_progress_interval_s: float = _knob(
        5.0,
        "While an endpoint recover runs, its progress is logged (done/total, rate, ETA) and its background "
        "task's counts updated at most this often.",
    )
    status_failing_after: int = _knob(
        4, "Failed attempts of a message at an endpoint after which `message.attempt.failing` is emitted."
    )
    status_retention: str = _knob(
        "",
        "How long a message's status is kept once final (success, or fail with no retry left): then the status "
        "processor forgets it (tombstones on `status`) and ClickHouse's status rows expire. "
        "Empty: `payload_retention_days`.",
    )
    endpoint_disable_after: str = _knob(
        "5d", "An endpoint whose attempts have only failed for this long is disabled (`endpoint.disabled`)."
    )
    endpoint_disable_min_span: str = _knob(
        "12h", "Svix's rule: the disable clock starts only once two failures of the run are at least this far apart..."
    )
    endpoint_disable_within: str = _knob(
        "24h", "...and at most this far apart; it then counts from the earlier of the two."
    )
    clickhouse_url: str = _knob(
        "",
        "`chdb:///path` (embedded) or `http(s)://user:pass@host:8123`. Empty: chDB under `data_dir/clickhouse`.",
        "CLICKHOUSE_URL",
    )
    clickhouse_database: str = _knob("hookstream", "ClickHouse database of the projection.")
    store_port: int = _knob(
        8124, "Port on 127.0.0.1 where `hookstream store` serves ClickHouse's HTTP interface; 0 picks a free one."
    )
    store_data_dir: str = _knob(
        "",
        "Directory `hookstream store` opens with the embedded ClickHouse (chDB) and keeps its users' passwords in. "
        "Empty: `data_dir/clickhouse`.",
    )
    store_max_memory_bytes: int = _knob(
        2 * 1024**3, "Memory the store's ClickHouse engine may use in all (`max_server_memory_usage`); 0: chDB's own."
    )
    store_cache_bytes: int = _knob(
        256 * 1024**2,
        "Size of each of the store engine's caches of marks and primary indexes (`mark_cache_size`, "
        "`index_mark_cache_size`, `primary_index_cache_size`); 0: chDB's own (5 GiB each).",
    )
    store_handles: int = _knob(
        4, "chDB connection handles per store user (read-write, read-only): how many statements run at once."
    )
    payload_retention_days: int = _knob(
        90, "Days message payloads and attempt bodies/headers stay in ClickHouse; ids, statuses, timings stay."
    )
    http_host: str = _knob("127.0.0.1", "Address the HTTP API listens on.")
    http_port: int = _knob(8040, "Port the HTTP API listens on; 0 picks a free one.")
    metrics_lag_interval_s: float = _knob(
        15.0,
        "How often each process samples the consumer lag of its roles' groups for `/metrics`; 0 turns it off.",
    )
    operator_token: str = _knob(
        "", "Bearer token allowed to do everything. Empty: generated on first start and kept in `data_dir`."
    )
    secret_keys: str = _knob(
        "",
        "Comma-separated base64 32-byte keys sealing endpoint secrets on the log; the first seals, all open. "
        "Empty: generated on first start and kept in `data_dir`.",
    )
    delivery_concurrency: int = _knob(256, "Requests in flight per delivery worker.")
    delivery_endpoint_concurrency: int = _knob(16, "Requests in flight per endpoint per delivery worker.")
    delivery_timeout_s: float = _knob(15.0, "Whole-attempt timeout: connect, send, and read the response.")
    delivery_max_response_bytes: int = _knob(
        65536, "Response bytes kept per attempt; the rest is cut, flagged truncated."
    )
    delivery_allowed_networks: str = _knob(
        "",
        "CIDRs the SSRF guard lets through although private, loopback or reserved (e.g. `127.0.0.0/8,::1/128`). "
        "Empty: only public addresses are delivered to.",
    )
    delivery_svix_headers: bool = _knob(
        False, "Send `svix-id`/`svix-timestamp`/`svix-signature` instead of `webhook-*`."
    )
    delivery_propagate_trace: bool = _knob(
        False,
        "With traces on (`OTEL_EXPORTER_OTLP_ENDPOINT` set), also send each attempt's `traceparent` to the "
        "receiver, so its own spans join the message's trace. Off: trace ids stay inside the deployment.",
    )
    dev_delivery_processes: str = _knob(
        "auto",
        "Child processes in which `hookstream dev` (and `hookstream run` with every role) runs the router and the "
        "delivery worker (`hookstream run --roles router,deliver` each); with one or more, the projector, status and "
        "the scheduler run in a stream process of their own and the parent keeps the API. `auto`: one per core; 0 "
        "runs every role in one process.",
    )
    event_loop: str = _knob(
        "uvloop",
        "The event loop every hookstream process runs on: `uvloop` (where it installs; asyncio's otherwise) or "
        "`asyncio`. uvloop measured 2.6 % less CPU per delivery than asyncio and the same per accepted message "
        "(BENCHMARKS.md, Session 6).",
    )
    dedupe_window: str = _knob("24h", "How long a message `eventId` stays unique within its application.")
    intake_application_attribute: str = _knob(
        "hookstreamapp",
        "CloudEvents extension attribute naming a record's application on the intake topic (header "
        "`ce_<name>` in binary mode); without it, the header `hookstream-application`, then the record key.",
    )
    intake_max_record_bytes: int = _knob(
        16777216,
        "Largest record the intake and dead-letter topics take (their `max.message.bytes` when created): an intake "
        "record over the payload cap but within this is dead-lettered whole instead of refused by the broker.",
    )
    projector_batch_rows: int = _knob(20000, "The projector writes a batch when it holds this many rows...")
    projector_batch_s: float = _knob(0.5, "...or when its oldest row has waited this long.")
    log_level: str = _knob("INFO", "Log level of hookstream's logs.")
    log_format: str = _knob(
        "auto", "`auto` (readable text when stderr is a terminal, JSON lines otherwise), `json` or `text`."
    )
    api_max_payload_bytes: int = _knob(
        1048576, "Largest message payload the API accepts (serialized JSON bytes); larger ones answer 422."
    )
    api_json_max_depth: int = _knob(
        128,
        "Deepest nesting of arrays and objects a request body may have (as serde_json, Svix's parser, allows); "
        "checked before the body is decoded. At most 512.",
    )
    api_json_max_object_keys: int = _knob(10000, "Keys any one object of a request body may have.")
    api_json_max_array_items: int = _knob(100000, "Items any one array of a request body may have.")
    api_max_endpoints_per_app: int = _knob(
        100,
        "Endpoints one application may have (create or PUT beyond it answers 422); bounds the fan-out of one "
        "message and the work one tenant can make.",
    )
    api_recent_writes_s: float = _knob(
        60.0,
        "How long the API remembers the messages it accepted, so reading one back works before the projector "
        "has written it to ClickHouse. Must outlast the projector's lag.",
    )
    api_idempotency_window: str = _knob(
        "12h",
        "How long a POST's `idempotency-key` (same token, method and path) answers with the first response; "
        "also the retention of the `idempotency` topic.",
    )
    api_rate_limit_per_s: float = _knob(
        100.0,
        "Requests per second each application-scoped token may make, sustained (429 beyond); 0 turns the limit off.",
    )
    api_rate_limit_burst: int = _knob(
        200,
        "Requests an application-scoped token may make in one burst (its bucket's size) before the sustained rate "
        "applies; 0 turns it off.",
    )
    api_operator_rate_limit_per_s: float = _knob(
        0.0,
        "Requests per second the operator token may make, sustained (429 beyond); 0 (the default) leaves it "
        "unlimited, so the operator's own load (ingest, scripts) meets no wall.",
    )
    api_operator_rate_limit_burst: int = _knob(
        200, "Requests the operator token may make in one burst when its rate is limited; 0 turns the limit off."
    )
    api_body_url_ttl: str = _knob(
        "15m", "How long a v1 `response_body_url` (a signed link to one attempt's stored response body) stays valid."
    )
    api_public_url: str = _knob(
        "",
        "Base URL clients reach the API at (e.g. `https://hooks.example.com`), used in links the API hands out. "
        "Empty: the scheme and Host of the request being answered.",
    )
    console_frame_ancestors: str = _knob(
        "'self'",
        "CSP `frame-ancestors` of the web console at `/console/`: the origins allowed to embed it in an iframe "
        "(e.g. `'self' https://app.example.com` for a product that embeds the consumer portal).",
    )

    @property
    def resolved_clickhouse_url(self) -> str:
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{(self.data_dir / 'clickhouse').expanduser().resolve()}"

    @property
    def resolved_store_data_dir(self) -> Path:
        path = Path(self.store_data_dir) if self.store_data_dir else self.data_dir / "clickhouse"
        return path.expanduser().resolve()

    @property
    def resolved_dev_delivery_processes(self) -> int:
        """``dev_delivery_processes`` as a count: ``auto`` is one per core, so delivery scales with the machine."""
        text = self.dev_delivery_processes.strip().lower()
        if text == "auto":
            return os.cpu_count() or 1
        try:
            count = int(text)
        except ValueError:
            count = -1
        if count < 0:
            raise SettingsError(
                f"HOOKSTREAM_DEV_DELIVERY_PROCESSES: invalid value {self.dev_delivery_processes!r}: "
                "expected auto or a number of processes, 0 or more"
            )
        return count

    @property
    def resolved_event_loop(self) -> str:
        """``event_loop`` checked: ``uvloop`` or ``asyncio``."""
        loop = self.event_loop.strip().lower()
        if loop not in ("uvloop", "asyncio"):
            raise SettingsError(f"HOOKSTREAM_EVENT_LOOP: invalid value {self.event_loop!r}: expected uvloop or asyncio")
        return loop

    @property
    def uses_local_kafka(self) -> bool:
        return not self.kafka_bootstrap_servers

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


class SettingsError(ValueError):
    """A setting that cannot be read; the message names the variable and the value."""


def env_names(f: dataclasses.Field[Any]) -> tuple[str, ...]:
    """Every environment variable that sets this field, the canonical one first."""
    return (ENV_PREFIX + f.name.upper(), *f.metadata.get("aliases", ()))


def all_env_names() -> set[str]:
    return {name for f in fields(Settings) for name in env_names(f)}


def _coerce(name: str, kind: Any, raw: Any, source: str) -> Any:
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError("expected true or false")
        if kind is int:
            if isinstance(raw, bool):
                raise ValueError("expected an integer")
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is Path:
            return Path(str(raw)).expanduser()
        if kind is str:
            if not isinstance(raw, str):
                raise ValueError("expected a string")
            return raw
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{source}: invalid value {raw!r} for {name}: {exc}") from exc
    raise SettingsError(f"{source}: {name} has an unsupported type {kind!r}")


def load_settings(env: Mapping[str, str] | None = None, config_file: Path | None = None) -> Settings:
    """Build the settings from defaults, the TOML file and the environment."""
    env = os.environ if env is None else env
    hints = get_type_hints(Settings)
    values: dict[str, Any] = {}
    path = config_file or (Path(env[CONFIG_FILE_ENV]) if env.get(CONFIG_FILE_ENV) else None)
    if path is not None:
        try:
            document = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"config file {path}: {exc}") from exc
        known = {f.name for f in fields(Settings)}
        unknown = sorted(set(document) - known)
        if unknown:
            raise SettingsError(f"config file {path}: unknown settings {', '.join(unknown)}")
        for key, raw in document.items():
            values[key] = _coerce(key, hints[key], raw, f"config file {path}")
    for f in fields(Settings):
        for name in env_names(f):
            if name in env:
                values[f.name] = _coerce(name, hints[f.name], env[name], "environment")
                break
    settings = Settings(**values)
    return settings.replace(
        data_dir=settings.data_dir.expanduser(), kafka_jars_dir=settings.kafka_jars_dir.expanduser()
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as the canonical environment variables, so a child process reads exactly these values."""
    env = {}
    for f in fields(Settings):
        value = getattr(settings, f.name)
        env[env_names(f)[0]] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return env


def settings_table() -> str:
    """The README's settings table, generated so it cannot drift from the code."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for f in fields(Settings):
        names = " / ".join(f"`{n}`" for n in env_names(f))
        default = f.default if f.default != "" else "(empty)"
        rows.append(f"| {names} | `{default}` | {f.metadata['doc']} |")
    return "\n".join(rows)
