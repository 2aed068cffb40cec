"""The payment port on Stripe (official ``stripe`` SDK)."""

from starform_adapters.stripe.provider import CREDIT_NOTE_REASONS, StripePaymentProvider

__all__ = ["CREDIT_NOTE_REASONS", "StripePaymentProvider"]
