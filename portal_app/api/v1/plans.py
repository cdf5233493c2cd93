"""GET /plans, GET /plans/{plan_id}: the merchant's plans, each with its public signup URL."""

from __future__ import annotations

from portal_app import routes
from portal_app.api.v1.endpoints import ApiCall, get
from portal_app.api.v1.pagination import ListQuery, list_model
from portal_app.billing.facades import api as api_facade
from portal_app.billing.objects import PlanObject

PlanList = list_model(PlanObject, "PlanList")


@get(routes.API_V1_PLANS, summary="List plans", response=PlanList, query=ListQuery, errors=(400,), tag="plans")
def list_plans(call: ApiCall):
    return api_facade.list_plans(call.merchant_id, **call.query.page())


@get(routes.API_V1_PLAN, summary="Retrieve a plan", response=PlanObject, errors=(404,), tag="plans")
def get_plan(call: ApiCall):
    return api_facade.get_plan(call.merchant_id, call.ids["plan_id"])


ENDPOINTS = [list_plans, get_plan]
