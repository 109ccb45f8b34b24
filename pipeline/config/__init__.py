"""Everything a council edits lives in `schemas/` as data; this package reads it.

`files` is the one reader (YAML, the strict model base, errors naming file and key); `contracts`,
`gateways` and `settings` are the models of the extracts' own files, loaded together by
`schemas.load_schemas`. Stages with settings of their own (linkage, criteria rule sets,
OpenLineage) keep their models beside the code that uses them and read them with `files`.
"""

from pipeline.config.files import PROJECT, SCHEMAS_DIR, ContractError
from pipeline.config.schemas import Schemas, load_schemas

__all__ = ["PROJECT", "SCHEMAS_DIR", "ContractError", "Schemas", "load_schemas"]
