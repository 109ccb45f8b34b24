"""A run described in the OpenLineage standard: `settings` (schemas/openlineage.yaml), `facets` (the
datasets and our gateway facet, from the lineage's records) and `events` (START, COMPLETE, FAIL)."""

from pipeline.audit.openlineage.events import (
    EVENTS_FILE,
    complete,
    emit,
    events_path,
    fail,
    new_run_id,
    run_id_from,
    start,
)
from pipeline.audit.openlineage.facets import (
    GATEWAY_FACET,
    GATEWAY_FACET_SCHEMA,
    GATEWAY_FACET_SCHEMA_URL,
    RUN_STATUS_FACET,
    RUN_STATUS_FACET_SCHEMA,
    RUN_STATUS_FACET_SCHEMA_URL,
    GatewayInputDatasetFacet,
    RunStatusRunFacet,
    gateway_facet,
    input_dataset,
    output_dataset,
)
from pipeline.audit.openlineage.settings import (
    CONFIG_PATH,
    HttpSettings,
    OpenLineageSettings,
    http_api_key,
    load_openlineage_config,
)

__all__ = [
    "CONFIG_PATH",
    "EVENTS_FILE",
    "GATEWAY_FACET",
    "GATEWAY_FACET_SCHEMA",
    "GATEWAY_FACET_SCHEMA_URL",
    "RUN_STATUS_FACET",
    "RUN_STATUS_FACET_SCHEMA",
    "RUN_STATUS_FACET_SCHEMA_URL",
    "GatewayInputDatasetFacet",
    "HttpSettings",
    "OpenLineageSettings",
    "RunStatusRunFacet",
    "complete",
    "emit",
    "events_path",
    "fail",
    "gateway_facet",
    "http_api_key",
    "input_dataset",
    "load_openlineage_config",
    "new_run_id",
    "output_dataset",
    "run_id_from",
    "start",
]
