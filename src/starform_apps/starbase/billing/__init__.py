"""Starbase billing: usage ingestion, the monthly close, collection and provider webhooks.

The package imports no adapter; billing on PostgreSQL, ClickHouse and Stripe is
:func:`~starform_apps.starbase.billing.wiring.open_billing`.
"""

from starform_apps.starbase.billing.config import BillingConfig
from starform_apps.starbase.billing.service import Billing, BillingRuntime, assemble_billing, billing_runtime

__all__ = ["Billing", "BillingConfig", "BillingRuntime", "assemble_billing", "billing_runtime"]
