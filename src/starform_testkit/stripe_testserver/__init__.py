"""A Stripe-compatible test server: the payment port's double, spoken to over real HTTP."""

from starform_testkit.stripe_testserver.server import StripeTestServer
from starform_testkit.stripe_testserver.state import DECLINING_PAYMENT_METHODS
from starform_testkit.stripe_testserver.webhooks import signature_header

__all__ = ["DECLINING_PAYMENT_METHODS", "StripeTestServer", "signature_header"]
