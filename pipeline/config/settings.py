"""Run-wide settings: `schemas/settings.yaml` (default purpose, bad-row share, text length limit)."""

from __future__ import annotations

from pydantic import Field

from pipeline.config.files import Strict
from pipeline.config.gateways import Purpose


class Settings(Strict):
    default_purpose: Purpose = "identification"
    max_bad_share: float = Field(0.2, ge=0, le=1)
    agreement_warning_days: int = Field(60, ge=0)
    text_max_length: int = Field(200, gt=0)
    max_record_lines: int = Field(5, ge=1)
