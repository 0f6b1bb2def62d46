"""The effective-dated parameters of a pooling region: the document, the national default,
and which version is in force on a day."""
from .document import (
    AverageRateCheck,
    CatalogItem,
    DeviceItem,
    OutOfRegion,
    PolicyDocument,
    RateReviewStep,
    average_rate_flag,
)
from .resolve import (
    NATIONAL_REGION,
    NoPolicyInForce,
    PolicySegment,
    PolicyVersion,
    load_national_default,
    resolve,
    versions_in_force_between,
)

__all__ = [
    "NATIONAL_REGION", "AverageRateCheck", "CatalogItem", "DeviceItem", "NoPolicyInForce", "OutOfRegion", "PolicyDocument",
    "PolicySegment", "PolicyVersion", "RateReviewStep", "average_rate_flag", "load_national_default",
    "resolve", "versions_in_force_between",
]
