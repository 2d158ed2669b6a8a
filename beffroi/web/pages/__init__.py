"""Server-rendered HTML pages (Jinja2), French first."""

from fastapi import APIRouter

from beffroi.web.pages import audit as audit_pages
from beffroi.web.pages import auth, communes, datasets, home, reference, upload
from beffroi.web.pages import backoffice as backoffice_pages
from beffroi.web.pages import dataset_map as dataset_map_pages
from beffroi.web.pages import indicators as indicator_pages
from beffroi.web.pages import metadata as metadata_pages
from beffroi.web.pages import oidc as oidc_pages
from beffroi.web.pages import reviews as review_pages
from beffroi.web.pages import validation as validation_pages

router = APIRouter(include_in_schema=False)
router.include_router(home.router)
router.include_router(auth.router)
router.include_router(upload.router)
router.include_router(datasets.router)
router.include_router(communes.router)
router.include_router(reference.router)
router.include_router(indicator_pages.router)
router.include_router(review_pages.router)
router.include_router(metadata_pages.router)
router.include_router(oidc_pages.router)
router.include_router(dataset_map_pages.router)
router.include_router(validation_pages.router)
router.include_router(backoffice_pages.router)
router.include_router(audit_pages.router)
