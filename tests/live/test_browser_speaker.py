"""A meeting's active speaker on the room page (docs/protocol.md, `speaker`): outlined, labelled
"Speaking" in words inside the tile, first and larger on the stage; our own picture when it is us.

Two Chromium pages and three bots make a room of five (a meeting for the SFU). The server is
real; who speaks is decided by the test through the hub's `_on_speaker`, the one place the
SFU's decision leaves it (the SFU's own decisions are switched off: Chromium's fake microphone
beeps and would race the test's).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from portal.models import Applicant
from signaling.grants import JoinGrant
from tests.factories import World
from tests.live.test_browser_room import (
    applicant_page,
    live_port,
    live_server,
    settings,
    staff_page,
    wait_connected,
)
from web.keys import DB
from web.live import HUB

pytestmark = pytest.mark.browser
__all__ = ["live_port", "live_server", "settings"]  # the fixtures this module reuses

# What an applicant might type as a name: it must show as these characters, never as markup.
HOSTILE_FIRST_NAME = '<img src=x data-hostile="1">Ann'
SPEAKING_GREEN = "rgb(74, 222, 128)"

TILE = '.tile[data-participant-id="{}"]'

# Where a tile sits on the stage and how big it is, and how the speaking state looks on it.
# Positions are the stage's own: a banner above the stage moves it down, and changes its height.
TILE_STATE = """(id) => {
  const tile = document.querySelector(`.tile[data-participant-id="${id}"]`);
  const box = tile.getBoundingClientRect();
  const stage = document.getElementById("stage").getBoundingClientRect();
  const style = getComputedStyle(tile);
  return {x: box.x - stage.x, y: box.y - stage.y, width: box.width, height: box.height,
          speaking: tile.classList.contains("is-speaking"),
          outline: [style.outlineStyle, style.outlineWidth, style.outlineColor]};
}"""


def placed(state: dict[str, Any]) -> dict[str, Any]:
    """A tile's state without its height (the stage's height follows what shows above it)."""
    return {key: value for key, value in state.items() if key != "height"}


# The label is part of the tile's content, not a live region (every switch would be said).
IN_A_LIVE_REGION = """(node) =>
  node.closest('[aria-live], [role="status"], [role="alert"], [role="log"]') !== null"""

# Counts, from now on, every change of who is speaking or featured on the stage
# (window.__speakerChanges): the tiles' classes, the stage's data-featured, the labels' hidden.
# Attributes set again to the value they had are no change.
WATCH_STAGE = """() => {
  window.__speakerChanges = 0;
  const stage = document.getElementById("stage");
  new MutationObserver((records) => {
    for (const r of records) {
      const node = r.target;
      const watched = (node === stage && r.attributeName === "data-featured")
        || (node.classList.contains("tile") && r.attributeName === "class")
        || (node.classList.contains("flag-speaking") && r.attributeName === "hidden");
      const changed = r.oldValue !== node.getAttribute(r.attributeName);
      if (watched && changed) window.__speakerChanges += 1;
    }
  }).observe(stage, {attributes: true, attributeOldValue: true, subtree: true,
                     attributeFilter: ["class", "data-featured", "hidden"]});
}"""


async def say_speaker(hub: Any, room: str, participant_id: str | None) -> None:
    """The SFU's decision, as it leaves the SFU; returns once the event went out, so that
    the next one cannot overtake it."""
    hub._on_speaker(room, participant_id)
    await asyncio.gather(*list(hub._tasks), return_exceptions=True)


def meeting_bot_grant(world: World, meeting: str, number: int) -> JoinGrant:
    scope = f"meeting:{meeting}"
    return JoinGrant(
        "staff",
        f"bot-{number}",
        f"Bot {number}",
        "participant",
        world.a.program_id,
        scope,
        scope,
        "Welcome",
    )


async def test_the_active_speaker_is_outlined_labelled_and_first(
    browser: Any,
    live_server: Any,
    client: Any,
    world: World,
    bots: Any,
    monkeypatch: pytest.MonkeyPatch,
    artifacts: Path,
) -> None:
    hub = live_server.app[HUB]
    monkeypatch.setattr(hub.sfu, "on_speaker", None)
    async with live_server.app[DB]() as db, db.begin():
        person = await db.get(Applicant, world.a.applicant_id)
        assert person is not None
        person.first_name = HOSTILE_FIRST_NAME
        hostile_name = f"{HOSTILE_FIRST_NAME} {person.last_name}"
    meeting = world.a.meeting_room_id
    room = f"meeting:{meeting}"
    path = f"/live/meeting-rooms/{meeting}"
    director_pid = f"{room}/staff:{world.a.staff_id}"
    applicant_pid = f"{room}/applicant:{world.a.applicant_id}"
    director = await staff_page(browser, live_server, world.a.director_email, path)
    applicant = await applicant_page(browser, live_server, client, world.a.applicant_id, path)
    members = [bots(meeting_bot_grant(world, meeting, n), clip) for n, clip in enumerate("abc")]
    for bot in members:
        await bot.connect()
    for page in (director, applicant):
        await wait_connected(page)
    # Everyone else on the director's stage: the applicant and the three bots.
    await director.wait_for_function(
        "() => document.getElementById('stage').dataset.count === '4'", timeout=10_000
    )
    bot_pid = members[0].participant_id
    others = [applicant_pid, *(bot.participant_id for bot in members)]
    stage = director.locator("#stage")
    speaking_tiles = stage.locator(".tile.is-speaking")
    assert await speaking_tiles.count() == 0
    assert await director.locator(".flag-speaking:visible").count() == 0
    before = {pid: await director.evaluate(TILE_STATE, pid) for pid in others}
    assert len({(b["width"], b["height"]) for b in before.values()}) == 1  # a plain grid

    # The applicant speaks: their tile says so in words, is outlined, and comes first, 2×2.
    await say_speaker(hub, room, applicant_pid)
    tile = director.get_by_role("figure", name=hostile_name)
    label = tile.locator(".flag-speaking")
    await label.wait_for(state="visible", timeout=2_000)
    assert await label.inner_text() == "Speaking"
    assert await tile.locator(".tile-name").inner_text() == hostile_name
    assert not await label.evaluate(IN_A_LIVE_REGION)
    speaking = await director.evaluate(TILE_STATE, applicant_pid)
    assert speaking["speaking"] and speaking["outline"] == ["solid", "4px", SPEAKING_GREEN]
    assert await speaking_tiles.count() == 1
    small = [await director.evaluate(TILE_STATE, pid) for pid in others[1:]]
    assert all(not s["speaking"] and s["outline"][0] == "none" for s in small)
    assert all(speaking["width"] > 1.8 * s["width"] for s in small)
    assert all(speaking["height"] > 1.8 * s["height"] for s in small)
    assert all(speaking["x"] <= s["x"] and speaking["y"] <= s["y"] for s in small)
    # The others in the room hear the same (the applicant sees nobody speaking on their stage).
    assert await applicant.locator("#self-speaking").is_visible()
    assert await applicant.locator("#stage .tile.is-speaking").count() == 0
    await director.screenshot(path=str(artifacts / "director-applicant-speaking.png"))

    # Another person takes over: the highlight and the big tile move with them.
    await say_speaker(hub, room, bot_pid)
    bot_label = director.locator(f"{TILE.format(bot_pid)} .flag-speaking")
    await bot_label.wait_for(state="visible", timeout=2_000)
    await label.wait_for(state="hidden", timeout=2_000)
    assert await speaking_tiles.count() == 1
    featured = await director.evaluate(TILE_STATE, bot_pid)
    was_featured = await director.evaluate(TILE_STATE, applicant_pid)
    assert featured["speaking"] and not was_featured["speaking"]
    assert featured["width"] > 1.8 * was_featured["width"]
    assert (featured["x"], featured["y"]) == (speaking["x"], speaking["y"])
    assert await applicant.locator("#self-speaking").is_hidden()
    await applicant.locator(f"{TILE.format(bot_pid)} .flag-speaking").wait_for(timeout=2_000)

    # The same speaker again moves nothing (an event after it shows it was received).
    await director.evaluate(WATCH_STAGE)
    await say_speaker(hub, room, bot_pid)
    hub._on_downlink(director_pid, "reduced", 400_000)
    await director.locator("#downlink-message").wait_for(state="visible", timeout=2_000)
    assert await director.evaluate("() => window.__speakerChanges") == 0
    hub._on_downlink(director_pid, "full", 3_000_000)
    await director.locator("#downlink-message").wait_for(state="hidden", timeout=2_000)
    assert placed(await director.evaluate(TILE_STATE, bot_pid)) == placed(featured)

    # We speak: our own picture says so; the stage keeps the last other speaker big.
    await say_speaker(hub, room, director_pid)
    self_label = director.locator("#self-speaking")
    await self_label.wait_for(state="visible", timeout=2_000)
    assert await self_label.inner_text() == "Speaking"
    assert (
        await director.locator("#self-view").evaluate(
            "(node) => getComputedStyle(node).outlineColor"
        )
        == SPEAKING_GREEN
    )
    await bot_label.wait_for(state="hidden", timeout=2_000)
    assert await speaking_tiles.count() == 0
    assert (await director.evaluate(TILE_STATE, bot_pid))["width"] == featured["width"]
    # The applicant sees the director speaking.
    await applicant.locator(f"{TILE.format(director_pid)} .flag-speaking").wait_for(timeout=2_000)

    # Nobody: every highlight goes, our own too; the stage does not jump back.
    await say_speaker(hub, room, bot_pid)
    await bot_label.wait_for(state="visible", timeout=2_000)
    await say_speaker(hub, room, None)
    await bot_label.wait_for(state="hidden", timeout=2_000)
    assert await speaking_tiles.count() == 0
    assert await self_label.is_hidden()
    assert await director.locator(".flag-speaking:visible").count() == 0
    after = await director.evaluate(TILE_STATE, bot_pid)
    assert not after["speaking"] and after["outline"][0] == "none"
    assert (after["x"], after["y"], after["width"]) == (
        featured["x"],
        featured["y"],
        featured["width"],
    )
    assert await director.evaluate("() => window.interviewday.speaker") is None
    for page in (director, applicant):
        assert await page.evaluate("() => document.querySelector('[data-hostile]') === null")
