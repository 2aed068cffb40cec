"""The project's one error hierarchy.

Every error Starform raises derives from :class:`StarformError`. Adapters translate foreign
errors (psycopg, kubernetes, httpx, ...) into these types with ``raise X from exc`` so callers
never need to know which library sits behind a port. Messages never carry secret values.
"""

from __future__ import annotations

__all__ = [
    "AgentReportRefusedError",
    "AgentStateError",
    "BillingError",
    "BuildConflictError",
    "BuildError",
    "BuildNotFoundError",
    "BuildTransitionError",
    "BuildUnavailableError",
    "ClusterApiError",
    "ClusterConflictError",
    "ClusterNotFoundError",
    "ClusterUnavailableError",
    "ContractError",
    "DesiredStateSourceError",
    "LiveObjectError",
    "PaymentDeclinedError",
    "PaymentProviderError",
    "RateLimitBackendError",
    "RegistryError",
    "RegistryManifestNotFoundError",
    "RegistryNotFoundError",
    "RegistryProtocolError",
    "RegistryRateLimitedError",
    "RegistryRejectedError",
    "RegistryRepositoryNotFoundError",
    "RegistryTagNotFoundError",
    "RegistryUnauthorizedError",
    "RegistryUnavailableError",
    "ReportRefusedError",
    "SnapshotConflictError",
    "StaleGenerationError",
    "StarformError",
    "StoreConflictError",
    "StoreError",
    "StoreNotFoundError",
    "TemplateError",
    "TemplateRuleError",
    "TierLimitError",
    "UnsupportedApiVersionError",
    "UsageAuditError",
    "ValidationError",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookRefusedError",
    "WebhookSignatureError",
    "WebhookVerificationError",
]


class StarformError(Exception):
    """Root of every error raised by Starform code."""


class ValidationError(StarformError, ValueError):
    """A value broke a rule of the domain; names the offending field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class TierLimitError(ValidationError):
    """A service asks for more than its project's tier allows (the LimitRange's or the quota's cap).

    ``field`` names what is over (``cpu_limit``, ``volumes.data.size``, ``volumes``); the reason
    gives the value, the tier and its cap. Quantities are not secret.
    """


class TemplateError(ValidationError):
    """A template, or a service spec or change read against one, is invalid.

    ``field`` is the JSON pointer of the problem (``/resources/cpu_limit``); the message never
    quotes a submitted value.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.args = (f"{field or '/'}: {reason}",)

    @property
    def pointer(self) -> str:
        """The JSON pointer of the problem (``""``: the whole document)."""
        return self.field


class TemplateRuleError(TemplateError):
    """A change is outside a template's allowed mutations: names the pointer, the rule and the template.

    ``str(error)`` reads ``/resources/cpu_limit: at most 2 (template web-app v3)``; ``rule`` is the
    rule's keyword (``maxQuantity``, ``enum``, ``unevaluatedProperties``, ...).
    """

    def __init__(self, pointer: str, reason: str, *, rule: str, template: str, version: int) -> None:
        super().__init__(pointer, f"{reason} (template {template} v{version})")
        self.rule = rule
        self.rule_reason = reason
        self.template = template
        self.version = version


class ContractError(StarformError, ValueError):
    """A desired-state document broke the §25.1 contract; names the JSON pointer of the problem."""

    def __init__(self, pointer: str, reason: str) -> None:
        super().__init__(f"{pointer or '/'}: {reason}")
        self.pointer = pointer
        self.reason = reason


class UnsupportedApiVersionError(ContractError):
    """The document's ``apiVersion`` names a major version this build does not understand."""


class LiveObjectError(StarformError, ValueError):
    """A live Kubernetes object does not have the shape the planner and health read.

    ``obj`` names the object (``Deployment shop/web``, or its position when it has no name),
    ``pointer`` the JSON pointer of the problem inside it.
    """

    def __init__(self, obj: str, pointer: str, reason: str) -> None:
        super().__init__(f"{obj}: {pointer or '/'}: {reason}")
        self.obj = obj
        self.pointer = pointer
        self.reason = reason


class StaleGenerationError(StarformError):
    """A payload's generation is older than the one already applied (stale or replayed)."""

    def __init__(self, offered: int, applied: int) -> None:
        super().__init__(f"payload generation {offered} is older than applied generation {applied}")
        self.offered = offered
        self.applied = applied


class StoreError(StarformError):
    """Starbase's persistence failed."""


class StoreNotFoundError(StoreError):
    """A row the caller named does not exist (or is not visible to the caller)."""


class StoreConflictError(StoreError):
    """A write would break a uniqueness or consistency rule of the store."""


class RateLimitBackendError(StarformError):
    """The rate-limit backend (Redis, for several Starbase processes) failed to answer."""


