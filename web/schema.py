"""Every model, imported once, so the metadata is complete for Alembic and for tests."""

from __future__ import annotations

import portal.models
import portal.models_mail
import rooms.models
import scoring.models
import timetrack.models
from core.db import Base

metadata = Base.metadata
MODEL_MODULES = (portal.models, rooms.models, scoring.models, timetrack.models)
