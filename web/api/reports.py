"""Reports: applicants per status, seats filled, rooms and interviewers; JSON or CSV."""

from __future__ import annotations

import re
from datetime import date

from aiohttp import web
from pydantic import BaseModel

from portal import reports
from web.api.framework import Api, Call
from web.reports import SeasonReport, SessionReport, season_report, session_report

api = Api()
TAGS = ("reports",)


class StatusCountOut(BaseModel):
    status: str
    count: int
    percent: float


class SessionSummaryOut(BaseModel):
    id: str
    name: str
    date: date
    mode: str
    capacity: int
    scheduled: int
    waitlisted: int
    open_seats: int
    percent_filled: float | None
    rooms: int
    interviewers: int


class RoomLineOut(BaseModel):
    room: str
    interviewers: list[str]


class SeasonReportOut(BaseModel):
    applicants_by_status: list[StatusCountOut]
    applicant_total: int
    sessions: list[SessionSummaryOut]


class SessionReportOut(BaseModel):
    session: SessionSummaryOut
    applicants_by_status: list[StatusCountOut]
    rooms: list[RoomLineOut]


def _statuses(counts: tuple[reports.StatusCount, ...]) -> list[StatusCountOut]:
    return [StatusCountOut(status=c.status, count=c.count, percent=c.percent) for c in counts]


def _summary(s: reports.SessionSummary) -> SessionSummaryOut:
    return SessionSummaryOut(
        id=s.id,
        name=s.name,
        date=s.date,
        mode=s.mode,
        capacity=s.seats.capacity,
        scheduled=s.seats.scheduled,
        waitlisted=s.seats.waitlisted,
        open_seats=s.seats.open_seats,
        percent_filled=s.seats.percent,
        rooms=s.rooms,
        interviewers=s.interviewers,
    )


def season_out(report: SeasonReport) -> SeasonReportOut:
    return SeasonReportOut(
        applicants_by_status=_statuses(report.statuses),
        applicant_total=sum(c.count for c in report.statuses),
        sessions=[_summary(s) for s in report.sessions],
    )


def session_out(report: SessionReport) -> SessionReportOut:
    return SessionReportOut(
        session=_summary(report.session),
        applicants_by_status=_statuses(report.statuses),
        rooms=[RoomLineOut(room=r.room, interviewers=list(r.interviewers)) for r in report.rooms],
    )


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "session"


def csv_response(table: reports.Table, filename: str) -> web.Response:
    return web.Response(
        text=reports.csv_text(table),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@api.route(
    "GET",
    "/reports/season",
    summary="The season: applicants per status and every session's seats, rooms, interviewers",
    tags=TAGS,
    permission="reports.read",
    response=SeasonReportOut,
)
async def get_season(call: Call) -> SeasonReportOut:
    return season_out(await season_report(call.scope))


@api.route(
    "GET",
    "/reports/season/applicants.csv",
    summary="CSV: applicants per status for the season",
    tags=TAGS,
    permission="reports.read",
)
async def season_applicants_csv(call: Call) -> web.Response:
    report = await season_report(call.scope)
    return csv_response(reports.status_table(report.statuses), "season-applicants-by-status.csv")


@api.route(
    "GET",
    "/reports/season/sessions.csv",
    summary="CSV: seats filled, rooms and interviewers of every session",
    tags=TAGS,
    permission="reports.read",
)
async def season_sessions_csv(call: Call) -> web.Response:
    report = await season_report(call.scope)
    return csv_response(reports.sessions_table(report.sessions), "season-sessions.csv")


@api.route(
    "GET",
    "/reports/sessions/{session_id}",
    summary="One session: its applicants per status, seats, rooms and interviewers",
    tags=TAGS,
    permission="reports.read",
    response=SessionReportOut,
)
async def get_session_report(call: Call) -> SessionReportOut:
    return session_out(await session_report(call.scope, call.path("session_id")))


@api.route(
    "GET",
    "/reports/sessions/{session_id}/applicants.csv",
    summary="CSV: a session's booked applicants per status",
    tags=TAGS,
    permission="reports.read",
)
async def session_applicants_csv(call: Call) -> web.Response:
    report = await session_report(call.scope, call.path("session_id"))
    name = f"session-{slug(report.session.name)}-applicants-by-status.csv"
    return csv_response(reports.status_table(report.statuses), name)


@api.route(
    "GET",
    "/reports/sessions/{session_id}/rooms.csv",
    summary="CSV: a session's rooms and their interviewers",
    tags=TAGS,
    permission="reports.read",
)
async def session_rooms_csv(call: Call) -> web.Response:
    report = await session_report(call.scope, call.path("session_id"))
    name = f"session-{slug(report.session.name)}-rooms.csv"
    return csv_response(reports.rooms_table(report.rooms), name)
