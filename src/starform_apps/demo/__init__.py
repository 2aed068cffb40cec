"""The demo: the whole loop on embedded defaults, told as a timeline."""

from starform_apps.demo.local_starform import LocalStarform, open_local_starform
from starform_apps.demo.walkthrough import run_demo

__all__ = ["LocalStarform", "open_local_starform", "run_demo"]
