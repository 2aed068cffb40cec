"""The one plan pipeline: payload + live view → rendering + plan, shared by every caller.

``shuttle once``/``run`` (the reconcile), ``shuttle plan`` and ``starform plan`` all call
:func:`plan_desired_state`, so a preview runs the code of the real thing; :func:`plan_lines` and
:func:`plan_document` print a plan the same way everywhere, and :func:`reports_notice` says
when it holds only reports for a human. The running agent plans through
:class:`IncrementalPipeline`, the same pipeline remembering its last call (the same result,
redoing only what changed).
"""

from starform_core.pipeline.incremental import IncrementalPipeline, PipelineStep
from starform_core.pipeline.present import plan_document, plan_lines, reports_notice
from starform_core.pipeline.run import Kind, PipelineResult, plan_desired_state, rendered_kinds

__all__ = [
    "IncrementalPipeline",
    "Kind",
    "PipelineResult",
    "PipelineStep",
    "plan_desired_state",
    "plan_document",
    "plan_lines",
    "rendered_kinds",
    "reports_notice",
]
