"""The weekly visit plan: each member's rounds, day by day (after results/ in the data flow)."""

from .week import VisitPlan, plan_visits

__all__ = ["VisitPlan", "plan_visits"]
