"""JSON API, one router module per resource."""

from fastapi import APIRouter

from beffroi.web.api import (
    agreements,
    ckan,
    datasets,
    dcat,
    exports,
    harvest,
    health,
    indicators,
    jobs,
    licences,
    metadata_reviews,
    organizations,
    privacy,
    records,
    reviews,
    sql,
    tokens,
    versions,
    views,
)
from beffroi.web.api import audit as audit_api
from beffroi.web.api import validate as validate_api

router = APIRouter()
router.include_router(health.router)
router.include_router(organizations.router, prefix="/api/v1")
router.include_router(datasets.router, prefix="/api/v1")
router.include_router(versions.router, prefix="/api/v1")
router.include_router(jobs.router, prefix="/api/v1")
router.include_router(dcat.router)
router.include_router(ckan.router)
router.include_router(records.router, prefix="/api/v1")
router.include_router(validate_api.router, prefix="/api/v1")
router.include_router(sql.router, prefix="/api/v1")
router.include_router(exports.router, prefix="/api/v1")
router.include_router(agreements.router, prefix="/api/v1")
router.include_router(reviews.router, prefix="/api/v1")
router.include_router(metadata_reviews.router, prefix="/api/v1")
router.include_router(privacy.router, prefix="/api/v1")
router.include_router(indicators.router, prefix="/api/v1")
router.include_router(harvest.router, prefix="/api/v1")
router.include_router(views.router, prefix="/api/v1")
router.include_router(tokens.router, prefix="/api/v1")
router.include_router(licences.router, prefix="/api/v1")
router.include_router(audit_api.router, prefix="/api/v1")