class AgentReportRefusedError(StoreConflictError):
    """Starbase does not believe an agent's report (another epoch, a generation ahead); the store
    has recorded the refusal. ``reason`` is the machine-readable code, e.g. ``epoch-ahead``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class AgentStateError(StarformError):
    """The agent's state directory (its last good payload and its outbox) cannot be used."""


class DesiredStateSourceError(StarformError):
    """The desired-state source (Starbase, seen from Shuttle) could not be reached or answered badly."""


class ReportRefusedError(DesiredStateSourceError):
    """Starbase received a report and refused it for good (``409``, ``422``, ...): re-sending the
    same report cannot succeed. ``status`` is the HTTP status, ``reason`` Starbase's explanation."""

    def __init__(self, message: str, *, status: int, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class ClusterApiError(StarformError):
    """The Kubernetes API answered with an error.

    ``status`` is the HTTP status when there was one; ``retry_after`` the server's hint in seconds.
    """

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class ClusterNotFoundError(ClusterApiError):
    """The object (or its kind) does not exist on the cluster."""


class ClusterConflictError(ClusterApiError):
    """The write conflicted: already exists, stale resourceVersion, or a field-manager conflict."""


class ClusterUnavailableError(ClusterApiError):
    """The Kubernetes API could not be reached or is overloaded; retry with backoff."""


class RegistryError(StarformError):
    """An image registry could not answer as asked.

    ``reference`` names the image or repository concerned (never a credential); ``status`` is
    the HTTP status when there was one.
    """

    def __init__(self, message: str, *, reference: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.reference = reference
        self.status = status


class RegistryNotFoundError(RegistryError):
    """What was asked for is not in the registry."""


class RegistryTagNotFoundError(RegistryNotFoundError):
    """The tag (or the repository holding it) is unknown to the registry."""


class RegistryManifestNotFoundError(RegistryNotFoundError):
    """No manifest (or blob) with that digest: never pushed, deleted, or no manifest for the platform."""


class RegistryRepositoryNotFoundError(RegistryNotFoundError):
    """The repository is unknown to the registry."""


class RegistryUnauthorizedError(RegistryError):
    """The registry (or its token service) refused the credentials, or they lack the access asked."""


class RegistryRateLimitedError(RegistryError):
    """The registry answered 429; ``retry_after`` is its hint in seconds, when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        reference: str | None = None,
        status: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, reference=reference, status=status)
        self.retry_after = retry_after


class RegistryUnavailableError(RegistryError):
    """The registry could not be reached or failed on its side (5xx, timeout); retry with backoff."""


class RegistryRejectedError(RegistryError):
    """The registry refused a request as invalid (a bad manifest, a missing blob, deletes disabled)."""


class RegistryProtocolError(RegistryError):
    """The registry answered something unusable: a digest that does not match the bytes, an answer
    over its size limit, malformed JSON, a media type that is not a container image."""


class BuildError(StarformError):
    """The build service could not do what was asked (a failed *build* is a status, not an error)."""


class BuildNotFoundError(BuildError):
    """No build with that id."""


class BuildConflictError(BuildError):
    """A build with that id exists with a different request."""


class BuildUnavailableError(BuildError):
    """The build service could not be reached or failed on its side; retry with backoff."""


class BuildTransitionError(StarformError):
    """A build was asked to change state in a way §16.12 does not allow (from a terminal state,
    say)."""


class WebhookError(StarformError):
    """A Git webhook delivery that Starbase refuses."""


class WebhookSignatureError(WebhookError):
    """The delivery's ``X-Hub-Signature-256`` is missing, malformed or wrong (the body is untrusted)."""


class WebhookPayloadError(WebhookError, ValidationError):
    """A signed delivery whose payload is not what its event type promises; names the field."""


class WebhookRefusedError(WebhookError):
    """A signed, well-formed delivery that cannot be acted on (an unknown or suspended installation)."""


class BillingError(StarformError):
    """Billing failed: metering, rating, invoicing or collecting a payment."""


class SnapshotConflictError(BillingError):
    """A usage snapshot id was received before with other content (a retry must be identical)."""


class UsageAuditError(BillingError):
    """The usage audit trail could not be written or read; the caller retries."""


class PaymentProviderError(BillingError):
    """The payment provider refused or failed a call.

    ``retryable`` says whether the same call (same idempotency key) may succeed later;
    ``code`` is the provider's error code when it gave one. Messages carry no card data.
    """

    def __init__(self, message: str, *, retryable: bool, code: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class PaymentDeclinedError(PaymentProviderError):
    """A payment attempt was declined (the invoice stays open; dunning retries it)."""

    def __init__(self, message: str, *, code: str = "card_declined") -> None:
        super().__init__(message, retryable=False, code=code)


class WebhookVerificationError(BillingError):
    """A provider webhook failed signature verification or could not be parsed."""
