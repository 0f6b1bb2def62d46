"""The care read models, written by the care handlers in the transaction of their events.

Money is integer fen (`*_fen`). The payable amounts themselves are lines of `entitlement_lines`
(the payouts part pays them like any fund line); these tables hold what the rules check against.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Index, Integer, MetaData, String, Table

metadata = MetaData()

referrals = Table(
    "care_referrals",
    metadata,
    Column("referral_id", String(40), primary_key=True),
    Column("claim_id", String(64), nullable=False),
    Column("region", String(6), nullable=False),
    Column("from_date", Date, nullable=False),
    Column("to_date", Date, nullable=False),
    Column("destination", String(200), nullable=False),
    Column("destination_region", String(6)),
    Column("approved_on", Date, nullable=False),
    Column("transport_allowed_fen", BigInteger, nullable=False),  # of every travel claim so far
    Column("days_claimed", Integer, nullable=False),
    Column("event_id", String(36), nullable=False),  # ReferralApproved
    Index("ix_care_referrals_claim", "claim_id", "referral_id"),
)

rehabilitation_plans = Table(
    "care_rehabilitation_plans",
    metadata,
    Column("plan_id", String(40), primary_key=True),
    Column("claim_id", String(64), nullable=False),
    Column("region", String(6), nullable=False),
    Column("provider_id", String(64), nullable=False),
    Column("start", Date, nullable=False),
    Column("end", Date, nullable=False),
    Column("budget_fen", BigInteger, nullable=False),
    Column("spent_fen", BigInteger, nullable=False),
    Column("approved_on", Date, nullable=False),
    Column("event_id", String(36), nullable=False),  # RehabilitationPlanApproved
    Index("ix_care_rehabilitation_plans_claim", "claim_id", "plan_id"),
)

devices = Table(
    "care_devices",
    metadata,
    Column("configuration_id", String(40), primary_key=True),
    Column("claim_id", String(64), nullable=False),
    Column("device_code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("confirmed_on", Date, nullable=False),
    Column("supplier_id", String(64), nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("service_life_months", Integer, nullable=False),
    Column("replaceable_from", Date, nullable=False),
    Column("replaces", String(40)),
    Column("line_id", String(120), nullable=False),
    Index("ix_care_devices_claim", "claim_id", "device_code", "confirmed_on"),
)
