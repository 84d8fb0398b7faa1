"""Scoring-form versioning against a real database (SQLite, and PostgreSQL when configured)."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import create_engine, create_session_factory
from core.errors import Conflict
from core.scoping import ProgramScope
from scoring import forms
from scoring.forms import FormSpec, ItemSpec
from scoring.models import Score
from tests.factories import World, build_world


@pytest.fixture
async def factory(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    yield create_session_factory(engine)
    await engine.dispose()


def spec(name: str, *labels: str) -> FormSpec:
    return FormSpec(name, None, tuple(ItemSpec(kind="rating", label=x) for x in labels))


async def test_versions(factory: async_sessionmaker[AsyncSession]) -> None:
    world: World = await build_world(factory)
    async with factory() as db, db.begin():
        scope = ProgramScope(db, world.a.program_id)
        form = await forms.create_form(scope, spec("Core", "Fit"))
        form_id, family_id = form.id, form.family_id
        in_place = await forms.save_form(scope, form_id, spec("Core", "Fit", "Drive"))
        assert in_place.outcome == "in_place" and in_place.form.id == form_id
        db.add(
            Score(
                program_id=world.a.program_id,
                session_id=world.a.session_id,
                applicant_id=world.a.applicant_id,
                interviewer_id=world.a.interviewer_id,
                form_id=form_id,
            )
        )
        await db.flush()
        versioned = await forms.save_form(scope, form_id, spec("Core", "Drive"))
        assert versioned.outcome == "new_version" and versioned.previous_id == form_id
        assert versioned.form.family_id == family_id and versioned.form.version == 2
        with pytest.raises(Conflict):
            await forms.save_form(scope, form_id, spec("Core", "Other"))
    async with factory() as db:
        scope = ProgramScope(db, world.a.program_id)
        old = await forms.load_form(scope, form_id)
        assert [i.label for i in old.items] == ["Fit", "Drive"] and not old.form.is_current
        assert old.score_count == 1
        versions = await forms.versions_of(scope, form_id)
        assert [(v.version, v.is_current) for v in versions] == [(2, True), (1, False)]
        assert [f.name for f in await forms.list_forms(scope)] == ["Core", "Form a"]
        other = ProgramScope(db, world.b.program_id)
        assert [f.name for f in await forms.list_forms(other)] == ["Form b"]
