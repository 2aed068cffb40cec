"""Starbase billing: usage ingestion, the monthly close, collection and provider webhooks."""

from starform_apps.starbase.billing.config import BillingConfig
from starform_apps.starbase.billing.service import Billing, assemble_billing, open_billing

__all__ = ["Billing", "BillingConfig", "assemble_billing", "open_billing"]
